#!/usr/bin/env bash
# The GPU check, on a node without network: run from the repository root with the kit
# (`make gpu-kit`, .gpu-kit/) beside it, with the node's own python3 and torch.
#
#   scripts/gpu_check.sh OUT_DIR            on a GPU node (CUDA): parts a, b, d, c in <= 8 min
#   scripts/gpu_check.sh --cpu OUT_DIR      the dry run: the same parts at tiny sizes, no CUDA
#   options: --parts a,c   --budget SECONDS   --no-kit (use this environment as it is)
#   env: PYTHON (default python3), E2MC_GPU_KIT (default .gpu-kit)
#
# The kit's wheels are checked against kit.json and unpacked into a temporary folder put first on
# PYTHONPATH (after this tree, so the plugin's code is the tree's), with solo-learn main's source
# from the kit. Each part runs in its own process (e2mc_plugin/gpucheck/runner.py); together they
# write OUT_DIR/gpu_check.json, OUT_DIR/gpu_check.md and OUT_DIR/logs/. Exit status 0 when every
# part passed.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PYTHON=${PYTHON:-python3}
KIT=${E2MC_GPU_KIT:-$ROOT/.gpu-kit}
usage="usage: scripts/gpu_check.sh [--cpu] [--parts a,b,d,c] [--budget S] [--no-kit] OUT_DIR"
fail() { echo "gpu check: FAILED ($1)" >&2; exit 2; }

CPU=() PARTS=() BUDGET=() USE_KIT=1 OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) CPU=(--cpu) ;;
    --parts) [ $# -ge 2 ] || fail "$usage"; PARTS=(--parts "$2"); shift ;;
    --budget) [ $# -ge 2 ] || fail "$usage"; BUDGET=(--budget "$2"); shift ;;
    --no-kit) USE_KIT=0 ;;
    -h | --help) echo "$usage"; exit 0 ;;
    -*) fail "unknown option '$1'; $usage" ;;
    *) [ -z "$OUT" ] || fail "one OUT_DIR only; $usage"; OUT=$1 ;;
  esac
  shift
done
[ -n "$OUT" ] || fail "$usage"
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd -P) || fail "cannot create OUT_DIR $OUT"
command -v "$PYTHON" >/dev/null 2>&1 || fail "no '$PYTHON' on PATH (set PYTHON=/path/to/python3)"
"$PYTHON" -c 'import torch' >/dev/null 2>&1 || fail "'$PYTHON' cannot import torch: use the node's own python3 (PYTHON=...)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/e2mc-gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
start=$SECONDS
if [ $USE_KIT = 1 ]; then
  [ -f "$KIT/kit.json" ] || fail "no kit at $KIT: run 'make gpu-kit' where the package registries are reachable and bring .gpu-kit/ with the repository (or --no-kit in an environment that has everything)"
  echo "[gpu-check] installing the kit into $WORK/site (offline)" >&2
  PYTHONPATH=$ROOT "$PYTHON" -m e2mc_plugin.gpucheck.kit install "$KIT" "$WORK/site" >&2 \
    || fail "the kit at $KIT could not be installed (the line above says why)"
  export PYTHONPATH="$ROOT:$WORK/site:$KIT/solo-learn${PYTHONPATH:+:$PYTHONPATH}"
  export SOLO_LEARN_SRC="$KIT/solo-learn" E2MC_GPU_KIT="$KIT" E2MC_GPU_KIT_SITE="$WORK/site"
  echo "[gpu-check] kit installed in $((SECONDS - start)) s" >&2
fi
export WANDB_MODE=disabled PYTHONUNBUFFERED=1
cd "$ROOT" || fail "cd $ROOT"
"$PYTHON" -m e2mc_plugin.gpucheck --out "$OUT" --repo "$ROOT" --work "$WORK/parts" \
  "${CPU[@]}" "${PARTS[@]}" "${BUDGET[@]}"
code=$?
echo "[gpu-check] done in $((SECONDS - start)) s (exit status $code)" >&2
exit $code
