"""The paper's auxiliary-loss coefficients per host method: the one place this fact lives.

Source: Chakraborty, LeCun, Rudner, Learned-Miller, "Improving Pre-trained Self-Supervised
Embeddings Through Effective Entropy Maximization": the implementation details of each method,
Appendix A.1.1 / A.1.2 / A.1.3 (VICReg, SwAV, SimSiam) in the paper's first version, B.1.1 /
B.1.2 / B.1.3 in the later one; A.1.2 / B.1.2 also gives the coefficients of the ablation
criteria (VCReg, AUH, MMCR on SwAV, results in Table 3; the same values are used for every
method here). The reference launch scripts' argparse defaults differ from these: recipes state them
explicitly, and tests compare the recipes against this table.

Examples:
    >>> from e2mc_plugin.aux_losses.paper import paper_aux_spec
    >>> paper_aux_spec("vicreg", "e2mc")
    {'name': 'e2mc', 'beta': 1000.0, 'gamma': 100.0, 'mapping': 'sigmoid'}
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from e2mc_plugin.method_families import host_method

__all__ = ["PAPER_COEFFICIENTS", "paper_aux_spec", "describe_e2mc_coefficients"]

_ABLATIONS: Mapping[str, Mapping[str, Any]] = {
    "vcreg": {"mu": 0.1, "nu": 0.001},
    "auh": {"weight": 0.5, "t": 2.0},
    "mmcr": {"weight": 0.005},
}

#: method -> loss name -> keyword arguments of ``build_aux_loss`` (without ``name``).
PAPER_COEFFICIENTS: Mapping[str, Mapping[str, Mapping[str, Any]]] = {
    "vicreg": {"e2mc": {"beta": 1000.0, "gamma": 100.0, "mapping": "sigmoid"}, **_ABLATIONS},
    "swav": {"e2mc": {"beta": 1.0, "gamma": 25.0, "mapping": "gaussian_cdf"}, **_ABLATIONS},
    "simsiam": {
        "e2mc": {"beta": 0.001, "gamma": 0.01, "mapping": "gaussian_cdf"},
        **_ABLATIONS,
    },
}


def paper_aux_spec(method: str, loss: str) -> Dict[str, Any]:
    """``{"name": loss, **coefficients}`` for ``method`` (a host method name, ``_aux`` allowed).

    Raises ``KeyError`` naming the valid methods or losses.
    """
    base = host_method(method)
    if base not in PAPER_COEFFICIENTS:
        raise KeyError(
            f"no paper coefficients for method {method!r}; valid: {', '.join(PAPER_COEFFICIENTS)}"
        )
    losses = PAPER_COEFFICIENTS[base]
    if loss not in losses:
        raise KeyError(
            f"no paper coefficients for loss {loss!r} on {base}; valid: {', '.join(losses)}"
        )
    return {"name": loss, **losses[loss]}


_DISPLAY = {"vicreg": "VICReg", "swav": "SwAV", "simsiam": "SimSiam"}


def describe_e2mc_coefficients() -> str:
    """One line listing the paper's E2MC values per method (for error messages)."""
    parts = []
    for method, losses in PAPER_COEFFICIENTS.items():
        e = losses["e2mc"]
        name = _DISPLAY.get(method, method)
        parts.append(f"{name} beta={e['beta']:g} gamma={e['gamma']:g} mapping={e['mapping']!r}")
    return "paper values: " + "; ".join(parts)
