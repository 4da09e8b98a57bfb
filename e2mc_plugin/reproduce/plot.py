"""``deltas.png``: criterion - continued (points) per label fraction, ours beside the paper's.

matplotlib is optional (``pip install e2mc-plugin[plots]``): without it :func:`plot_deltas`
returns None and the caller prints one line.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from e2mc_plugin.reproduce.compare import Delta

__all__ = ["matplotlib_available", "plot_deltas"]


def matplotlib_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def plot_deltas(deltas: Sequence[Delta], titles: Mapping[str, str], path: Path) -> Optional[Path]:
    """One panel per row: bars of ours and the paper's delta at each label fraction, with error
    bars of one standard error. None when matplotlib is absent or there is nothing to plot."""
    if not deltas or not matplotlib_available():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows: Dict[str, List[Delta]] = {}
    for d in deltas:
        rows.setdefault(d.row, []).append(d)
    fig, axes = plt.subplots(1, len(rows), figsize=(3.6 * len(rows), 3.0), squeeze=False)
    for ax, (row, found) in zip(axes[0], rows.items(), strict=True):
        xs = range(len(found))
        for offset, who, colour in ((-0.18, "ours", "#c44e52"), (0.18, "paper", "#4c72b0")):
            est = [d.ours if who == "ours" else d.paper for d in found]
            ax.bar(
                [x + offset for x in xs],
                [e.mean if e else 0.0 for e in est],
                width=0.34,
                yerr=[(e.se or 0.0) if e else 0.0 for e in est],
                color=colour,
                alpha=0.85 if who == "ours" else 0.6,
                capsize=3,
                label=who,
            )
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(list(xs), [titles[d.column] for d in found], fontsize=7)
        ax.set_title(f"{row}: {found[0].criterion} - continued", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("top-1 difference (points)", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
