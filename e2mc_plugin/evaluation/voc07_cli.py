"""``e2mc-plugin voc07-svm CKPT --images DIR --train-list F --test-list F``: VOC07 SVM mAP.

CKPT is a checkpoint file of any format the plugin reads (a solo-learn ``.ckpt``, the official
VICReg / SwAV / SimSiam releases, torchvision weights) or a solo-learn run directory (its newest
``*.ckpt``; the backbone name comes from its ``args.json``). The backbone's globally pooled
features (2048-d for ResNet-50) of every listed image (resize 256, center crop 224, ImageNet
normalization) go to :func:`e2mc_plugin.evaluation.voc07.train_and_test_svms`.

List format (``--train-list`` / ``--test-list``), one image per line, whitespace-separated::

    # classes: aeroplane bicycle bird ...      (optional header; default: the 20 VOC07 classes)
    JPEGImages/000005.jpg 0 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0
    JPEGImages/000007.jpg 0 0 0 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0

path relative to ``--images``, then one label per class: 1 present, 0 absent, -1 difficult
(only difficult instances of that class in the image). ``--voc-root VOCdevkit/VOC2007`` reads
the devkit's ``ImageSets/Main/<class>_{trainval,test}.txt`` instead (their 1 / -1 / 0 become
1 / 0 / -1). Writes the per-class APs, chosen costs and the mAP as JSON (``--out``; an
existing file is kept unless ``--overwrite``).

Costs: ``--cost-grid paper`` (the default, the paper's A.2.3 / B.2.3 grid) or ``benchmark``
(Goyal et al.'s); ``--costs C1 C2 ...`` replaces the grid.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import warnings
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from e2mc_plugin.evaluation.voc07 import (
    COST_GRIDS,
    VOC07_CLASSES,
    CostSelectionWarning,
    train_and_test_svms,
)

__all__ = ["read_label_list", "read_voc_devkit", "load_backbone", "extract_features", "main"]


def read_label_list(path: Path) -> Tuple[List[str], np.ndarray, List[str]]:
    """(image paths, labels (n, K) int8, class names) of a list file (format in the module doc)."""
    classes: Optional[List[str]] = None
    paths, rows = [], []
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such list file")
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            head = line[1:].strip()
            if head.startswith("classes:"):
                classes = head[len("classes:") :].split()
            continue
        parts = line.split()
        try:
            values = [int(v) for v in parts[1:]]
        except ValueError:
            raise ValueError(f"{path}:{number}: labels must be 1, 0 or -1: {line!r}") from None
        if not values or set(values) - {1, 0, -1}:
            raise ValueError(f"{path}:{number}: expected 'PATH L1 ... LK' with L in 1/0/-1")
        paths.append(parts[0])
        rows.append(values)
    if not rows:
        raise ValueError(f"{path}: no images listed")
    widths = {len(r) for r in rows}
    names = classes or list(VOC07_CLASSES)
    if widths != {len(names)}:
        raise ValueError(
            f"{path}: every line needs {len(names)} labels (one per class: {' '.join(names)}); "
            f"found {sorted(widths)}"
        )
    return paths, np.asarray(rows, dtype=np.int8), names


def read_voc_devkit(root: Path, split: str) -> Tuple[List[str], np.ndarray, List[str]]:
    """VOC devkit ``ImageSets/Main/<class>_<split>.txt`` (1 / -1 / 0) -> paths, labels (1/0/-1)."""
    root = Path(root)
    ids: Optional[List[str]] = None
    columns = []
    for cls in VOC07_CLASSES:
        file = root / "ImageSets" / "Main" / f"{cls}_{split}.txt"
        if not file.is_file():
            raise FileNotFoundError(f"--voc-root {root}: no {file.relative_to(root)}")
        pairs = [line.split() for line in file.read_text().split("\n") if line.strip()]
        if any(len(p) != 2 or p[1] not in ("1", "0", "-1") for p in pairs):
            raise ValueError(f"{file}: expected lines 'IMAGE_ID FLAG' with FLAG 1, 0 or -1")
        if ids is None:
            ids = [p[0] for p in pairs]
        elif [p[0] for p in pairs] != ids:
            first = file.with_name(f"{VOC07_CLASSES[0]}_{split}.txt")
            raise ValueError(f"{file} lists other images than {first}")
        devkit = np.asarray([int(p[1]) for p in pairs])
        columns.append(np.select([devkit == 1, devkit == 0], [1, -1], 0))
    paths = [f"JPEGImages/{i}.jpg" for i in ids or []]
    return paths, np.stack(columns, axis=1).astype(np.int8), list(VOC07_CLASSES)


def _checkpoint_file(ckpt: Path) -> Tuple[Path, Optional[str]]:
    """The checkpoint file and the backbone name recorded next to it (args.json), if any."""
    backbone = None
    if ckpt.is_dir():
        files = sorted(ckpt.glob("*.ckpt"), key=lambda p: p.stat().st_mtime)
        if not files:
            raise FileNotFoundError(f"{ckpt}: no *.ckpt file in this directory")
        args = ckpt / "args.json"
        if args.is_file():
            backbone = json.loads(args.read_text()).get("backbone", {}).get("name")
        ckpt = files[-1]
    return ckpt, backbone


def load_backbone(ckpt: Path, backbone: Optional[str] = None, *, trusted: bool = False):
    """A torchvision ResNet (fc = Identity) holding every ``backbone.*`` tensor of ``ckpt``."""
    import torchvision
    from torch import nn

    from e2mc_plugin.checkpoints import load_checkpoint

    path, recorded = _checkpoint_file(Path(ckpt))
    name = backbone or recorded or "resnet50"
    where = "--backbone" if backbone else f"{path.parent / 'args.json'} backbone.name"
    if not backbone and not recorded:
        where = "--backbone (default)"
    if not name.startswith("resnet") or not hasattr(torchvision.models, name):
        raise ValueError(f"{where} {name!r}: voc07-svm supports torchvision ResNets")
    model = getattr(torchvision.models, name)()
    model.fc = nn.Identity()
    state = load_checkpoint(str(path), trusted=trusted).state_dict
    weights = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
    if not weights:
        raise ValueError(f"{path}: no backbone.* tensors")
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as err:
        detail = " ".join(str(err).split("\n", 1)[-1].split())
        detail = detail if len(detail) <= 300 else detail[:300] + " ..."
        raise ValueError(
            f"{path}: its backbone.* tensors do not fit {where} {name}: {detail}"
        ) from None
    return model.eval()


def extract_features(model, images: Path, paths: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """(n, D) pooled features of ``images / path`` for each path (eval mode, no gradient)."""
    import torch
    from PIL import Image
    from torchvision import transforms

    prep = transforms.Compose(
        [
            transforms.Resize(256),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        ]
    )
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for start in range(0, len(paths), batch_size):
            batch = [
                prep(Image.open(Path(images) / p).convert("RGB"))
                for p in paths[start : start + batch_size]
            ]
            out.append(model(torch.stack(batch).to(device)).float().cpu())
    return torch.cat(out).numpy()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="e2mc-plugin voc07-svm", description=__doc__.split("\n")[0])
    p.add_argument("ckpt", type=Path, help="checkpoint file or solo-learn run directory")
    p.add_argument("--images", type=Path, help="root the list paths are relative to")
    p.add_argument("--train-list", type=Path, help="trainval list (format: module doc)")
    p.add_argument("--test-list", type=Path, help="test list")
    p.add_argument("--voc-root", type=Path, help="VOCdevkit/VOC2007: read its ImageSets instead")
    p.add_argument("--backbone", help="torchvision ResNet name (default: args.json, else resnet50)")
    p.add_argument(
        "--cost-grid",
        choices=tuple(COST_GRIDS),
        default="paper",
        help="named C grid: paper (A.2.3 / B.2.3, default) or benchmark (Goyal et al. 2019)",
    )
    p.add_argument("--costs", type=float, nargs="+", help="C values (replace --cost-grid)")
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--ap", choices=("interpolated", "11point"), default="interpolated")
    p.add_argument("--jobs", type=int, default=1, help="classes trained in parallel")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--trusted", action="store_true", help="allow full pickle loading")
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    return p


def _check_options(args: argparse.Namespace) -> None:
    """Refuse, before any work, options that would fail after it (naming the option)."""
    if args.folds < 2:
        raise ValueError(f"--folds {args.folds}: cross-validation needs at least 2 folds")
    if args.costs is not None and not all(c > 0 for c in args.costs):
        raise ValueError(f"--costs {' '.join(map(str, args.costs))}: every C must be > 0")
    if args.out is not None:
        if args.out.exists() and not args.overwrite:
            raise ValueError(f"--out {args.out}: the file exists (pass --overwrite to replace it)")
        if not args.out.parent.is_dir():
            raise ValueError(f"--out {args.out}: no folder {args.out.parent}")


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _check_options(args)
        if args.voc_root is not None:
            images = args.images or args.voc_root
            train = read_voc_devkit(args.voc_root, "trainval")
            test = read_voc_devkit(args.voc_root, "test")
        elif args.images and args.train_list and args.test_list:
            images = args.images
            train, test = read_label_list(args.train_list), read_label_list(args.test_list)
        else:
            print("error: give --voc-root, or --images with --train-list and --test-list",
                  file=sys.stderr)  # fmt: skip
            return 2
        if train[2] != test[2]:
            raise ValueError(
                f"{args.train_list or 'trainval'} names the classes {' '.join(train[2])}, "
                f"{args.test_list or 'test'} names {' '.join(test[2])}"
            )
        model = load_backbone(args.ckpt, args.backbone, trusted=args.trusted).to(args.device)
        for paths in (train[0], test[0]):
            missing = [p for p in paths if not (Path(images) / p).is_file()]
            if missing:
                raise FileNotFoundError(
                    f"--images {images}: {len(missing)} listed image(s) not found, e.g. "
                    f"{missing[0]}"
                )
        train_x = extract_features(model, images, train[0], args.batch_size)
        test_x = extract_features(model, images, test[0], args.batch_size)
        costs = args.costs if args.costs is not None else COST_GRIDS[args.cost_grid]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CostSelectionWarning)  # printed below as notes
            result = train_and_test_svms(
                train_x, train[1], test_x, test[1], costs=costs, classes=train[2],
                folds=args.folds, ap=args.ap, jobs=args.jobs,
            )  # fmt: skip
    except (OSError, ValueError, pickle.UnpicklingError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for note in result.notes.values():
        print(f"note: {note}", file=sys.stderr)
    for name, ap in zip(result.classes, result.test_ap, strict=True):
        print(f"{name:<12} AP {100 * ap:6.2f}")
    print(f"mAP {100 * result.mean_ap:.2f}")
    if args.out:
        args.out.write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    return 0
