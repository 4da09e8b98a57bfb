"""Diagnostics on synthetic embeddings: statistics and non-empty PNG files."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from scipy import stats

from e2mc_plugin.diagnostics.plots import format_entropy_table, write_diagnostics
from e2mc_plugin.diagnostics.stats import (
    entropy_summary,
    map_embeddings,
    neighbour_distances,
    per_dim_entropy,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _synthetic(n=300, d=16, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    spread = rng.normal(size=(10, d))[y] + 0.3 * rng.normal(size=(n, d))
    collapsed = spread.copy()
    collapsed[:, : d // 2] = 0.0  # half the dimensions constant
    return y, {"collapsed": collapsed.astype(np.float32), "spread": spread.astype(np.float32)}


def test_diag_write_diagnostics_writes_nonempty_pngs_and_summary(tmp_path):
    y, embs = _synthetic()
    out = write_diagnostics(embs, y, str(tmp_path), mapping="sigmoid", k=10)
    assert len(out["pngs"]) == 4
    for path in out["pngs"]:
        assert os.path.getsize(path) > 5000
        with open(path, "rb") as f:
            assert f.read(8) == PNG_MAGIC
    with open(out["summary_path"]) as f:
        summary = json.load(f)
    assert summary["mapping"] == "sigmoid" and set(summary["models"]) == {"collapsed", "spread"}
    # constant dimensions sit at log(eps); the spread model has higher entropy everywhere
    assert summary["models"]["collapsed"]["min"] == pytest.approx(np.log(1e-7), abs=0.05)
    assert summary["models"]["spread"]["mean"] > summary["models"]["collapsed"]["mean"]
    assert "collapsed" in format_entropy_table(out["entropy"])


def test_diag_write_diagnostics_single_model_and_features(tmp_path):
    y, embs = _synthetic(n=120, d=6)
    feats = {"m": np.random.default_rng(1).normal(size=(120, 40))}
    out = write_diagnostics({"m": embs["spread"]}, y, str(tmp_path), features=feats, prefix="x_")
    assert all(os.path.basename(p).startswith("x_") and os.path.getsize(p) > 0 for p in out["pngs"])


def test_diag_per_dim_entropy_matches_scipy_vasicek_up_to_its_bias():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(400, 3))
    h = per_dim_entropy(x)
    ref = stats.differential_entropy(x, method="vasicek", axis=0, window_length=20)
    assert np.allclose(h, 0.0, atol=0.15) and np.allclose(ref, 0.0, atol=0.15)
    assert h.shape == (3,)


def test_diag_entropy_summary_fields():
    x = map_embeddings(np.random.default_rng(0).normal(size=(256, 8)), "gaussian_cdf")
    s = entropy_summary(x)
    assert (s["n"], s["d"], s["m"]) == (256, 8, 16)
    assert s["min"] <= s["q05"] <= s["median"] <= s["q95"] <= s["max"] <= 0.1
    assert s["n_below_minus1"] == 0


def test_diag_neighbour_distances_match_brute_force():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 4))
    d1, dk = neighbour_distances(x, k=5)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    full = np.linalg.norm(xn[:, None] - xn[None], axis=-1)
    np.fill_diagonal(full, np.inf)
    srt = np.sort(full, axis=1)
    assert np.allclose(d1, srt[:, 0]) and np.allclose(dk, srt[:, 4])
    with pytest.raises(ValueError):
        neighbour_distances(x, k=50)
