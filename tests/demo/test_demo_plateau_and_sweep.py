"""The base's stopping rule, its cache, the sweep's variants and the timing helper."""

from __future__ import annotations

import json
import os

import pytest
import torch

from e2mc_plugin.demo.plateau import PlateauCriterion, PlateauTracker, read_curve, write_curve
from e2mc_plugin.demo.preset import DemoConfig
from e2mc_plugin.demo.timing import Timings
from e2mc_plugin.demo.variants import default_variants, parse_sweep, sweep_variants


def test_demo_plateau_stops_after_patience_evaluations_without_min_delta_gain():
    tracker = PlateauTracker(PlateauCriterion(eval_every=5, patience=2, min_delta=0.01))
    # 0.50 -> 0.60 (gain) -> 0.605 (< 0.01 above best: stale 1) -> 0.609 (stale 2: stop)
    assert [tracker.update(e, a) for e, a in ((0, 0.5), (5, 0.6), (10, 0.605))] == [False] * 3
    assert tracker.update(15, 0.609) and tracker.reason == "plateau"
    assert (tracker.best, tracker.best_epoch) == (0.6, 5)


def test_demo_plateau_gain_resets_patience_and_the_cap_stops():
    tracker = PlateauTracker(
        PlateauCriterion(eval_every=1, patience=2, min_delta=0.0, max_epochs=4)
    )
    for epoch, acc in ((1, 0.5), (2, 0.4), (3, 0.5)):  # 0.5 >= best + 0: a gain, stale back to 0
        assert not tracker.update(epoch, acc)
    assert tracker.stale == 0 and tracker.update(4, 0.1) and tracker.reason == "cap"
    # a second phase counts its cap from its offset
    phase2 = PlateauTracker(PlateauCriterion(eval_every=1, patience=9, max_epochs=2), offset=4)
    assert not phase2.update(5, 0.5) and phase2.update(6, 0.6) and phase2.reason == "cap"
    tracker.record(5, 0.99)  # a curve point only (the untrained model)
    assert tracker.best == 0.5 and tracker.history[-1] == (5, 0.99)
    with pytest.raises(ValueError, match="patience"):
        PlateauCriterion(patience=0)


def test_demo_curve_round_trip(tmp_path):
    curve = [(0, 0.25), (5, 0.8125)]
    assert read_curve(write_curve(curve, str(tmp_path / "c.csv"))) == curve


def test_demo_sweep_parsing_grid_and_errors():
    assert parse_sweep(["beta=1,10", "gamma=5"]) == {"beta": (1.0, 10.0), "gamma": (5.0,)}
    for bad, match in (("eps=1", "beta, gamma"), ("beta", "KEY=V1"), ("beta=a", "numbers")):
        with pytest.raises(ValueError, match=match):
            parse_sweep([bad])
    with pytest.raises(ValueError, match="twice"):
        parse_sweep(["beta=1", "beta=2"])
    dc = DemoConfig()
    grid = sweep_variants(dc, parse_sweep(["beta=1,1000", "gamma=1,100"]))
    assert [v.name for v in grid] == [
        "continued", "e2mc beta=1,gamma=1", "e2mc beta=1,gamma=100",
        "e2mc beta=1000,gamma=1", "e2mc beta=1000,gamma=100",
    ]  # fmt: skip
    # the coefficients not swept keep the paper's values for the method
    only_beta = sweep_variants(dc, {"beta": (10.0,)})[1]
    assert only_beta.aux_losses == ({"name": "e2mc", "beta": 10.0, "gamma": 100.0,
                                     "mapping": "sigmoid"},)  # fmt: skip
    assert only_beta.coefficients == {"beta": 10.0}
    assert [v.name for v in default_variants(dc)] == ["continued", "+e2mc"]


def test_demo_timings_accumulate():
    t = Timings()
    for _ in range(2):
        with t.measure("a"):
            pass
    assert set(t.as_dict()) == {"a", "total_s"} and t.as_dict()["total_s"] >= t.totals["a"]


def test_demo_cli_rejects_a_bad_sweep(capsys):
    from e2mc_plugin.demo.cli import main

    with pytest.raises(SystemExit):
        main(["--sweep", "delta=1"])
    assert "beta, gamma" in capsys.readouterr().err


def test_demo_base_is_cached_by_settings(tmp_path, monkeypatch, capsys):
    pytest.importorskip("solo")
    from e2mc_plugin.datasets.digits import load_digits_split
    from e2mc_plugin.demo.base import HOME_ENV, cache_dir, obtain_base
    from e2mc_plugin.demo.preset import with_overrides

    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    dc = DemoConfig.quick(batch_size=32, limit=200, limit_train_batches=1, progress=False,
                          proj_hidden_dim=16, proj_output_dim=16, base_max_epochs=2)  # fmt: skip
    split = load_digits_split(size=dc.size, limit=dc.limit)
    first = obtain_base(dc, split, log=print)
    assert first.info["cache_hit"] is False and first.info["reason"] == "cap"
    # before training, then every epoch: 2 at the base lr, 2 more at the continued lr
    assert [e for e, _ in first.curve] == [0, 1, 2, 3, 4]
    assert [(p["lr"], p["end_epoch"]) for p in first.info["phases"]] == [
        (dc.base_lr, 2),
        (dc.continued_lr, 4),
    ]
    folder = cache_dir(dc)
    assert folder.startswith(str(tmp_path / "home" / "demo-bases" / "vicreg-"))
    with open(os.path.join(folder, "meta.json")) as f:
        assert json.load(f)["settings"]["base_max_epochs"] == 2

    again = obtain_base(dc, split, log=print)
    assert again.info["cache_hit"] is True
    assert again.curve == [(e, pytest.approx(a, abs=1e-6)) for e, a in first.curve]
    for (k, a), b in zip(first.model.state_dict().items(), again.model.state_dict().values(),
                         strict=True):  # fmt: skip
        if not k.startswith("classifier."):
            assert torch.equal(a, b), k
    assert "cache miss" in capsys.readouterr().out
    # any setting that determines the base changes the key
    assert cache_dir(with_overrides(dc, base_lr=2e-3)) != folder
    assert cache_dir(with_overrides(dc, continued_epochs=7)) == folder  # not a base setting
