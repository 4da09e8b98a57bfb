"""The aux loss joins the host's loss, and its terms get their log names (one place for both)."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from torch import Tensor

__all__ = ["AUX_LOG_ROOT", "add_aux_loss", "aux_log_items"]

#: every aux metric is logged under this root: ``train_aux/loss``, ``train_aux/<label>/<term>``
AUX_LOG_ROOT = "train_aux"


def aux_log_items(
    results: Sequence[Tuple[str, Dict[str, Tensor]]], default_path: Optional[str]
) -> Tuple[Tensor, List[Tuple[str, Tensor]]]:
    """The summed aux loss and ``[(log name, detached value)]`` of one step.

    Names: ``train_aux/<label>/<term>`` (``<label>/loss`` included) for the group at
    ``default_path``, ``train_aux/<path>/<label>/<term>`` and ``train_aux/<path>/loss`` for
    any other embedding, and ``train_aux/loss`` (the sum over groups) last.
    """
    if not results:
        raise ValueError("aux_log_items: no aux results (an empty aux configuration adds nothing)")
    total: Optional[Tensor] = None
    items: List[Tuple[str, Tensor]] = []
    for path, res in results:
        total = res["loss"] if total is None else total + res["loss"]
        prefix = "" if path == default_path else f"{path}/"
        for key, value in res.items():
            if key != "loss" or prefix:
                items.append((f"{AUX_LOG_ROOT}/{prefix}{key}", value.detach()))
    assert total is not None
    items.append((f"{AUX_LOG_ROOT}/loss", total.detach()))
    return total, items


def add_aux_loss(out: Any, total: Tensor, owner: str = "training_step") -> Tuple[Any, Any]:
    """``(output with the aux loss added, the loss that will be backpropagated)``.

    ``out`` is what the host's training step returned: a loss tensor, or a mapping with
    ``"loss"`` (other entries are kept). ``None`` (the host skips this step) stays ``None``.
    """
    if out is None:
        return None, None
    if isinstance(out, Tensor):
        loss = out + total
        return loss, loss
    if isinstance(out, Mapping) and "loss" in out:
        loss = out["loss"] + total
        return dict(out, loss=loss), loss
    what = (
        f"a mapping with keys {sorted(map(str, out))}"
        if isinstance(out, Mapping)
        else (f"a {type(out).__name__}")
    )
    raise TypeError(
        f"{owner} returned {what}; the aux loss is added to a returned loss tensor or to the "
        "'loss' entry of a returned dict"
    )
