"""A tiny base release in the official layout of a row's method, for ``--smoke``.

The smoke run converts and continues it exactly as a real run does the official file (same
``convert --format``, same ``pretrained.format``): a torchvision ResNet of the CPU recipe's
backbone and the method's heads at the CPU recipe's widths (``configs/cpu/<method>_continued.yaml``,
``method_kwargs``), randomly initialized, under the release's key names (the loaders in
``e2mc_plugin/checkpoints/loaders/`` read them):

- ``vicreg_full``: ``{"model": {module.backbone.*, module.projector.{0,1,3,4,6}.*}}``, the last
  projector Linear without bias;
- ``swav_official``: flat ``module.<resnet>``, ``module.projection_head.{0,1,3}.*``,
  ``module.prototypes.weight``;
- ``simsiam_official``: ``{"state_dict": {module.encoder.<resnet>, module.encoder.fc.* (the
  projector), module.predictor.*}}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Mapping

__all__ = ["write_base_release"]


def _heads(method: str, kw: Mapping, features: int):
    from torch import nn

    hidden, out = int(kw["proj_hidden_dim"]), int(kw["proj_output_dim"])
    if method == "vicreg":
        projector = nn.Sequential(
            nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, out, bias=False),
        )  # fmt: skip
        return {"module.projector.": projector}
    if method == "swav":
        head = nn.Sequential(nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                             nn.Linear(hidden, out))  # fmt: skip
        prototypes = nn.Linear(out, int(kw["num_prototypes"]), bias=False)
        return {"module.projection_head.": head, "module.prototypes.": prototypes}
    if method == "simsiam":
        pred = int(kw["pred_hidden_dim"])
        fc = nn.Sequential(
            nn.Linear(features, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, out), nn.BatchNorm1d(out, affine=False),
        )  # fmt: skip
        predictor = nn.Sequential(nn.Linear(out, pred, bias=False), nn.BatchNorm1d(pred),
                                  nn.ReLU(), nn.Linear(pred, out))  # fmt: skip
        return {"module.encoder.fc.": fc, "module.predictor.": predictor}
    raise ValueError(f"no official layout for method {method!r} (vicreg, swav, simsiam)")


def write_base_release(method: str, recipe: Path, path: Path, seed: int = 0) -> Path:
    """Write a random base release of ``method`` shaped like the CPU ``recipe`` to ``path``."""
    import torch
    import torchvision
    import yaml

    cfg = yaml.safe_load(Path(recipe).read_text())
    torch.manual_seed(seed)
    backbone = getattr(torchvision.models, cfg["backbone"]["name"])()
    features = backbone.fc.in_features
    trunk = {k: v for k, v in backbone.state_dict().items() if not k.startswith("fc.")}
    prefix = {"vicreg": "module.backbone.", "swav": "module.", "simsiam": "module.encoder."}
    state: Dict[str, torch.Tensor] = {prefix[method] + k: v for k, v in trunk.items()}
    for head_prefix, module in _heads(method, cfg["method_kwargs"], features).items():
        state.update({head_prefix + k: v for k, v in module.state_dict().items()})
    container = {
        "vicreg": lambda s: {"model": s, "epoch": 1000},
        "swav": lambda s: s,
        "simsiam": lambda s: {"state_dict": s, "epoch": 100, "arch": cfg["backbone"]["name"]},
    }[method]
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(container(state), path)
    return path
