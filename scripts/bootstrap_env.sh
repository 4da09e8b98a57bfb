#!/usr/bin/env bash
# Create (idempotently) the environments the plugin, its demo and its tests run in.
#
#   $E2MC_HOME/torch-2.14.1   torch + torchvision, shared by every host venv through a .pth file
#   $E2MC_HOME/host-1.0.2     solo-learn 1.0.2 from PyPI (--no-deps) + pinned compatibility stack
#   $E2MC_HOME/host-1.0.6     solo-learn main from $SOLO_LEARN_SRC, the conventional clone, or the
#                             shared source archive (scripts/env.sh says which, in that order)
#
# Each step writes a stamp holding the hash of its inputs; an unchanged step is skipped, so a
# re-run takes seconds. Usage: scripts/bootstrap_env.sh [1.0.2|1.0.6|all]   (default: all)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
PYTHON=${PYTHON:-python3}
TORCH_PINS=$(grep -Ev '^\s*(#|$)' "$ROOT/requirements/torch-pins.txt" | xargs)
BASE=$E2MC_HOME/torch-2.14.1
WHICH=${1:-all}
mkdir -p "$E2MC_HOME"

log() { printf '[bootstrap] %s\n' "$*" >&2; }
# Run a pip command quietly; on failure show its output (minus local-index noise) and stop.
quiet_pip() {
  local out; out=$(mktemp)
  if ! "$@" >"$out" 2>&1; then
    grep -v "^WARNING: Location 'file://" "$out" | tail -40 >&2; rm -f "$out"
    log "failed: $*"; exit 1
  fi
  rm -f "$out"
}
stamp_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }
up_to_date() { [ -f "$1/.stamp" ] && [ "$(cat "$1/.stamp")" = "$2" ]; }

ensure_base() {
  local stamp; stamp=$(echo "$TORCH_PINS $($PYTHON -V 2>&1)" | sha256sum | cut -c1-16)
  up_to_date "$BASE" "$stamp" && return 0
  log "creating $BASE ($TORCH_PINS, ~5.5 GB from local disk)"
  rm -rf "$BASE"; "$PYTHON" -m venv "$BASE"
  quiet_pip "$BASE/bin/pip" install -q $TORCH_PINS
  "$BASE/bin/python" -c "import torch, torchvision" || { log "torch base is broken"; exit 1; }
  echo "$stamp" > "$BASE/.stamp"
}

# make_host_venv NAME REQUIREMENTS SOLO_SPEC
make_host_venv() {
  local name=$1 req=$2 solo=$3 venv=$E2MC_HOME/host-$1
  local nodeps=${req%.txt}-no-deps.txt src_rev=""
  if [ -d "$solo" ]; then src_rev=$(cd "$solo" && { git rev-parse HEAD 2>/dev/null || find . -name '*.py' -newer setup.py | wc -l; }); fi
  local stamp; stamp=$( { stamp_of "$ROOT/requirements/common.txt" "$ROOT/requirements/torch-pins.txt" "$ROOT/$req" "$ROOT/$nodeps" "$ROOT/setup.cfg" "$ROOT/scripts/bootstrap_env.sh"; echo "$ROOT $solo $src_rev"; cat "$BASE/.stamp"; } | sha256sum | cut -c1-16)
  if up_to_date "$venv" "$stamp"; then log "host $name: up to date ($venv)"; return 0; fi
  log "host $name: building $venv"
  [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
  local sp; sp=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  "$BASE/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" > "$sp/_e2mc_torch_base.pth"
  # torch-pins.txt keeps every resolver step on the shared torch (a loose pin elsewhere would
  # otherwise pull a second 5 GB torch into the venv).
  (cd "$ROOT/requirements" && quiet_pip "$venv/bin/pip" install -q -c torch-pins.txt -r "$ROOT/$req")
  # <req>-no-deps.txt (optional): test packages whose declared dependencies would swap or duplicate
  # the pinned stack; what they import is in <req> already.
  if [ -f "$ROOT/$nodeps" ]; then
    (cd "$ROOT/requirements" && quiet_pip "$venv/bin/pip" install -q --no-deps -r "$ROOT/$nodeps")
  fi
  if [ -d "$solo" ]; then
    quiet_pip "$venv/bin/pip" install -q --no-deps --no-build-isolation -e "$solo"
  else
    quiet_pip "$venv/bin/pip" install -q --no-deps "$solo"
  fi
  quiet_pip "$venv/bin/pip" install -q --no-deps --no-build-isolation -e "$ROOT"
  (cd / && "$venv/bin/python" -c "import torch, solo, e2mc_plugin; assert torch.__version__.startswith('2.14.1'), torch.__version__" 2>/dev/null) \
    || { log "host $name: import check failed (torch, solo, e2mc_plugin)"; exit 1; }
  log "host $name: ready ($venv)"
  echo "$stamp" > "$venv/.stamp"
}

ensure_base
case "$WHICH" in all|1.0.2) make_host_venv 1.0.2 requirements/host-1.0.2.txt "solo-learn==1.0.2" ;; esac
case "$WHICH" in all|1.0.6)
  if [ -n "${SOLO_LEARN_SRC:-}" ] && [ -f "${SOLO_LEARN_SRC}/setup.py" ]; then
    make_host_venv 1.0.6 requirements/host-1.0.6.txt "$(cd "$SOLO_LEARN_SRC" && pwd -P)"
  else
    log "host 1.0.6: skipped (no solo-learn main source: set SOLO_LEARN_SRC, clone into $E2MC_HOME/solo-learn-src, or provide ../shared/hosts/solo-learn-*.tar.gz)"
  fi ;;
esac

# Say how to reach the command: the environments are plain venvs, nothing is put on PATH.
for h in 1.0.6 1.0.2; do
  case "$WHICH" in all|"$h") ;; *) continue ;; esac
  [ -x "$E2MC_HOME/host-$h/bin/e2mc-plugin" ] || continue
  if [ "$h" = 1.0.6 ]; then what="e2mc-plugin pretrain|linear|knn|umap|convert|demo"; else what="the Python API (e2mc_plugin.solo.api), e2mc-plugin convert|demo"; fi
  log "host $h: source $E2MC_HOME/host-$h/bin/activate   # then: $what"
  log "          (or without activating: $E2MC_HOME/host-$h/bin/e2mc-plugin --help)"
done
