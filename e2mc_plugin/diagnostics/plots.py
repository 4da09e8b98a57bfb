"""Diagnostic figures comparing models' embeddings (matplotlib, Agg backend, PNG files).

Every function takes ``{model name: (n, d) array}`` (one entry per model, same examples in the
same order) and writes one PNG; colours by class are consistent across panels (tab10).

- :func:`plot_marginal_histograms`: histograms of mapped marginals Psi(z_j) on [0, 1], a few dims.
- :func:`plot_marginal_scatter`: random 2-D marginals (Psi(z_i), Psi(z_j)) coloured by class
  (paper Figure 2 / D.1).
- :func:`plot_neighbour_distances`: nearest vs k-th nearest neighbour distances (paper Figure 3).
- :func:`plot_entropy_per_dim`: sorted per-dimension m-spacings entropies.
- :func:`write_diagnostics`: all of the above + ``entropy_summary.json`` for a set of models.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from e2mc_plugin.diagnostics.stats import (
    entropy_summary,
    map_embeddings,
    neighbour_distances,
    per_dim_entropy,
)

__all__ = [
    "plot_marginal_histograms",
    "plot_marginal_scatter",
    "plot_neighbour_distances",
    "plot_entropy_per_dim",
    "write_diagnostics",
    "format_entropy_table",
]

_MODEL_COLOURS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _check(models: Mapping[str, np.ndarray]) -> Tuple[int, int]:
    if not models:
        raise ValueError("no embeddings to plot")
    shapes = {name: np.shape(z) for name, z in models.items()}
    first = next(iter(shapes.values()))
    if len(first) != 2 or any(s != first for s in shapes.values()):
        raise ValueError(f"expected (n, d) arrays of one shape, got {shapes}")
    return first  # type: ignore[return-value]


def _save(fig, path: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def pick_dims(d: int, count: int, seed: int = 0) -> np.ndarray:
    """``count`` distinct random dimensions out of ``d`` (sorted), reproducible."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(d, size=min(count, d), replace=False))


def plot_marginal_histograms(
    mapped: Mapping[str, np.ndarray],
    path: str,
    *,
    dims: Optional[Sequence[int]] = None,
    n_dims: int = 6,
    bins: int = 30,
    seed: int = 0,
) -> str:
    """One panel per dimension, one step histogram per model, on [0, 1] (density; uniform = 1)."""
    plt = _pyplot()
    _, d = _check(mapped)
    dims = pick_dims(d, n_dims, seed) if dims is None else np.asarray(dims)
    cols = min(3, len(dims))
    rows = int(np.ceil(len(dims) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.7 * rows), squeeze=False)
    edges = np.linspace(0.0, 1.0, bins + 1)
    for ax, j in zip(axes.flat, dims, strict=False):
        for c, (name, x) in zip(_MODEL_COLOURS, mapped.items(), strict=False):
            ax.hist(x[:, j], bins=edges, density=True, histtype="step", lw=1.6, color=c, label=name)
        ax.axhline(1.0, color="grey", ls=":", lw=1, label="uniform")
        ax.set_title(f"dim {j}", fontsize=9)
        ax.set_xlim(0, 1)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(dims) :]:
        ax.axis("off")
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper right", ncol=len(names), fontsize=7)
    fig.suptitle("Mapped marginals Psi(z_j): histograms (density)", fontsize=10, x=0.3, ha="center")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return _save(fig, path)


def plot_marginal_scatter(
    mapped: Mapping[str, np.ndarray],
    labels: np.ndarray,
    path: str,
    *,
    pairs: Optional[Sequence[Tuple[int, int]]] = None,
    n_pairs: int = 4,
    seed: int = 0,
    max_points: int = 2000,
) -> str:
    """Rows = models, columns = random dimension pairs; colour = class (Figure 2 / D.1)."""
    plt = _pyplot()
    n, d = _check(mapped)
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    rng = np.random.default_rng(seed)
    if pairs is None:
        pairs = [tuple(rng.choice(d, size=2, replace=False)) for _ in range(n_pairs)]
    keep = np.sort(rng.choice(n, size=min(n, max_points), replace=False))
    classes = np.unique(labels)
    cmap = plt.get_cmap("tab10" if classes.size <= 10 else "tab20")
    colour_of = {c: cmap(i % cmap.N) for i, c in enumerate(classes)}
    colours = np.array([colour_of[c] for c in labels[keep]])
    rows, cols = len(mapped), len(pairs)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows), squeeze=False)
    for r, (name, x) in enumerate(mapped.items()):
        for c, (i, j) in enumerate(pairs):
            ax = axes[r, c]
            ax.scatter(x[keep, i], x[keep, j], c=colours, s=4, alpha=0.7, linewidths=0)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_aspect("equal")
            ax.tick_params(labelsize=6)
            ax.set_xlabel(f"dim {i}", fontsize=7)
            ax.set_ylabel(f"{name}\ndim {j}" if c == 0 else f"dim {j}", fontsize=7)
    handles = [
        plt.Line2D([], [], marker="o", ls="", color=colour_of[c], label=str(c), markersize=4)
        for c in classes
    ]
    fig.legend(handles=handles, loc="center right", fontsize=7, title="class", title_fontsize=7)
    fig.suptitle("Random 2-D marginals of the mapped embeddings, coloured by class", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.93, 1))
    return _save(fig, path)


