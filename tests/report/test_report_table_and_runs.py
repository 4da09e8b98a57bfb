"""``e2mc-plugin report`` and the sweep table / plot, on synthetic solo-learn run folders."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

from e2mc_plugin.evaluation.significance import compare_predictions
from e2mc_plugin.report.runs import RESULTS_FILE, collect, find_runs, read_run
from e2mc_plugin.report.table import format_sweep, sweep_table

N = 200


def _run(root, name, beta, seed, knn_pred, target, linear_acc):
    """A run folder like main_pretrain.py's (args.json) plus the results file."""
    d = root / name
    d.mkdir(parents=True)
    aux = [] if beta is None else [{"name": "e2mc", "beta": beta, "gamma": 100, "mapping": "x"}]
    args = {"method": "vicreg_aux", "seed": seed, "aux_losses": aux}
    (d / "args.json").write_text(json.dumps(args))
    np.savez(d / "knn.npz", pred=knn_pred, target=target)
    results = [
        {"probe": "knn", "labels": 1.0, "accuracy": float((knn_pred == target).mean()),
         "predictions": "knn.npz"},
        {"probe": "linear", "labels": 0.1, "accuracy": linear_acc},  # percent: read as 0.xx
    ]  # fmt: skip
    (d / RESULTS_FILE).write_text(json.dumps({"results": results, "entropy_mean": -0.1 * seed}))


@pytest.fixture()
def runs(tmp_path):
    """Seeds 0, 1: continued, beta=10 (same predictions), beta=1000 (10 % more errors)."""
    rng = np.random.default_rng(0)
    target = rng.integers(0, 10, N)
    root = tmp_path / "trained_models" / "vicreg_aux"
    preds = {}
    for seed in (0, 1):
        base = np.where(rng.random(N) < 0.8, target, (target + 1) % 10)
        worse = base.copy()
        flip = rng.permutation(N)[:20]
        worse[flip] = (target[flip] + 3) % 10
        for name, beta, pred, lin in (("c", None, base, 72.0), ("b10", 10, base, 71.0),
                                      ("b1000", 1000, worse, 60.0 + seed)):  # fmt: skip
            _run(root, f"{name}_s{seed}", beta, seed, pred, target, lin)
            preds[(name, seed)] = pred
    (root / "pending").mkdir()
    (root / "pending" / "args.json").write_text(json.dumps({"method": "vicreg_aux"}))
    return tmp_path / "trained_models", target, preds


def test_report_reads_runs_and_builds_the_sweep_table(runs):
    root, target, preds = runs
    found = find_runs([str(root)])
    assert len(found) == 7
    pending = read_run(os.path.join(root, "vicreg_aux", "pending"))
    assert pending.results == [] and pending.coefficients == {}
    run = read_run(os.path.join(root, "vicreg_aux", "b10_s1"))
    assert run.seed == 1 and run.coefficients == {"e2mc.beta": 10.0, "e2mc.gamma": 100.0}
    assert run.results[1]["accuracy"] == pytest.approx(0.71)

    rec = collect([read_run(p) for p in found if "pending" not in p], n_permutations=500)
    assert rec["keys"] == ["beta"]  # gamma is the same everywhere: not a swept coefficient
    table = sweep_table(rec["rows"], rec["significance"], rec["entropy"], rec["coefficients"])
    assert [r["model"] for r in table] == ["continued"] * 2 + ["beta=10"] * 2 + ["beta=1000"] * 2
    cell = {(r["model"], r["probe"]): r for r in table}

    acc = lambda name, s: 100 * float((preds[(name, s)] == target).mean())  # noqa: E731
    knn = cell[("beta=1000", "knn")]
    deltas = [acc("b1000", s) - acc("c", s) for s in (0, 1)]
    assert knn["beta"] == 1000.0 and knn["n_seeds"] == 2
    assert knn["mean_pct"] == pytest.approx(np.mean([acc("b1000", s) for s in (0, 1)]))
    assert knn["delta_vs_continued_pts"] == pytest.approx(np.mean(deltas))
    assert knn["delta_std_pts"] == pytest.approx(np.std(deltas, ddof=1))
    expected_p = [
        compare_predictions(target, preds[("b1000", s)], preds[("c", s)], n_resamples=500, seed=s)
        for s in (0, 1)
    ]
    assert knn["mcnemar_p"] == ";".join(f"{t['mcnemar']['pvalue']:.4g}" for t in expected_p)
    assert float(knn["mcnemar_p"].split(";")[0]) < 0.01  # 20 extra errors, none fixed
    same = cell[("beta=10", "knn")]
    assert same["delta_vs_continued_pts"] == 0.0 and same["mcnemar_p"] == "1;1"
    lin = cell[("beta=1000", "linear")]
    assert lin["mean_pct"] == pytest.approx(60.5) and lin["std_pct"] == pytest.approx(0.7071, 1e-3)
    assert lin["delta_vs_continued_pts"] == pytest.approx(-11.5) and lin["mcnemar_p"] == ""
    assert cell[("continued", "knn")]["entropy_mean"] == pytest.approx(-0.05)
    assert "beta=1000" in format_sweep(table)


def test_report_cli_writes_csv_and_png(runs, tmp_path, capsys):
    from e2mc_plugin.cli import main

    root, _, _ = runs
    out = tmp_path / "rep"
    assert main(["report", str(root), "--out", str(out), "--permutations", "200"]) == 0
    printed = capsys.readouterr().out
    assert "pending: no e2mc_results.json, skipped" in printed and "beta=1000" in printed
    with open(out / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and {"beta", "delta_vs_continued_pts", "mcnemar_p"} <= set(rows[0])
    assert os.path.getsize(out / "sweep.png") > 0


def test_report_cli_says_what_is_missing(tmp_path, capsys):
    from e2mc_plugin.report.cli import main

    assert main([str(tmp_path)]) == 2
    assert "no run folder (with args.json)" in capsys.readouterr().out
