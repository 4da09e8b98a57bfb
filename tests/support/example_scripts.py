"""Helpers of the tests of ``examples/*.py``: a script loaded as a module, and random images."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Optional

REPO = Path(__file__).resolve().parents[2]


def load_example(name: str) -> ModuleType:
    """``examples/<name>.py`` as a module (its ``main(argv)`` runs in this process: Lightning is
    imported once)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_images(root: Path, n: int, side: int, classes: Optional[int] = None) -> Path:
    """``n`` PNGs of uniform random ``side`` x ``side`` RGB pixels (seed 0): ``root/img_<i>.png``,
    or ``root/class_<i % classes>/img_<i>.png`` (an image folder) when ``classes`` is given."""
    import torch
    from PIL import Image

    gen = torch.Generator().manual_seed(0)
    for i in range(n):
        folder = root / f"class_{i % classes}" if classes else root
        folder.mkdir(parents=True, exist_ok=True)
        pixels = torch.randint(0, 256, (side, side, 3), generator=gen, dtype=torch.uint8)
        Image.fromarray(pixels.numpy()).save(folder / f"img_{i}.png")
    return root
