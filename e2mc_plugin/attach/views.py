"""The crops each aux set reads: ``views: large`` the first ``n_large``, ``all`` every one."""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

from torch import Tensor, nn

from e2mc_plugin.attach.capture import Capture

__all__ = ["apply_aux_sets"]


def apply_aux_sets(
    capture: Capture,
    groups: Sequence[Tuple[str, nn.Module]],
    n_large: int,
    n_all: int,
) -> List[Tuple[str, Dict[str, Tensor]]]:
    """Every aux set on its views of one step.

    Args:
        capture: the step's :class:`Capture` (stopped).
        groups: ``[(module path, AuxLossSet)]``.
        n_large: how many leading crops are the large ones (``views: large``).
        n_all: how many crops ``views: all`` reads (solo-learn: large + small crops; any
            Lightning module: every call captured).

    Returns:
        ``[(path, AuxLossSet output)]``: ``{"loss", "<label>/<term>"...}`` per group.

    Raises:
        ViewCountError: a group's module produced fewer than the views its set needs.
    """
    results = []
    for path, aux in groups:
        views = capture.views(path, max(n_all, n_large) if aux.wants_all_views else n_large)
        large = views[:n_large]
        results.append((path, aux(large, views if aux.wants_all_views else large)))
    return results
