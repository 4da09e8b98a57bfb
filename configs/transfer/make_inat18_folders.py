"""Lay out iNaturalist 2018 as class folders for solo-learn's image-folder loader.

    python make_inat18_folders.py /data/inat18 /data/inat18/train2018.json /data/inat_train
    python make_inat18_folders.py /data/inat18 /data/inat18/val2018.json /data/inat_val

(ROOT the folder the json's file_name entries are relative to, the json, OUT.)

Reads the official json (``images``: id, file_name; ``annotations``: image_id, category_id;
``categories``: id), creates ``OUT/<category id, 4 digits>/`` for EVERY category (so train and val
folders index the 8142 classes identically: solo sorts folder names) and links each image there
(symlinks; ``INAT_LINK=hard`` for hard links). Standard library only.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def make_folders(root: Path, annotations: Path, out: Path, hard: bool = False) -> int:
    """Link every annotated image of ``annotations`` under ``out``; returns the number linked."""
    data = json.loads(Path(annotations).read_text())
    files = {image["id"]: image["file_name"] for image in data["images"]}
    categories = sorted(c["id"] for c in data["categories"])
    for cid in categories:
        (out / f"{cid:04d}").mkdir(parents=True, exist_ok=True)
    linked = 0
    for ann in data["annotations"]:
        src = (Path(root) / files[ann["image_id"]]).resolve()
        if not src.is_file():
            raise FileNotFoundError(f"missing image {src} (image_id {ann['image_id']})")
        dst = out / f"{ann['category_id']:04d}" / f"{ann['image_id']}_{src.name}"
        if not dst.exists():
            (os.link if hard else os.symlink)(src, dst)
        linked += 1
    return linked


def main(argv: list) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    root, annotations, out = map(Path, argv)
    n = make_folders(root, annotations, out, hard=os.environ.get("INAT_LINK") == "hard")
    print(f"{n} images in {sum(1 for _ in out.iterdir())} class folders under {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
