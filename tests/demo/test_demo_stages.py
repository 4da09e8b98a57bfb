"""Stage functions of the demo, each on a tiny budget, plus the report helpers (no host needed)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from e2mc_plugin.aux_losses.paper import PAPER_COEFFICIENTS
from e2mc_plugin.demo.preset import DemoConfig, aux_spec
from e2mc_plugin.demo.report import aggregate, format_significance, format_table, write_outputs


def test_demo_aux_spec_uses_paper_coefficients_and_names_valid_choices():
    assert aux_spec("e2mc", "vicreg") == {
        "name": "e2mc",
        "beta": 1000.0,
        "gamma": 100.0,
        "mapping": "sigmoid",
    }
    assert aux_spec("e2mc", "swav")["mapping"] == "gaussian_cdf"
    with pytest.raises(ValueError, match="auh"):
        aux_spec("nope", "vicreg")
    with pytest.raises(ValueError, match="vicreg"):
        aux_spec("e2mc", "nope")
    assert aux_spec("e2mc", "vicreg", beta=10.0)["beta"] == 10.0  # a sweep point
    assert set(PAPER_COEFFICIENTS["vicreg"]) == {"e2mc", "vcreg", "auh", "mmcr"}


def _rows():
    rows = []
    for seed, (c, e) in enumerate([(0.80, 0.82), (0.78, 0.83)]):
        for model, acc in (("continued", c), ("+e2mc", e)):
            rows.append(
                {"seed": seed, "model": model, "probe": "knn", "labels": 0.1, "accuracy": acc}
            )
    return rows


def test_demo_aggregate_and_table():
    summary = aggregate(_rows())
    e2mc = next(s for s in summary if s["model"] == "+e2mc")
    assert e2mc["n_seeds"] == 2 and e2mc["mean"] == pytest.approx(0.825)
    assert e2mc["std"] == pytest.approx(np.std([0.82, 0.83], ddof=1))
    table = format_table(summary)
    assert "knn 10%" in table and "82.50 ± 0.71" in table and "2 seed(s)" in table


def test_demo_write_outputs_csv_and_json(tmp_path):
    from e2mc_plugin.evaluation.significance import compare_predictions

    y = np.arange(20) % 10
    test = compare_predictions(y, y, np.where(np.arange(20) < 3, (y + 1) % 10, y))
    sig = [{"seed": 0, "a": "+e2mc", "b": "continued", "probe": "knn", "labels": 0.1, **test}]
    paths = write_outputs(
        {"rows": _rows(), "significance": sig, "timings": {"total_s": 1.0}}, str(tmp_path)
    )
    with open(paths["csv"]) as f:
        got = list(csv.DictReader(f))
    assert len(got) == 4 and set(got[0]) == {"seed", "model", "probe", "labels", "accuracy"}
    with open(paths["json"]) as f:
        js = json.load(f)
    assert js["summary"][0]["model"] == "continued" and js["significance"][0]["mcnemar"]["b"] == 3
    assert "+e2mc vs continued" in format_significance(sig)


def test_demo_cli_parses_lists():
    from e2mc_plugin.demo.cli import build_parser

    args = build_parser().parse_args(
        ["--methods", "vicreg,swav", "--seeds", "0,1", "--aux", "e2mc,vcreg", "--quick"]
    )
    assert args.methods == ("vicreg", "swav") and args.seeds == (0, 1)
    assert args.aux == ("e2mc", "vcreg") and args.quick
    assert build_parser().parse_args([]).methods == ("vicreg",)


def test_demo_cli_runs_one_thread_unless_told_and_refuses_zero(capsys):
    from e2mc_plugin.demo.cli import build_parser, main

    assert build_parser().parse_args([]).threads == 1
    assert build_parser().parse_args(["--threads", "2"]).threads == 2
    with pytest.raises(SystemExit) as err:
        main(["--threads", "0"])
    assert err.value.code == 2 and "--threads: expected a positive" in capsys.readouterr().err


def test_demo_cli_help_states_the_plateau_defaults_of_the_config():
    from e2mc_plugin.demo.cli import build_parser

    lines = build_parser().format_help()
    for flag, value in (
        ("--base-eval-every", DemoConfig.base_eval_every),
        ("--base-patience", DemoConfig.base_patience),
        ("--base-max-epochs", DemoConfig.base_max_epochs),
        ("--base-min-delta", DemoConfig.base_min_delta),
    ):
        help_text = " ".join(lines.split(flag, 2)[-1].split())  # the flag's own entry
        assert f"({value})" in help_text.split("--")[0], (flag, value)


# --- stages on the host (tiny: 200 digits, batches of 32, 1-2 steps) -----------------------


@pytest.fixture(scope="module")
def tiny():
    pytest.importorskip("solo")  # here, not at module level: the tests above need no host
    from e2mc_plugin.datasets.digits import load_digits_split

    dc = DemoConfig.quick(
        batch_size=32,
        limit=200,
        limit_train_batches=1,
        progress=False,
        proj_hidden_dim=32,
        proj_output_dim=16,
    )
    return dc, load_digits_split(size=dc.size, limit=dc.limit)


def test_demo_stages_pretrain_save_continue_evaluate(tiny, tmp_path):
    from e2mc_plugin.checkpoints import initialize_from_checkpoint, load_checkpoint
    from e2mc_plugin.demo.evaluate import evaluate
    from e2mc_plugin.demo.preset import method_cfg
    from e2mc_plugin.demo.train import pretrain, save_method
    from e2mc_plugin.solo.api import build_method

    dc, split = tiny
    cfg = method_cfg(dc, lr=dc.base_lr, epochs=1)
    assert cfg["data"]["dataset"] == "custom" and cfg["optimizer"]["name"] == "adamw"
    assert cfg["aux_losses"] == [] and cfg["pretrained"] is None
    base = pretrain(
        cfg,
        split,
        epochs=1,
        seed=0,
        batch_size=dc.batch_size,
        progress=False,
        limit_train_batches=1,
        root_dir=str(tmp_path),
    )
    path = save_method(base, cfg, str(tmp_path / "base"), "base")
    with open(tmp_path / "base" / "args.json") as f:
        assert json.load(f)["method_kwargs"]["proj_output_dim"] == 16

    # the saved file round-trips through the checkpoint loaders, strictly
    fresh = build_method(cfg)
    initialize_from_checkpoint(fresh, load_checkpoint(path), strict=True)
    for (k, a), b in zip(base.state_dict().items(), fresh.state_dict().values(), strict=True):
        if not k.startswith("classifier."):  # the online classifier is not carried over
            assert torch.equal(a, b), k

    # continued pretraining starts from the base weights (pretrained: block) and E2MC trains
    cont_cfg = method_cfg(dc, lr=0.0, aux_losses=[aux_spec("e2mc", "vicreg")], pretrained=path)
    torch.manual_seed(0)
    started = build_method(cont_cfg)
    assert torch.equal(started.projector[0].weight, base.projector[0].weight)
    cont = pretrain(
        cont_cfg,
        split,
        epochs=1,
        seed=1,
        batch_size=dc.batch_size,
        progress=False,
        limit_train_batches=1,
        root_dir=str(tmp_path),
    )

    res = evaluate(cont, split, label_fractions=(0.1, 1.0), knn_k=5, seed=0, mapping="sigmoid")
    assert set(res.accuracy) == {("knn", 0.1), ("linear", 0.1), ("knn", 1.0), ("linear", 1.0)}
    assert all(0.0 <= a <= 1.0 for a in res.accuracy.values())
    assert res.test_labels.shape == (len(split.test_y),)
    assert all(p.shape == res.test_labels.shape for p in res.predictions.values())
    # the entropy column: mean per-dim m-spacings entropy of sigmoid(z), a log-density on [0, 1]
    assert res.entropy_mean is not None and -20.0 < res.entropy_mean <= 0.05
