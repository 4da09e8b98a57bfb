"""What the continued stage compares: "continued" (``aux_losses: []``) against auxiliary-loss
variants, either the paper's coefficients (:func:`default_variants`) or a coefficient sweep
(:func:`sweep_variants` from ``--sweep beta=1,10,100,1000``; several ``--sweep`` make a grid)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Dict, List, Sequence, Tuple

from e2mc_plugin.demo.preset import DemoConfig, aux_spec

__all__ = ["Variant", "default_variants", "parse_sweep", "sweep_variants", "SWEEP_KEYS"]

#: the E2MC keyword arguments a sweep may vary
SWEEP_KEYS = ("beta", "gamma")


@dataclass(frozen=True)
class Variant:
    name: str
    aux_losses: Tuple[Dict[str, Any], ...] = ()
    coefficients: Dict[str, float] = field(default_factory=dict)  # the swept values, if any


def default_variants(dc: DemoConfig) -> List[Variant]:
    """``continued`` then ``+<loss>`` for every loss of ``dc.aux`` at the paper's coefficients."""
    return [Variant("continued")] + [
        Variant(f"+{name}", (aux_spec(name, dc.method),)) for name in dc.aux
    ]


def parse_sweep(specs: Sequence[str]) -> Dict[str, Tuple[float, ...]]:
    """``["beta=1,10", "gamma=5"]`` -> ``{"beta": (1.0, 10.0), "gamma": (5.0,)}``.

    Raises ``ValueError`` naming the bad item and the valid keys.
    """
    out: Dict[str, Tuple[float, ...]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        if not sep or key not in SWEEP_KEYS:
            raise ValueError(
                f"--sweep {spec!r}: expected KEY=V1,V2,... with KEY one of {', '.join(SWEEP_KEYS)}"
            )
        if key in out:
            raise ValueError(f"--sweep: {key} given twice")
        try:
            vals = tuple(float(v) for v in values.split(",") if v.strip())
        except ValueError:
            raise ValueError(f"--sweep {spec!r}: values must be numbers") from None
        if not vals:
            raise ValueError(f"--sweep {spec!r}: no values")
        out[key] = vals
    return out


def sweep_variants(dc: DemoConfig, grid: Dict[str, Tuple[float, ...]]) -> List[Variant]:
    """``continued`` then E2MC at every point of the grid (other keys: the paper's values)."""
    keys = list(grid)
    variants = [Variant("continued")]
    for values in itertools.product(*(grid[k] for k in keys)):
        coefs = dict(zip(keys, values, strict=True))
        name = "e2mc " + ",".join(f"{k}={v:g}" for k, v in coefs.items())
        variants.append(Variant(name, (aux_spec("e2mc", dc.method, **coefs),), coefs))
    return variants
