"""configs/transfer/make_inat18_folders.py: iNat18 json -> class folders with aligned indexes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "configs" / "transfer" / "make_inat18_folders.py"


def _dataset(tmp_path: Path) -> Path:
    root = tmp_path / "inat"
    (root / "train_val2018" / "Plantae" / "7").mkdir(parents=True)
    (root / "train_val2018" / "Aves" / "12").mkdir(parents=True)
    (root / "train_val2018" / "Plantae" / "7" / "a.jpg").write_bytes(b"a")
    (root / "train_val2018" / "Aves" / "12" / "a.jpg").write_bytes(b"b")  # same base name
    data = {
        "images": [
            {"id": 1, "file_name": "train_val2018/Plantae/7/a.jpg"},
            {"id": 2, "file_name": "train_val2018/Aves/12/a.jpg"},
        ],
        "annotations": [{"image_id": 1, "category_id": 7}, {"image_id": 2, "category_id": 12}],
        "categories": [{"id": 7}, {"id": 12}, {"id": 100}],
    }
    (root / "val2018.json").write_text(json.dumps(data))
    return root


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def test_every_category_gets_a_folder_and_images_are_linked(tmp_path):
    root = _dataset(tmp_path)
    out = tmp_path / "val"
    res = _run(root, root / "val2018.json", out)
    assert res.returncode == 0, res.stderr
    # all categories (100 has no image here), zero-padded so the sort order is numeric
    assert sorted(p.name for p in out.iterdir()) == ["0007", "0012", "0100"]
    linked = sorted(str(p.relative_to(out)) for p in out.rglob("*.jpg"))
    assert linked == ["0007/1_a.jpg", "0012/2_a.jpg"]
    assert (out / "0012" / "2_a.jpg").read_bytes() == b"b"
    assert "2 images in 3 class folders" in res.stdout


def test_a_missing_image_is_an_error(tmp_path):
    root = _dataset(tmp_path)
    (root / "train_val2018" / "Aves" / "12" / "a.jpg").unlink()
    res = _run(root, root / "val2018.json", tmp_path / "val")
    assert res.returncode != 0 and "missing image" in res.stderr
