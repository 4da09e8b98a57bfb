#!/usr/bin/env bash
# Create (idempotently) the environments the plugin, its demo and its tests run in (layout:
# scripts/env.sh). Shared by every checkout on the machine: the torch base and each host's
# dependency venv. Per checkout: a small venv per host holding this checkout's plugin (editable),
# so two checkouts never run each other's code.
#
#   host 1.0.2   solo-learn 1.0.2 from PyPI (--no-deps) + pinned compatibility stack
#   host 1.0.6   solo-learn main from $SOLO_LEARN_SRC, the conventional clone, the source archive
#                next to the repository, or (when none is there and the network allows) fetched
#                from GitHub at the tested commit; without any it is skipped with one line saying
#                how to provide it, and the 1.0.2 host carries on
#
# Each environment has a stamp; an unchanged one is skipped, so a re-run takes seconds. Every
# failure ends with one line "[bootstrap] FAILED: <what> -- <what to do>".
#
#   scripts/bootstrap_env.sh [--dry-run] [1.0.2|1.0.6|all]   (default: all)
#   --dry-run   resolve everything (the solo-learn source included) and print the plan, with every
#               removal the real run would make; builds, removes and fetches nothing
# After the set-up, scripts/prune_envs.sh removes what is provably unused, of the hosts set up only
# (a `1.0.2` set-up never touches a 1.0.6 environment); see there for the rules.
#   E2MC_FETCH_SOLO=0   never try to fetch solo-learn main from GitHub
set -Eeuo pipefail

log() { printf '[bootstrap] %s\n' "$*" >&2; }
fail() { log "FAILED: $1 -- $2"; exit 1; }
# Anything not caught below still ends with the one line (once: not again in the parent shell).
trap '[ "$BASHPID" != "$$" ] || fail "unexpected error at scripts/bootstrap_env.sh line $LINENO ($BASH_COMMAND)" "re-run with: bash -x scripts/bootstrap_env.sh, and report its output"' ERR

DRY=0
WHICH=all
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY=1 ;;
    all | 1.0.2 | 1.0.6) WHICH=$arg ;;
    *) fail "unknown argument '$arg'" "usage: scripts/bootstrap_env.sh [--dry-run] [all|1.0.2|1.0.6]" ;;
  esac
done
wants() { [ "$WHICH" = all ] || [ "$WHICH" = "$1" ]; }

source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
PYTHON=${PYTHON:-python3}
OVERLAY_RECIPE=2  # 2: the environment lock (scripts/env_lock.py)

# --- prerequisites -------------------------------------------------------------------------------
command -v "$PYTHON" >/dev/null 2>&1 \
  || fail "no Python interpreter '$PYTHON' on PATH" "install Python >= 3.10, or set PYTHON=/path/to/python3"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1 \
  || fail "'$PYTHON' is not a working Python >= 3.10 ($("$PYTHON" -V 2>&1 | head -1 || true))" "install Python >= 3.10, or set PYTHON=/path/to/python3"
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 \
  || fail "'$PYTHON' has no venv/ensurepip module" "install it (Debian/Ubuntu: apt install python3-venv), or set PYTHON= to another interpreter"
mkdir -p "$E2MC_HOME" 2>/dev/null && [ -w "$E2MC_HOME" ] \
  || fail "cannot write to E2MC_HOME=$E2MC_HOME" "set E2MC_HOME to a writable folder with about 7 GB free"
TORCH_PINS=$(grep -Ev '^\s*(#|$)' "$ROOT/requirements/torch-pins.txt" | xargs)

if [ $DRY = 0 ] && command -v flock >/dev/null 2>&1; then
  exec 9>"$E2MC_HOME/.bootstrap.lock"
  flock -n 9 || { log "waiting for another set-up using $E2MC_HOME to finish"; flock 9; }
fi

# --- helpers -------------------------------------------------------------------------------------
# Run pip quietly; on failure show its output (minus local-index noise) and stop with one line.
quiet_pip() {  # quiet_pip WHAT CMD...
  local what=$1 out; shift
  out=$(mktemp)
  if ! "$@" >"$out" 2>&1; then
    grep -v "^WARNING: Location 'file://" "$out" | tail -40 >&2 || true
    rm -f "$out"
    fail "pip could not install $what" "see pip's output above; check the package index (pip config list), the network and the free space in $E2MC_HOME, then re-run"
  fi
  rm -f "$out"
}
new_venv() {  # new_venv DIR [venv options]
  local dir=$1; shift
  rm -rf "$dir"
  "$PYTHON" -m venv "$@" "$dir" >/dev/null 2>&1 \
    || fail "cannot create a virtual environment at $dir with $PYTHON" "check that $PYTHON -m venv works there (apt install python3-venv) and the free space"
}
site_of() { "$1/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"; }
up_to_date() { [ -f "$1/.stamp" ] && [ "$(cat "$1/.stamp")" = "$2" ]; }