def plot_neighbour_distances(
    embeddings: Mapping[str, np.ndarray],
    path: str,
    *,
    k: int = 20,
    bins: int = 40,
    normalize: bool = True,
) -> str:
    """One panel per model: histograms of distances to the nearest and to the k-th neighbour."""
    plt = _pyplot()
    _check(embeddings)
    dists = {name: neighbour_distances(z, k, normalize=normalize) for name, z in embeddings.items()}
    hi = max(float(dk.max()) for _, dk in dists.values())
    edges = np.linspace(0.0, hi * 1.02 + 1e-12, bins + 1)
    fig, axes = plt.subplots(
        1, len(dists), figsize=(3.8 * len(dists), 2.9), squeeze=False, sharey=True
    )
    for ax, (name, (d1, dk)) in zip(axes[0], dists.items(), strict=False):
        ax.hist(
            d1, bins=edges, alpha=0.6, color="#4c72b0", label=f"1st NN (median {np.median(d1):.3f})"
        )
        ax.hist(
            dk,
            bins=edges,
            alpha=0.6,
            color="#dd8452",
            label=f"{k}-th NN (median {np.median(dk):.3f})",
        )
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("distance" + (" (L2-normalized)" if normalize else ""), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("count", fontsize=8)
    fig.suptitle(f"Nearest vs {k}-th nearest neighbour distances", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_entropy_per_dim(entropies: Mapping[str, np.ndarray], path: str) -> str:
    """Per-dimension entropies sorted in decreasing order, one curve per model (0 = uniform)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 3.0))
    for c, (name, h) in zip(_MODEL_COLOURS, entropies.items(), strict=False):
        ax.plot(
            np.sort(np.asarray(h))[::-1], color=c, lw=1.6, label=f"{name} (mean {np.mean(h):.3f})"
        )
    ax.axhline(0.0, color="grey", ls=":", lw=1, label="uniform (max)")
    ax.set_xlabel("dimension (sorted)", fontsize=8)
    ax.set_ylabel("m-spacings entropy", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    ax.set_title("Per-dimension entropy of the mapped embeddings", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def format_entropy_table(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """Plain-text table of :func:`entropy_summary` rows."""
    keys = ["mean", "min", "q05", "median", "q95", "max", "n_below_minus1"]
    width = max(8, *(len(n) for n in summaries))
    lines = [f"{'model':<{width}} " + " ".join(f"{k:>9}" for k in keys)]
    for name, s in summaries.items():
        cells = [f"{s[k]:>9d}" if isinstance(s[k], int) else f"{s[k]:>9.4f}" for k in keys]
        lines.append(f"{name:<{width}} " + " ".join(cells))
    return "\n".join(lines)


def write_diagnostics(
    projections: Mapping[str, np.ndarray],
    labels: np.ndarray,
    out_dir: str,
    *,
    features: Optional[Mapping[str, np.ndarray]] = None,
    mapping: str = "sigmoid",
    k: int = 20,
    seed: int = 0,
    prefix: str = "",
) -> Dict[str, Any]:
    """All diagnostic figures for a set of models, plus ``{prefix}entropy_summary.json``.

    Args:
        projections: {model: (n, d) projector outputs z} (what the auxiliary loss sees).
        labels: (n,) class ids, for the scatter colours.
        out_dir: destination folder (created).
        features: {model: (n, D) backbone features} for the neighbour distances; defaults to
            ``projections``.
        mapping: the Psi applied before histograms / scatters / entropies.
        k: the k of the k-th nearest neighbour.
    Returns:
        ``{"pngs": [paths], "entropy": {model: summary}, "summary_path": path}``.
    """
    os.makedirs(out_dir, exist_ok=True)
    mapped = {name: map_embeddings(z, mapping) for name, z in projections.items()}
    p = lambda name: os.path.join(out_dir, f"{prefix}{name}")  # noqa: E731
    pngs = [
        plot_marginal_histograms(mapped, p("marginal_histograms.png"), seed=seed),
        plot_marginal_scatter(mapped, labels, p("marginal_scatter.png"), seed=seed),
        plot_neighbour_distances(
            features if features is not None else projections, p("neighbour_distances.png"), k=k
        ),
        plot_entropy_per_dim(
            {name: per_dim_entropy(x) for name, x in mapped.items()}, p("entropy_per_dim.png")
        ),
    ]
    summaries = {name: entropy_summary(x) for name, x in mapped.items()}
    summary_path = p("entropy_summary.json")
    with open(summary_path, "w") as f:
        json.dump({"mapping": mapping, "models": summaries}, f, indent=2)
    return {"pngs": pngs, "entropy": summaries, "summary_path": summary_path}
