#!/usr/bin/env bash
# Install like a user: build the wheel, install it into a fresh venv on top of the shared torch
# base, then, from outside the source tree, run `e2mc-plugin list` and one training step of the
# CPU VICReg + E2MC recipe through solo-learn 1.0.6's own main_pretrain.py (recipe found by
# name through the wheel's hydra search path, host from --solo-src: pip does not install
# solo-learn's launchers). Nothing is fetched beyond the package registries.
#
#   scripts/check_wheel.sh            last line: "wheel: PASSED (...)" / "wheel: FAILED (...)"
#   KEEP=1 scripts/check_wheel.sh     keep the work folder (printed) for inspection
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
PYTHON=${PYTHON:-python3}
BASE=$E2MC_HOME/torch-2.14.1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/e2mc-wheel.XXXXXX")
[ "${KEEP:-0}" = 1 ] && echo "[wheel] work folder: $WORK" >&2 || trap 'rm -rf "$WORK"' EXIT
LOG=$WORK/log.txt
VENV=$WORK/venv
PINS=$ROOT/requirements/torch-pins.txt

step() { printf '[wheel] %s\n' "$*" >&2; }
fail() {
  tail -30 "$LOG" >&2
  echo "wheel: FAILED ($*)"
  exit 1
}

[ -f "$BASE/.stamp" ] || fail "no torch base at $BASE: run scripts/bootstrap_env.sh first"

# 1. A clean copy of the tree (tracked + untracked, not ignored): no stale build/ folder.
step "copying the source tree"
mkdir -p "$WORK/src"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$ROOT" && git ls-files -z -co --exclude-standard | tar --null -cf - -T -) | tar -xf - -C "$WORK/src"
else
  cp -r "$ROOT/." "$WORK/src"
fi

# 2. Fresh venv seeing the torch base through a .pth file (the resolver counts it as installed).
step "fresh venv on $BASE"
"$PYTHON" -m venv "$VENV" >>"$LOG" 2>&1 || fail "venv"
sp=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
"$BASE/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" > "$sp/_e2mc_torch_base.pth"
pip_q() { "$VENV/bin/pip" "$@" >>"$LOG" 2>&1; }
pip_q install -q -c "$PINS" "setuptools>=77.0.3,<81" || fail "setuptools"

# 3. Build without isolation (this venv's setuptools), install with its dependencies.
step "building the wheel"
pip_q wheel -q --no-deps --no-build-isolation -w "$WORK/dist" "$WORK/src" || fail "pip wheel"
WHEEL=$(ls "$WORK"/dist/e2mc_plugin-*.whl 2>/dev/null | head -1)
[ -n "$WHEEL" ] || fail "no wheel built"
step "installing $(basename "$WHEEL")"
pip_q install -q -c "$PINS" "$WHEEL" || fail "pip install wheel"

OUT=$WORK/outside
mkdir -p "$OUT"
cd "$OUT" || fail "cd"
export PYTHONPATH="" E2MC_PLUGIN_CONFIGS="" E2MC_PLUGIN_PATCHES=""
"$VENV/bin/python" - >>"$LOG" 2>&1 <<'EOF' || fail "import from site-packages"
import sysconfig
from pathlib import Path

import e2mc_plugin
from e2mc_plugin._resources import resource_dir, resource_origin

site = Path(sysconfig.get_paths()["purelib"]).resolve()
assert site in Path(e2mc_plugin.__file__).resolve().parents, e2mc_plugin.__file__
for name in ("configs", "patches"):
    assert resource_origin(name) == "installed package", (name, resource_origin(name))
assert (resource_dir("configs") / "cpu" / "vicreg_e2mc.yaml").is_file()
assert len(list(resource_dir("patches").glob("*.patch"))) >= 5
EOF

# 4. `e2mc-plugin list` from outside the tree.
step "e2mc-plugin list"
"$VENV/bin/e2mc-plugin" list > "$WORK/list.txt" 2>>"$LOG" || { cat "$WORK/list.txt" >>"$LOG"; fail "e2mc-plugin list"; }
cat "$WORK/list.txt" >>"$LOG"
for loader in mocov3_official dino_full dino_backbone barlowtwins_full barlowtwins_backbone; do
  grep -q "$loader" "$WORK/list.txt" || fail "e2mc-plugin list does not show $loader"
done
grep -q "recipes:.*installed package" "$WORK/list.txt" || fail "list: recipes not from the wheel"
loaders=$(grep -c '^  [a-z0-9_]\+ ' "$WORK/list.txt")

# 5. One step of configs/cpu/vicreg_e2mc.yaml through the 1.0.6 host's launcher.
if [ -z "$SOLO_LEARN_SRC" ] || [ ! -f "$SOLO_LEARN_SRC/main_pretrain.py" ]; then
  echo "wheel: PASSED (built, installed, list: $loaders loaders; one-step recipe SKIPPED: no solo-learn 1.0.6 source)"
  exit 0
fi
step "host 1.0.6 runtime (solo-learn's requirements.txt, from the registries)"
pip_q install -q -c "$PINS" "lightning==2.1.2" "torchmetrics==0.11.4" "setuptools>=77.0.3,<81" \
  einops timm scikit-learn wandb || fail "host runtime"
"$VENV/bin/python" - "$OUT/images" >>"$LOG" 2>&1 <<'EOF' || fail "images"
import sys
from pathlib import Path

import numpy as np
from PIL import Image

rng = np.random.default_rng(0)
for c in range(2):
    folder = Path(sys.argv[1]) / f"c{c}"
    folder.mkdir(parents=True)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")
EOF
step "one training step: e2mc-plugin pretrain --config-name cpu/vicreg_e2mc"
start=$SECONDS
WANDB_MODE=disabled OMP_NUM_THREADS=2 timeout 600 "$VENV/bin/e2mc-plugin" pretrain \
  --solo-src "$SOLO_LEARN_SRC" --config-name cpu/vicreg_e2mc \
  "data.train_path='$OUT/images'" "checkpoint.dir='$OUT/ckpt'" limit_train_batches=1 \
  >>"$LOG" 2>&1 || fail "one-step recipe through the host launcher"
ckpt=$(find "$OUT/ckpt" -name '*.ckpt' | head -1)
[ -n "$ckpt" ] && [ -n "$(find "$OUT/ckpt" -name args.json)" ] || fail "no checkpoint written"
"$VENV/bin/python" - "$ckpt" >>"$LOG" 2>&1 <<'EOF' || fail "checkpoint content"
import sys

import torch

ckpt = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
assert ckpt["global_step"] == 1, ckpt["global_step"]
assert any(k.startswith("backbone.") for k in ckpt["state_dict"])
EOF
echo "wheel: PASSED ($(basename "$WHEEL") in a fresh venv; list: $loaders loaders, recipes and patches from the installed package; cpu/vicreg_e2mc one step through host 1.0.6 main_pretrain.py in $((SECONDS - start)) s)"