# --- the shared torch base -----------------------------------------------------------------------
ensure_base() {
  local stamp
  stamp=$(echo "$TORCH_PINS $("$PYTHON" -V 2>&1)" | sha256sum | cut -c1-16)
  if up_to_date "$BASE" "$stamp"; then log "torch base: ready ($BASE)"; return 0; fi
  if [ $DRY = 1 ]; then log "torch base: would create $BASE ($TORCH_PINS, ~5.5 GB)"; return 0; fi
  log "torch base: creating $BASE ($TORCH_PINS, ~5.5 GB)"
  new_venv "$BASE"
  quiet_pip "the torch base ($TORCH_PINS)" "$BASE/bin/pip" install -q $TORCH_PINS
  "$BASE/bin/python" -c "import torch, torchvision" >/dev/null 2>&1 \
    || fail "the torch base at $BASE does not import torch and torchvision" "remove $BASE and re-run"
  echo "$stamp" >"$BASE/.stamp"
}

# --- a host's dependencies, shared by the checkouts whose requirements hash the same ---------------
ensure_deps() {  # ensure_deps VERSION; sets DEPS
  local v=$1
  DEPS=$(deps_venv "$v")
  if [ -f "$DEPS/.stamp" ]; then log "host $v: dependencies ready ($DEPS)"; return 0; fi
  if [ $DRY = 1 ]; then log "host $v: would build its dependencies (shared by checkouts): $DEPS"; return 0; fi
  log "host $v: building its dependencies (shared by checkouts): $DEPS"
  new_venv "$DEPS"
  site_of "$BASE" >"$(site_of "$DEPS")/_e2mc_torch_base.pth"
  # torch-pins.txt keeps every resolver step on the shared torch (a loose pin elsewhere would
  # otherwise pull a second 5 GB torch into the venv).
  quiet_pip "requirements/host-$v.txt" "$DEPS/bin/pip" install -q -c "$ROOT/requirements/torch-pins.txt" -r "$ROOT/requirements/host-$v.txt"
  # host-<v>-no-deps.txt (optional): test packages whose declared dependencies would swap or
  # duplicate the pinned stack (lightly 1.6.0 would add pytorch_lightning beside lightning 2.1.2);
  # what they import is in host-<v>.txt already.
  if [ -f "$ROOT/requirements/host-$v-no-deps.txt" ]; then
    quiet_pip "requirements/host-$v-no-deps.txt" "$DEPS/bin/pip" install -q --no-deps -r "$ROOT/requirements/host-$v-no-deps.txt"
  fi
  if [ "$v" = 1.0.2 ]; then
    quiet_pip "solo-learn 1.0.2" "$DEPS/bin/pip" install -q --no-deps "solo-learn==1.0.2"
  fi
  (cd / && "$DEPS/bin/python" -c "import torch; assert torch.__version__.startswith('2.14.1'), torch.__version__" >/dev/null 2>&1) \
    || fail "host $v: the dependency venv $DEPS does not import torch 2.14.1 from the base" "remove $DEPS and $BASE, then re-run"
  echo "$v" >"$DEPS/.stamp"
}

# --- this checkout's environment: the plugin (editable) on top of the shared dependencies ----------
# Which checkout its environments belong to, and on which machine (read by prune_envs.sh).
record_checkout() {
  mkdir -p "$CHECKOUT_ENVS"
  echo "$ROOT" >"$CHECKOUT_ENVS/checkout"
  echo "$MACHINE" >"$CHECKOUT_ENVS/machine"
}
ensure_checkout_env() {  # ensure_checkout_env VERSION [SOLO_SRC]
  local v=$1 solo=${2:-} venv stamp deps_site check
  venv=$(host_venv "$v")
  stamp=$( { cat "$ROOT/setup.cfg" "$ROOT/setup.py" "$ROOT/pyproject.toml" "$ROOT/scripts/env_lock.py" \
    ${solo:+"$solo/setup.py"} 2>/dev/null || true
    echo "$ROOT $DEPS $solo $OVERLAY_RECIPE"; } | sha256sum | cut -c1-16)
  if up_to_date "$venv" "$stamp" && [ -f "$DEPS/.stamp" ]; then
    [ $DRY = 1 ] || record_checkout
    log "host $v: ready ($venv)"; return 0
  fi
  if [ $DRY = 1 ]; then
    log "host $v: would build this checkout's environment $venv (plugin editable${solo:+, solo-learn main from $solo})"
    return 0
  fi
  log "host $v: building this checkout's environment $venv"
  record_checkout
  # No pip of its own: pip, setuptools and everything else come from the deps venv, which this
  # one sees through site.addsitedir (so the deps venv's own .pth files, the torch base, apply).
  new_venv "$venv" --without-pip
  deps_site=$(site_of "$DEPS")
  "$venv/bin/python" -c 'import sys; print("import site; site.addsitedir(%r)" % sys.argv[1])' "$deps_site" \
    >"$(site_of "$venv")/_e2mc_deps.pth"
  echo "$DEPS" >"$venv/.deps"
  # every Python process of the environment holds it and its deps (prune skips them)
  cp "$ROOT/scripts/env_lock.py" "$(site_of "$venv")/_e2mc_env_lock.py"
  echo "import _e2mc_env_lock" >"$(site_of "$venv")/_e2mc_env_lock.pth"
  if [ -n "$solo" ]; then
    quiet_pip "solo-learn main from $solo (editable)" "$venv/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$solo"
  fi
  quiet_pip "the plugin from $ROOT (editable)" "$venv/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$ROOT"
  check='import importlib.metadata as m, os, sys, torch, solo, e2mc_plugin
assert torch.__version__.startswith("2.14.1"), torch.__version__
assert os.path.realpath(e2mc_plugin.__file__).startswith(sys.argv[1] + os.sep), e2mc_plugin.__file__
dists = [d for d in m.distributions() if d.metadata["Name"] == "e2mc-plugin"]
assert len(dists) == 1, f"{len(dists)} e2mc-plugin distributions visible"'
  (cd / && env -u PYTHONPATH "$venv/bin/python" -c "$check" "$ROOT" >/dev/null 2>&1) \
    || fail "host $v: $venv does not import torch 2.14.1, solo and this checkout's e2mc_plugin" "remove $venv and re-run; if it persists, remove $DEPS too"
  echo "$stamp" >"$venv/.stamp"
  log "host $v: ready ($venv)"
}

