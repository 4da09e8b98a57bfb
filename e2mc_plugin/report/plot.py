"""``sweep.png``: accuracy against one coefficient (log axis), mean ± std over seeds as error
bars, one line per value of the other coefficients, the baseline ("continued") as a band."""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = ["plot_sweep"]

_COLOURS = ["#c44e52", "#4c72b0", "#55a868", "#8172b3", "#dd8452", "#937860", "#da8bc3"]


def _x_key(table: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> Optional[str]:
    """The coefficient with the most distinct values (ties: the first)."""
    counts = {k: len({r[k] for r in table if r.get(k, "") != ""}) for k in keys}
    return max(keys, key=lambda k: counts[k]) if keys else None


def plot_sweep(
    table: Sequence[Mapping[str, Any]],
    path: str,
    keys: Sequence[str],
    *,
    baseline: str = "continued",
    title: str = "",
) -> str:
    """Write the figure of a :func:`e2mc_plugin.report.table.sweep_table` to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_key = _x_key(table, keys)
    cells = list(dict.fromkeys((r["probe"], r["labels"]) for r in table))
    fig, axes = plt.subplots(
        1, max(1, len(cells)), figsize=(3.4 * max(1, len(cells)), 3.0), squeeze=False
    )
    for ax, (probe, labels) in zip(axes[0], cells, strict=False):
        here = [r for r in table if (r["probe"], r["labels"]) == (probe, labels)]
        for r in here:
            if r["model"] == baseline:
                lo, hi = r["mean_pct"] - r["std_pct"], r["mean_pct"] + r["std_pct"]
                ax.axhspan(lo, hi, color="grey", alpha=0.2, lw=0)
                ax.axhline(r["mean_pct"], color="grey", lw=1, label=f"{baseline} (± std)")
        series: Dict[Tuple, List[Mapping[str, Any]]] = defaultdict(list)
        for r in here:
            if r["model"] != baseline and x_key and r.get(x_key, "") != "":
                series[tuple((k, r[k]) for k in keys if k != x_key)].append(r)
        for colour, (other, rs) in zip(_COLOURS * 4, series.items(), strict=False):
            rs = sorted(rs, key=lambda r: float(r[x_key]))
            label = ", ".join(f"{k}={v:g}" for k, v in other if v != "") or "E2MC"
            ax.errorbar(
                [float(r[x_key]) for r in rs],
                [r["mean_pct"] for r in rs],
                yerr=[r["std_pct"] for r in rs],
                fmt="o-",
                color=colour,
                ms=4,
                lw=1.3,
                capsize=3,
                label=label,
            )
        xs = [float(r[x_key]) for r in here if x_key and r.get(x_key, "") != ""]
        if xs and min(xs) > 0:
            ax.set_xscale("log")
        elif xs:
            ax.set_xscale("symlog", linthresh=min([abs(x) for x in xs if x] or [1.0]))
        ax.set_title(f"{probe}, {labels * 100:g}% labels", fontsize=9)
        ax.set_xlabel(x_key or "coefficient", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    axes[0, 0].set_ylabel("top-1 (%)", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
