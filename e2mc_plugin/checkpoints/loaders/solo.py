"""solo-learn's own Lightning checkpoints: 1.0.6 (``backbone.*``) and <= 1.0.2 (``encoder.*``;
the names: :mod:`e2mc_plugin.backbone_names`)."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from torch import Tensor

from e2mc_plugin.backbone_names import BACKBONE, LEGACY_BACKBONE, attr_of, renames
from e2mc_plugin.checkpoints.absent import ABSENT_RECORD_KEY, recorded_absent
from e2mc_plugin.checkpoints.loaders.base import is_tensor_dict, rename, unwrap
from e2mc_plugin.checkpoints.registry import CheckpointLoader, register_checkpoint_loader
from e2mc_plugin.checkpoints.report import LoadReport

# Not carried into continued pretraining: the online classifiers (trained for the source
# dataset's classes; a fresh one is trained online) and the memory banks / queues, which hold
# embeddings of the previous run and are rebuilt (their sizes depend on batch size and world size).
_DROP = [
    "classifier.",
    "momentum_classifier.",
    "queue",  # queue, queue_y, queue_ptr, queue_index
    "local_memory_",  # DeepClusterV2 memory bank
]


def _state(raw: Any) -> Any:
    return unwrap(raw, "state_dict", flat=False)[0]


def _convert(raw: Mapping, renamed: List[Tuple[str, Optional[str]]]):
    """Renamed tensors; the keys the file records as absent in its original source (a converted
    official file, a run initialized from one) stay listed as such."""
    state, report = unwrap(raw, "state_dict", flat=False)
    report.dropped = [k for k in report.dropped if k != ABSENT_RECORD_KEY]
    rules: List[Tuple[str, Optional[str]]] = [(p, None) for p in _DROP] + renamed + [("", "")]
    state = rename(state, rules, report)
    report.absent_in_source = recorded_absent(raw, report)
    return state, report


@register_checkpoint_loader("solo")
class Solo(CheckpointLoader):
    """solo-learn 1.0.6 ``*.ckpt``: names kept, classifier / queues / optimizer state dropped."""

    layout = "solo-learn (main / 1.0.6 layout) Lightning checkpoint: state_dict = backbone.*, heads"

    def detect(self, raw: Any) -> bool:
        state = _state(raw)
        return is_tensor_dict(state) and any(k.startswith(f"{BACKBONE}.") for k in state)

    def convert(self, raw: Any) -> Tuple[Dict[str, Tensor], LoadReport]:
        return _convert(raw, [])


@register_checkpoint_loader("solo_legacy")
class SoloLegacy(CheckpointLoader):
    """solo-learn <= 1.0.2 ``*.ckpt``: ``encoder.`` / ``momentum_encoder.`` become ``backbone.``."""

    layout = "solo-learn (<= 1.0.2 layout) Lightning checkpoint: state_dict = encoder.*, heads"

    def detect(self, raw: Any) -> bool:
        state = _state(raw)
        return is_tensor_dict(state) and attr_of(state) == LEGACY_BACKBONE

    def convert(self, raw: Any) -> Tuple[Dict[str, Tensor], LoadReport]:
        return _convert(raw, renames(LEGACY_BACKBONE, BACKBONE))
