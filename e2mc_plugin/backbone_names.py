"""How solo-learn names a method's online backbone, in its modules and its checkpoints: the one
place of these names.

Pure data and string functions (no imports), so that the checkpoint loaders and initialization
(:mod:`e2mc_plugin.checkpoints`) and the host profiles (:mod:`e2mc_plugin.solo.host.profile`) read
the same facts without importing each other.

* :data:`BACKBONE`: the name the checkpoint loaders emit (solo-learn 1.0.6: ``backbone.*`` and
  its momentum copy ``momentum_backbone.*``);
* :data:`LEGACY_BACKBONE`: solo-learn <= 1.0.2 calls the same modules ``encoder`` and
  ``momentum_encoder``.

A built model's own name comes from its host profile (``backbone_attr``, passed down by the host
adapter); for a model without one it is read from its keys (:func:`attr_of`).
"""

from __future__ import annotations

from typing import Iterable, List, Tuple

__all__ = ["BACKBONE", "KNOWN", "LEGACY_BACKBONE", "attr_of", "prefixes", "rename", "renames"]

#: the online backbone in the loaders' output (solo-learn 1.0.6 names)
BACKBONE = "backbone"
#: the online backbone in solo-learn <= 1.0.2 models and checkpoints
LEGACY_BACKBONE = "encoder"
#: every name a supported host gives the backbone, the loaders' first
KNOWN: Tuple[str, ...] = (BACKBONE, LEGACY_BACKBONE)


def prefixes(attr: str) -> Tuple[str, str]:
    """The key prefixes of the online backbone named ``attr`` and of its momentum copy."""
    return f"{attr}.", f"momentum_{attr}."


def renames(src: str, dst: str) -> List[Tuple[str, str]]:
    """``[(old prefix, new prefix)]`` renaming the backbone and its momentum copy."""
    return list(zip(prefixes(src), prefixes(dst), strict=True))


def rename(key: str, src: str, dst: str) -> str:
    """``key`` with a leading ``src`` backbone (or momentum copy) renamed to ``dst``."""
    for old, new in renames(src, dst):
        if key.startswith(old):
            return new + key[len(old) :]
    return key


def attr_of(keys: Iterable[str]) -> str:
    """The backbone name a state dict's ``keys`` use: the first of :data:`KNOWN` that heads a
    key (:data:`BACKBONE` when none does)."""
    heads = {key.split(".", 1)[0] for key in keys}
    return next((name for name in KNOWN if name in heads), BACKBONE)
