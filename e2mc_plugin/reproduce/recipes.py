"""What the plan reads from a recipe: epochs, batch, crops, precision, heads. Composed once.

The recipes under ``configs/`` hold the paper's protocol (``configs/PROTOCOL.md``); the plan asks
them rather than restating it: the global batch to keep when ``--devices`` changes, and the
epochs, crops and precision that the GPU-hour estimate multiplies
(:mod:`e2mc_plugin.reproduce.cost`). Composition is hydra's (``hydra.compose`` from the
``configs/`` root, as ``--config-name pretrain/vicreg/e2mc`` on the command line).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping, Optional, Tuple

__all__ = ["RecipeFacts", "recipe_facts"]

_VERSION_BASE = "1.2"  # the host launchers' @hydra.main(version_base="1.2")
REFERENCE_CROP = 224  # the crop the step time is measured at (bench/bench_gpu_step.py)


def _count_devices(devices: Any) -> int:
    """solo-learn's reading of ``devices``: a list or a comma-separated string of ids, or an int."""
    if isinstance(devices, int):
        return devices
    if isinstance(devices, str):
        return len([d for d in devices.split(",") if d.strip()])
    return len(devices)


@dataclass(frozen=True)
class RecipeFacts:
    """The values of one composed recipe that the plan uses."""

    name: str
    epochs: int
    batch_per_device: int
    devices: int
    precision: str
    crops: Tuple[Tuple[int, int], ...]  # (crop size, count) per augmentation pipeline
    method_kwargs: Mapping[str, Any]
    backbone: str
    finetune: bool
    head: Optional[Mapping[str, Any]]  # e2mc_linear.head (the iNat18 res5 head), if any

    @property
    def global_batch(self) -> int:
        """``optimizer.batch_size x len(devices)``: what solo's lr scaling and the paper fix."""
        return self.batch_per_device * self.devices

    @property
    def crop_factor(self) -> float:
        """Pixels per image over two 224-px crops: 1 for two 224 crops, about 1.55 for SwAV's
        2 x 224 + 6 x 96 (the step time is measured on two 224-px crops)."""
        if not self.crops:
            return 1.0
        pixels = sum(count * size**2 for size, count in self.crops)
        return pixels / (2 * REFERENCE_CROP**2)

    def batch_split(self, devices: int) -> int:
        """The per-device batch that keeps :attr:`global_batch` on ``devices`` devices."""
        if devices < 1 or self.global_batch % devices:
            raise ValueError(
                f"--devices {devices}: recipe {self.name} fixes the global batch "
                f"{self.global_batch}, which {devices} devices cannot split evenly"
            )
        return self.global_batch // devices


@lru_cache(maxsize=None)
def recipe_facts(name: str) -> RecipeFacts:
    """The facts of ``configs/<name>.yaml`` as hydra composes it (cached per name)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from e2mc_plugin._resources import resource_dir

    configs = resource_dir("configs")
    if configs is None:
        raise FileNotFoundError("no configs/ folder found (e2mc-plugin list shows where it looks)")
    if not (configs / f"{name}.yaml").is_file():
        raise FileNotFoundError(f"recipe {name!r}: no {configs / name}.yaml")
    with initialize_config_dir(config_dir=str(configs), version_base=_VERSION_BASE):
        cfg = compose(config_name=name)
    plain = OmegaConf.to_container(cfg, resolve=False, throw_on_missing=False)
    augmentations = plain.get("augmentations") or []
    linear = plain.get("e2mc_linear") or {}
    return RecipeFacts(
        name=name,
        epochs=int(plain["max_epochs"]),
        batch_per_device=int(plain["optimizer"]["batch_size"]),
        devices=_count_devices(plain.get("devices", 1)),
        precision=str(plain.get("precision", 32)),
        crops=tuple((int(a["crop_size"]), int(a["num_crops"])) for a in augmentations),
        method_kwargs=dict(plain.get("method_kwargs") or {}),
        backbone=str(plain["backbone"]["name"]),
        finetune=bool(plain.get("finetune", False)),
        head=linear.get("head"),
    )