# --- solo-learn main from GitHub (only when nothing local has it; never required) -----------------
fetch_solo() {
  local marker=$E2MC_HOME/.solo-fetch-failed tmp
  [ "${E2MC_FETCH_SOLO:-1}" != 0 ] && [ -z "$E2MC_SOLO_SRC_GIVEN" ] && [ ! -e "$SOLO_CLONE" ] || return 0
  command -v git >/dev/null 2>&1 || return 0
  if [ -n "$(find "$marker" -mmin -1440 2>/dev/null || true)" ]; then
    SOLO_MISSING="$SOLO_MISSING; fetching it from GitHub failed less than a day ago"; return 0
  fi
  if [ $DRY = 1 ]; then log "solo-learn main: would try to fetch ${SOLO_COMMIT:0:7} from $SOLO_REPO into $SOLO_CLONE"; return 0; fi
  log "solo-learn main: not found locally; fetching ${SOLO_COMMIT:0:7} from $SOLO_REPO into $SOLO_CLONE (at most 3 min; E2MC_FETCH_SOLO=0 skips this)"
  tmp=$(mktemp -d "$E2MC_HOME/.fetch.XXXXXX")
  if GIT_TERMINAL_PROMPT=0 timeout 30 git ls-remote "$SOLO_REPO" HEAD >/dev/null 2>&1 \
    && git -C "$tmp" init -q && git -C "$tmp" remote add origin "$SOLO_REPO" \
    && GIT_TERMINAL_PROMPT=0 timeout 150 git -C "$tmp" fetch -q --depth 1 origin "$SOLO_COMMIT" >/dev/null 2>&1 \
    && git -C "$tmp" -c advice.detachedHead=false checkout -q FETCH_HEAD && [ -f "$tmp/setup.py" ]; then
    mv "$tmp" "$SOLO_CLONE"
    rm -f "$marker"
    log "solo-learn main: fetched into $SOLO_CLONE"
    resolve_solo_src
  else
    rm -rf "$tmp"
    touch "$marker"
    SOLO_MISSING="$SOLO_MISSING; fetching it from GitHub failed (no network?)"
  fi
}

# --- the plan ------------------------------------------------------------------------------------
[ $DRY = 0 ] || log "dry run: resolving only, nothing is built ($ROOT, E2MC_HOME=$E2MC_HOME)"
USES=()  # the deps venv each environment set up here names (kept by the prune)
ensure_base
if wants 1.0.2; then
  ensure_deps 1.0.2
  ensure_checkout_env 1.0.2
  USES+=(--uses "1.0.2=$DEPS")
fi
if wants 1.0.6; then
  [ -n "$SOLO_LEARN_SRC" ] || fetch_solo
  if [ -n "$SOLO_LEARN_SRC" ]; then
    log "host 1.0.6: solo-learn main from $(solo_src_origin)"
    ensure_deps 1.0.6
    ensure_checkout_env 1.0.6 "$SOLO_LEARN_SRC"
    USES+=(--uses "1.0.6=$DEPS")
  else
    log "host 1.0.6: SKIPPED ($SOLO_MISSING); carrying on with host 1.0.2"
  fi
fi
if [ $DRY = 1 ]; then
  bash "$ROOT/scripts/prune_envs.sh" --dry-run "${USES[@]}" "$WHICH"
  log "dry run: done"; exit 0
fi
bash "$ROOT/scripts/prune_envs.sh" "${USES[@]}" "$WHICH"

# Say how to reach the command: the environments are plain venvs, nothing is put on PATH.
for h in 1.0.6 1.0.2; do
  wants "$h" && [ -x "$(host_venv "$h")/bin/e2mc-plugin" ] || continue
  if [ "$h" = 1.0.6 ]; then what="e2mc-plugin pretrain|linear|knn|umap|convert|demo"; else what="the Python API (e2mc_plugin.solo.api), e2mc-plugin convert|demo"; fi
  log "host $h: source $(host_venv "$h")/bin/activate   # then: $what"
  log "          (or without activating: $(host_venv "$h")/bin/e2mc-plugin --help)"
done
