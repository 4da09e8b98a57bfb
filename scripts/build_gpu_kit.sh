#!/usr/bin/env bash
# `make gpu-kit`: write .gpu-kit/ (ignored by git, <= 60 MiB), what a torch + Lightning GPU image
# lacks to run scripts/gpu_check.sh without network: the pure-Python wheels of
# requirements/gpu-kit.txt, this repository's plugin as a wheel, and solo-learn main's source
# (from $SOLO_LEARN_SRC, the conventional clone or the source archive: scripts/env.sh; else a
# copy extracted into $E2MC_HOME, solo-learn-<commit>/). Run it
# where the package registries are reachable; the last line is "gpu-kit: BUILT ..." or
# "gpu-kit: FAILED (...)".
#
#   scripts/build_gpu_kit.sh [KIT_DIR]      (default: $E2MC_GPU_KIT, else .gpu-kit)
set -Eeuo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
PYTHON=${PYTHON:-python3}
KIT=${1:-${E2MC_GPU_KIT:-$ROOT/.gpu-kit}}
MAX_MIB=60
step() { printf '[gpu-kit] %s\n' "$*" >&2; }
fail() { echo "gpu-kit: FAILED ($1)"; exit 1; }

# Beyond scripts/env.sh's sources: a copy extracted earlier into E2MC_HOME (the set-up extracts the
# archive there; a machine without the archive beside the repository still has that copy).
if [ -z "$SOLO_LEARN_SRC" ] && [ -z "$E2MC_SOLO_SRC_GIVEN" ]; then
  for d in "$E2MC_HOME"/solo-learn-*/; do
    if [ -f "$d/setup.py" ] && [ -f "$d/main_pretrain.py" ]; then SOLO_LEARN_SRC=${d%/}; break; fi
  done
fi
[ -n "$SOLO_LEARN_SRC" ] || fail "${SOLO_MISSING:-no solo-learn main source}"
"$PYTHON" -m pip --version >/dev/null 2>&1 || fail "no pip for $PYTHON (set PYTHON=...)"
NEW=$(mktemp -d "$(dirname "$KIT")/.gpu-kit.new.XXXXXX")
chmod 755 "$NEW"
LOG=$NEW.log
trap 'rm -rf "$NEW" "$NEW.src"; rm -f "$LOG"' EXIT
pip_q() { "$PYTHON" -m pip "$@" --disable-pip-version-check >>"$LOG" 2>&1 || { tail -20 "$LOG" >&2; return 1; }; }

step "wheels of requirements/gpu-kit.txt (downloaded, or built when PyPI has only a source)"
pip_q wheel -q --no-deps -w "$NEW/wheels" -r "$ROOT/requirements/gpu-kit.txt" || fail "pip wheel -r requirements/gpu-kit.txt"

step "the plugin's wheel, from a clean copy of the tree (no stale build/)"
mkdir -p "$NEW.src"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$ROOT" && git ls-files -z -co --exclude-standard | tar --null -cf - -T -) | tar -xf - -C "$NEW.src"
else
  cp -r "$ROOT/." "$NEW.src"
fi
pip_q wheel -q --no-deps -w "$NEW/wheels" "$NEW.src" || fail "pip wheel of the plugin"

step "solo-learn main's source from $SOLO_LEARN_SRC"
commit=$(git -C "$SOLO_LEARN_SRC" rev-parse --short HEAD 2>/dev/null || true)
if [ -z "$commit" ]; then  # a source archive: its folder is named solo-learn-<commit>
  name=$(basename "$SOLO_LEARN_SRC"); [[ $name == solo-learn-* ]] && commit=${name#solo-learn-}
fi
mkdir -p "$NEW/solo-learn"
(cd "$SOLO_LEARN_SRC" && tar --exclude=.git --exclude=__pycache__ --exclude='*.pyc' --exclude='*.egg-info' -cf - .) \
  | tar -xf - -C "$NEW/solo-learn" || fail "copying $SOLO_LEARN_SRC"

step "manifest and README"
PYTHONPATH=$ROOT "$PYTHON" -m e2mc_plugin.gpucheck.kit write "$NEW" "$ROOT" ${commit:+--solo-commit "$commit"} >>"$LOG" 2>&1 \
  || { tail -5 "$LOG" >&2; fail "writing kit.json"; }
size=$(du -sk "$NEW" | cut -f1)
[ "$size" -le $((MAX_MIB * 1024)) ] || fail "the kit is $((size / 1024)) MiB, over $MAX_MIB MiB"
rm -rf "$KIT"
mv "$NEW" "$KIT"
echo "gpu-kit: BUILT $KIT ($((size / 1024)).$(((size % 1024) * 10 / 1024)) MiB: $(ls "$KIT/wheels" | wc -l) wheels, solo-learn ${commit:-source}); on the GPU node: scripts/gpu_check.sh OUT_DIR"
