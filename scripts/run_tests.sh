#!/usr/bin/env bash
# Create the environments if needed, then run the tests on every host present.
#   scripts/run_tests.sh          fast suite (default)
#   scripts/run_tests.sh ci       fast suite + the wheel check (scripts/check_wheel.sh; `make test`,
#                                 which .ci/run calls)
#   scripts/run_tests.sh slow     long end-to-end runs only
#   scripts/run_tests.sh portable the fast suite under ATEN_CPU_CAPABILITY=default: torch's
#                                 scalar CPU kernels, i.e. another CPU's rounding on this one
#                                 (`make test-portable`, which .ci/run calls after `make test`);
#                                 E2MC_TEST_PATHS narrows it to some test folders
# The suite runs in each host's environment: tests marked for the other host are deselected, the
# rest (pure math, adapter, loaders, recipes) run against that host's real classes. One summary
# line per host says whether its tests ran or were skipped, and why.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
SUITE=${1:-fast}
WHEEL_CHECK=0
case "$SUITE" in
  ci) SUITE=fast; WHEEL_CHECK=1; base_expr="not slow" ;;
  fast) base_expr="not slow" ;;
  slow) base_expr="slow" ;;
  portable) base_expr="not slow"; export ATEN_CPU_CAPABILITY=default ;;
  *) echo "usage: $0 [fast|ci|slow|portable]" >&2; exit 2 ;;
esac
TEST_PATHS=${E2MC_TEST_PATHS:-tests}
SUITE_NOTE="$SUITE suite${ATEN_CPU_CAPABILITY:+, ATEN_CPU_CAPABILITY=$ATEN_CPU_CAPABILITY}"
[ "$TEST_PATHS" = tests ] || SUITE_NOTE="$SUITE_NOTE, $TEST_PATHS"

if ! bash "$ROOT/scripts/bootstrap_env.sh" all; then
  echo "=== summary"
  echo "set-up: FAILED (the [bootstrap] FAILED line above says what and what to do); no tests ran"
  exit 1
fi
resolve_solo_src  # the set-up may have fetched solo-learn main

declare -a summary
status=0
run_host() {  # run_host VERSION MARK_EXPR
  local version=$1 expr=$2 venv rc host
  venv=$(host_venv "$version")
  # which solo-learn this is: its layout and source (a version string does not identify it)
  # (the solo package this venv imports: SOLO_LEARN_SRC names the launcher's checkout instead)
  host=$(cd "$ROOT" && env -u SOLO_LEARN_SRC "$venv/bin/python" -m e2mc_plugin.solo.host.detect 2>/dev/null | cut -d';' -f1-2)
  echo "=== host solo-learn $version: pytest -m \"$expr\""
  # shellcheck disable=SC2086  # TEST_PATHS is a list of folders
  (cd "$ROOT" && "$venv/bin/python" -m pytest -m "$expr" -q -rs --timeout 900 $TEST_PATHS)
  rc=$?
  if [ $rc -eq 0 ]; then summary+=("host $version: RAN, passed ($SUITE_NOTE; $host)")
  elif [ $rc -eq 5 ]; then summary+=("host $version: RAN, no test selected ($SUITE_NOTE; $host)")
  else summary+=("host $version: RAN, FAILED (pytest exit $rc; $SUITE_NOTE; $host)"); status=1; fi
}

if host_ready 1.0.2; then
  run_host 1.0.2 "$base_expr and not host106"
else
  summary+=("host 1.0.2: SKIPPED (environment missing)"); status=1
fi
if [ -n "$SOLO_LEARN_SRC" ] && host_ready 1.0.6; then
  run_host 1.0.6 "$base_expr and not host102"
else
  summary+=("host 1.0.6: SKIPPED (${SOLO_MISSING:-environment missing})")
fi
if [ $WHEEL_CHECK -eq 1 ]; then
  echo "=== wheel: build, install into a fresh venv, e2mc-plugin list + one recipe step"
  wheel_line=$(bash "$ROOT/scripts/check_wheel.sh" | tail -1)
  [[ $wheel_line == "wheel: PASSED"* ]] || status=1
  summary+=("${wheel_line:-wheel: FAILED (no result)}")
fi

echo "=== summary"
printf '%s\n' "${summary[@]}"
exit $status
