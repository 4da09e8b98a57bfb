"""``e2mc-plugin report`` and the sweep table / plot, on synthetic solo-learn run folders."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

from e2mc_plugin.evaluation.significance import compare_predictions
from e2mc_plugin.report.compare import collect
from e2mc_plugin.report.runs import RESULTS_FILE, find_runs, read_run
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
        {
            "probe": "knn",
            "labels": 1.0,
            "accuracy": 100 * float((knn_pred == target).mean()),
            "predictions": "knn.npz",
        },
        {"probe": "linear", "labels": 0.1, "accuracy": linear_acc},
    ]  # fmt: skip  (a file in percent: read as fractions)
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


def _folder(root, name, *, method="vicreg_aux", seed=5, aux=(), results=(), extra=None):
    """A run folder with args.json (solo's default seed 5) and, if given, its results file."""
    d = root / name
    d.mkdir(parents=True)
    args = {"method": method, "seed": seed, "aux_losses": list(aux), "name": name}
    (d / "args.json").write_text(json.dumps(args))
    if results:
        (d / RESULTS_FILE).write_text(json.dumps({"results": list(results), **(extra or {})}))
    return d


def _linear(acc):
    return {"probe": "linear", "labels": 1.0, "accuracy": acc}


def test_runs_sharing_model_and_seed_stay_distinct(tmp_path):
    """Two E2MC runs with solo's default seed: both count (n = 2, mean of both), with a note
    naming both folders and what differs in their args.json."""
    e2mc = [{"name": "e2mc", "beta": 10.0}]
    a = _folder(tmp_path, "a", aux=e2mc, results=[_linear(0.70)])
    b = _folder(tmp_path, "b", aux=e2mc, results=[_linear(0.74)])
    _folder(tmp_path, "c", results=[_linear(0.71)])
    rec = collect([read_run(str(p)) for p in sorted(tmp_path.iterdir())], n_permutations=10)
    table = sweep_table(rec["rows"], rec["significance"], rec["entropy"], rec["coefficients"])
    row = next(r for r in table if r["model"] != "continued")
    assert row["n_seeds"] == 2
    assert row["mean_pct"] == pytest.approx(72.0)
    assert row["std_pct"] == pytest.approx(100 * np.std([0.70, 0.74], ddof=1))
    assert row["delta_vs_continued_pts"] == pytest.approx(1.0)
    (note,) = rec["notes"]
    assert str(a) in note and str(b) in note and "differs in name" in note and "seed 5" in note


def test_a_loss_with_default_coefficients_is_not_the_baseline(tmp_path):
    _folder(tmp_path, "mmcr", aux=[{"name": "mmcr"}], results=[_linear(0.75)])
    _folder(tmp_path, "cont", results=[_linear(0.72)])
    runs = [read_run(str(p)) for p in sorted(tmp_path.iterdir())]
    assert [r.is_baseline for r in runs] == [True, False]
    rec = collect(runs, n_permutations=10)
    table = sweep_table(rec["rows"], rec["significance"], rec["entropy"], rec["coefficients"])
    assert [(r["model"], r["n_seeds"]) for r in table] == [("continued", 1), ("mmcr", 1)]
    assert table[1]["delta_vs_continued_pts"] == pytest.approx(3.0)


def test_runs_of_two_methods_get_a_table_each(tmp_path, capsys):
    from e2mc_plugin.report.cli import main

    e2mc = [{"name": "e2mc", "beta": 1.0}]
    for method, base, gain in (("vicreg_aux", 0.60, 0.02), ("swav_aux", 0.70, 0.03)):
        _folder(tmp_path, f"{method}_c", method=method, results=[_linear(base)])
        _folder(tmp_path, f"{method}_e", method=method, aux=e2mc, results=[_linear(base + gain)])
    out = tmp_path / "rep"
    assert main([str(tmp_path), "--out", str(out), "--permutations", "10"]) == 0
    for method, delta in (("vicreg_aux", 2.0), ("swav_aux", 3.0)):
        with open(out / f"sweep_{method}.csv") as f:
            rows = {r["model"]: r for r in csv.DictReader(f)}
        assert float(rows["continued"]["mean_pct"]) == pytest.approx(
            {"vicreg_aux": 60, "swav_aux": 70}[method]
        )
        assert float(rows["beta=1"]["delta_vs_continued_pts"]) == pytest.approx(delta)
    assert not (out / "sweep.csv").exists()


def test_a_file_mixing_percent_and_fractions_is_an_error_naming_it(tmp_path, capsys):
    from e2mc_plugin.report.cli import main
    from e2mc_plugin.report.runs import RunFolderError

    mixed = [_linear(72.0), {"probe": "knn", "labels": 1.0, "accuracy": 0.9}]
    d = _folder(tmp_path / "r", "mixed", results=mixed)
    with pytest.raises(RunFolderError, match=r"mixed/e2mc_results.json: accuracies mix .*0\.9"):
        read_run(str(d))
    assert main([str(tmp_path / "r"), "--out", str(tmp_path / "o")]) == 2
    assert f"{d / RESULTS_FILE}: accuracies mix" in capsys.readouterr().out
    d = _folder(tmp_path / "s", "unit", results=mixed, extra={"unit": "percent"})
    assert [r["accuracy"] for r in read_run(str(d)).results] == pytest.approx([0.72, 0.009])
    d = _folder(tmp_path / "t", "frac", results=[_linear(0.72), _linear(1.0)])
    assert [r["accuracy"] for r in read_run(str(d)).results] == pytest.approx([0.72, 1.0])


@pytest.mark.parametrize(
    "args, results, expected",
    [
        ("{", None, "args.json: not valid JSON"),
        ('{"seed": "five"}', None, "args.json: seed must be an integer, got 'five'"),
        ('{"aux_losses": {"name": "e2mc"}}', None, "args.json: aux_losses must be a list"),
        ("{}", {"results": [{"probe": "knn"}]}, 'results[0] needs "probe" and "accuracy"'),
        ("{}", {"results": [_linear("high")]}, "results[0].accuracy is not a number: 'high'"),
        ("{}", {"results": [_linear(130.0)]}, "accuracy 130 is outside [0, 100] (percent)"),
        ("{}", {"results": [_linear(0.5)], "unit": "pct"}, "unit must be one of fraction"),
        ("{}", {"results": [{**_linear(0.5), "predictions": "p.npz"}]}, "'p.npz' not found"),
    ],
)
def test_report_errors_name_the_file(tmp_path, capsys, args, results, expected):
    from e2mc_plugin.report.cli import main

    (tmp_path / "args.json").write_text(args)
    if results is not None:
        (tmp_path / RESULTS_FILE).write_text(json.dumps(results))
    assert main([str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().out
    assert expected in err and str(tmp_path) in err, err
