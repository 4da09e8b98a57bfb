"""AuxLossSet: the several named auxiliary losses a host method holds, summed into one term."""

from __future__ import annotations

from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

from torch import Tensor, nn

from e2mc_plugin.aux_losses.base import AuxLoss, zero_loss
from e2mc_plugin.criteria.checks import NonFiniteError


def unique_labels(names: Iterable[str]) -> list:
    """``["e2mc", "vcreg", "e2mc"]`` -> ``["e2mc", "vcreg", "e2mc_2"]``."""
    seen: Dict[str, int] = {}
    labels = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return labels


class AuxLossSet(nn.Module):
    """Several named losses, each with its own weights and views, summed.

    ``forward(large, all_views)`` gives each member the 2 full-resolution crops (``views="large"``)
    or every crop (``views="all"``) and returns ``{"loss": sum of members' losses,
    "<label>/loss": ..., "<label>/<term>": ...}``. Labels are the registry names, ``name_2``,
    ``name_3``... for repeats. An empty set returns ``{"loss": 0}`` (a constant scalar outside the
    graph); the host adapter skips calling it then.
    """

    def __init__(
        self, members: Union[Sequence[AuxLoss], Mapping[str, AuxLoss], None] = None
    ) -> None:
        super().__init__()
        if members is None:
            members = []
        if isinstance(members, Mapping):
            items: Sequence[Tuple[str, AuxLoss]] = list(members.items())
        else:
            members = list(members)
            for i, member in enumerate(members):
                if not isinstance(member, AuxLoss):
                    raise TypeError(
                        f"AuxLossSet member {i} must be an AuxLoss, got {type(member).__name__}"
                    )
            labels = unique_labels(m.name or type(m).__name__.lower() for m in members)
            items = list(zip(labels, members, strict=True))
        for label, member in items:
            if not isinstance(member, AuxLoss):
                raise TypeError(
                    f"AuxLossSet member {label!r} must be an AuxLoss, got {type(member).__name__}"
                )
            if "/" in label or "." in label:
                raise ValueError(f"AuxLossSet label {label!r} must not contain '/' or '.'")
        self.losses = nn.ModuleDict(dict(items))

    @property
    def wants_all_views(self) -> bool:
        """True if any member computes on every crop (``views="all"``)."""
        return any(m.views == "all" for m in self.losses.values())

    @property
    def labels(self) -> list:
        return list(self.losses.keys())

    def __len__(self) -> int:
        return len(self.losses)

    def forward(
        self, large: Sequence[Tensor], all_views: Optional[Sequence[Tensor]] = None
    ) -> Dict[str, Tensor]:
        like = large[0] if len(large) else None
        out: Dict[str, Tensor] = {}
        total: Optional[Tensor] = None
        for label, member in self.losses.items():
            if member.views == "all":
                if all_views is None:
                    raise ValueError(
                        f"aux loss {label!r} uses views='all' but forward() got no all_views; "
                        "pass every crop as all_views"
                    )
                views = all_views
            else:
                views = large
            terms = member(views)
            for key, value in terms.items():
                out[f"{label}/{key}"] = value
            total = terms["loss"] if total is None else total + terms["loss"]
        out["loss"] = zero_loss(like) if total is None else total
        return out

    def raise_if_nonfinite(self) -> None:
        """Each member's :meth:`AuxLoss.raise_if_nonfinite` (one sync per member with the deferred
        check); the error names the member's label when it differs from the loss name."""
        for label, member in self.losses.items():
            try:
                member.raise_if_nonfinite()
            except NonFiniteError as err:
                if label == member.label:
                    raise
                raise NonFiniteError(f"aux loss {label!r}: {err}") from None

    def extra_repr(self) -> str:
        return f"labels={self.labels}"
