"""solo-learn's learning-rate scaling with the number of processes Lightning really starts.

solo-learn 1.0.6 scales ``optimizer.lr`` (and ``classifier_lr``) in ``solo/args/pretrain.py`` and
``solo/args/linear.py`` by ``batch_size * len(cfg.devices) * num_nodes / 256``. ``len()`` is right
for a list of GPU ids only: ``devices=2`` crashes (an int has no ``len``), ``devices='2'`` scales
by ``len('2') = 1`` although Lightning starts 2 processes, and a list is refused by Lightning on
the CPU. :func:`scaling_by_device_count` lets ``parse_cfg`` see a list as long as the number of
processes (:func:`device_count`) and then puts the user's value back, which Lightning reads as it
always does: ``devices=2`` / ``devices='2'`` / ``devices=[0,1]`` / ``devices='0,1'`` all start two
processes per node and scale by 2, on the CPU and on GPUs alike.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
from typing import Any, Callable, Iterator, Optional

__all__ = ["device_count", "lr_scale", "scaling_by_device_count", "PARSERS"]

PARSERS = ("solo.args.pretrain", "solo.args.linear")  # modules whose parse_cfg scales the lr


def _visible_gpus() -> int:
    import torch

    return torch.cuda.device_count()


def device_count(devices: Any, accelerator: Optional[str] = "auto") -> Optional[int]:
    """Processes per node that Lightning's ``Trainer(devices=..., accelerator=...)`` starts.

    int N / digit string "N" -> N; list or "0,1,..." -> its length; -1, "-1", "auto" -> every
    visible GPU (1 on the CPU). None when the value is none of these (solo's ``len()`` is kept).
    """
    on_cpu = str(accelerator).lower() == "cpu"
    if isinstance(devices, bool):
        return None
    if isinstance(devices, (list, tuple)) or type(devices).__name__ == "ListConfig":
        return len(devices)
    if isinstance(devices, str):
        text = devices.strip()
        if text.isdigit():
            return int(text)
        if "," in text:
            parts = [p for p in text.split(",") if p.strip()]
            return len(parts) if all(p.strip().isdigit() for p in parts) else None
        if text in ("-1", "auto"):
            devices = -1
        else:
            return None
    if isinstance(devices, int):
        if devices > 0:
            return devices
        if devices == -1:
            return 1 if on_cpu else max(1, _visible_gpus())
    return None


def lr_scale(cfg: Any) -> float:
    """solo's lr factor ``batch_size x processes per node x num_nodes / 256``, counting the
    processes as Lightning starts them (:func:`device_count`; solo's ``len(devices)`` otherwise)."""
    n = device_count(cfg.get("devices"), cfg.get("accelerator", "auto"))
    if n is None:
        n = len(cfg.devices)
    return cfg.optimizer.batch_size * n * (cfg.get("num_nodes", 1) or 1) / 256


def _scaled(parse_cfg: Callable) -> Callable:
    @functools.wraps(parse_cfg)
    def parse_cfg_by_device_count(cfg):
        given = cfg.get("devices")
        n = device_count(given, cfg.get("accelerator", "auto"))
        if n is None:
            return parse_cfg(cfg)
        cfg.devices = list(range(n))  # what len() must see
        try:
            cfg = parse_cfg(cfg)
        finally:
            cfg.devices = given  # what Lightning reads
        return cfg

    parse_cfg_by_device_count.__e2mc_device_count__ = True
    return parse_cfg_by_device_count


@contextlib.contextmanager
def scaling_by_device_count() -> Iterator[None]:
    """Within the block, solo's ``parse_cfg`` (pretrain and linear) scales the lr by
    :func:`device_count`. Installed before the host's ``main_*.py`` runs (it imports
    ``parse_cfg`` by name); restored on exit."""
    saved = []
    for name in PARSERS:
        module = importlib.import_module(name)
        original = module.parse_cfg
        if not getattr(original, "__e2mc_device_count__", False):
            saved.append((module, original))
            module.parse_cfg = _scaled(original)
    try:
        yield
    finally:
        for module, original in saved:
            module.parse_cfg = original
