"""Numbers behind the diagnostic plots: mapped marginals, per-dimension entropy, neighbours.

Inputs are (n, d) arrays or tensors of embeddings; outputs are numpy arrays and plain dicts.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import torch

from e2mc_plugin.criteria import default_m, get_mapping, marginal_entropy

ArrayOrTensor = Union[np.ndarray, torch.Tensor]

__all__ = [
    "default_mapping",
    "map_embeddings",
    "per_dim_entropy",
    "entropy_summary",
    "neighbour_distances",
]


def _as_tensor(x: ArrayOrTensor) -> torch.Tensor:
    t = torch.as_tensor(x).detach().cpu()
    if t.ndim != 2:
        raise ValueError(f"expected an (n, d) embedding matrix, got shape {tuple(t.shape)}")
    return t.float()


def default_mapping(method: str) -> str:
    """The paper's E2MC mapping Psi for ``method`` (``gaussian_cdf`` for methods it omits)."""
    from e2mc_plugin.aux_losses.paper import PAPER_COEFFICIENTS

    return str(PAPER_COEFFICIENTS.get(method, {}).get("e2mc", {}).get("mapping", "gaussian_cdf"))


def map_embeddings(z: ArrayOrTensor, mapping: str = "sigmoid") -> np.ndarray:
    """Psi(z) in [0, 1]^d by a criteria mapping: sigmoid, gaussian_cdf or identity."""
    return get_mapping(mapping)(_as_tensor(z)).numpy()


def per_dim_entropy(mapped: ArrayOrTensor, m: Optional[int] = None) -> np.ndarray:
    """m-spacings (Vasicek) entropy of each column of the mapped embeddings; (n, d) -> (d,).

    Uniform on [0, 1] has entropy 0 (the maximum for a marginal supported in [0, 1]); a collapsed
    dimension gives about ``log(1e-7) = -16``.
    """
    with torch.no_grad():
        return marginal_entropy(_as_tensor(mapped), m=m).numpy().astype(np.float64)


def entropy_summary(mapped: ArrayOrTensor, m: Optional[int] = None) -> Dict[str, Any]:
    """Mean / min / max / quantiles of :func:`per_dim_entropy`, with ``n``, ``d`` and ``m``."""
    x = _as_tensor(mapped)
    n, d = x.shape
    h = per_dim_entropy(x, m=m)
    q = np.quantile(h, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {
        "n": int(n),
        "d": int(d),
        "m": int(default_m(n) if m is None else m),
        "mean": float(h.mean()),
        "min": float(h.min()),
        "q05": float(q[0]),
        "q25": float(q[1]),
        "median": float(q[2]),
        "q75": float(q[3]),
        "q95": float(q[4]),
        "max": float(h.max()),
        "n_below_minus1": int((h < -1.0).sum()),  # dimensions far from uniform (near-collapsed)
    }


def neighbour_distances(
    x: ArrayOrTensor, k: int = 20, *, normalize: bool = True
) -> Tuple[np.ndarray, np.ndarray]:
    """Distances of each point to its nearest and to its k-th nearest other point (paper Fig. 3).

    Euclidean, on L2-normalized rows when ``normalize`` (then ``d = sqrt(2 - 2 cos)``, in [0, 2]).
    Returns ``(d_1, d_k)``, each (n,).
    """
    t = _as_tensor(x).double()
    n = t.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, n - 1] = [1, {n - 1}], got {k}")
    if normalize:
        t = t / t.norm(dim=1, keepdim=True).clamp_min(1e-12)
    dist = torch.cdist(t, t)
    dist.fill_diagonal_(float("inf"))
    near = torch.topk(dist, k, dim=1, largest=False).values  # (n, k), ascending
    return near[:, 0].numpy(), near[:, k - 1].numpy()
