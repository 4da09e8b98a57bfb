"""A quiet launcher: the warnings the host's imports print about its own dependencies (timm's moved
modules, solo-learn's registry overwrites, torch's old autocast decorators, Lightning's
``pkg_resources``) are hidden, with their reasons listed once in the plugin
(``e2mc_plugin.solo.host.import_warnings``), in every process of a run, including the rank that
Lightning's ``strategy=ddp`` re-launches through the plugin's entry script; ``--verbose`` shows
each of them once. Real ``e2mc-plugin pretrain`` runs of the CPU recipe on solo-learn main."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
from launcher_env import REPO, cli, declared_entry_points, image_folder, spy_package  # noqa: E402

from e2mc_plugin.solo.host.import_warnings import HOST_IMPORT_WARNINGS  # noqa: E402

#: what each listed warning prints (its message start) and the host lines that print them
PRINTED = [re.compile(w.message) for w in HOST_IMPORT_WARNINGS]
CPU_RECIPE = ["--config-path", str(REPO / "configs" / "cpu"), "--config-name", "vicreg_e2mc"]


def _host_warning_lines(text: str):
    return [line for line in text.splitlines() if any(p.search(line) for p in PRINTED)]


def _checkout() -> Path:
    from e2mc_plugin.solo.launch import commands as launcher

    return Path(launcher._installed_checkout("main_pretrain.py") or pytest.skip("no checkout"))


@pytest.mark.host106
@pytest.mark.ddp
def test_a_launcher_run_prints_no_host_import_warning_in_any_rank(tmp_path):
    train = image_folder(tmp_path / "data" / "train", classes=2, per_class=8, seed=0)
    spy = "{name:spy_e2mc,beta:1000,gamma:100,mapping:sigmoid,gather:true}"
    args = ["pretrain", *CPU_RECIPE, f"data.train_path={train}", f"checkpoint.dir={tmp_path}/ckpt",
            f"aux_losses=[{spy}]", "--cpu", "strategy=ddp", "devices=2"]  # fmt: skip
    proc = cli(
        args,
        tmp_path,
        _checkout(),
        pythonpath=[declared_entry_points(tmp_path / "meta"), spy_package(tmp_path / "spy")],
        env={"SPY_ROWS": str(tmp_path / "rows")},
    )
    # both ranks trained (rank 1 re-launched by Lightning through the plugin's entry script):
    # each saw its 8 rows and the 16 of the global batch
    for rank in (0, 1):
        assert (tmp_path / f"rows.{rank}").read_text().split() == ["8", "16"], rank
    first = proc.stderr.splitlines()[0]
    assert first.startswith("e2mc-plugin pretrain: solo-learn 1.0.6 (cfg layout"), first
    hidden = re.search(r"; (\d+) warnings of the host's imports hidden \(--verbose", first)
    assert hidden and int(hidden.group(1)) >= 5, first
    assert _host_warning_lines(proc.stdout + proc.stderr) == []
    assert "e2mc-plugin pretrain: done" in proc.stdout


@pytest.mark.host106
def test_verbose_shows_each_host_import_warning_once(tmp_path):
    """``--cfg job``: hydra prints the composed recipe and stops; the host is imported first.
    (Without ``--verbose``: the run above.)"""
    verbose = cli(["pretrain", "--verbose", *CPU_RECIPE, "--cfg", "job"], tmp_path, _checkout())
    shown = _host_warning_lines(verbose.stderr)
    assert len(shown) == len(set(shown)) >= 5, shown  # each distinct warning once
    for text in ("Importing from timm.models.helpers", "Overwriting convnext_tiny in registry"):
        assert sum(text in line for line in shown) == 1, (text, shown)
    (first,) = [line for line in verbose.stderr.splitlines() if line.startswith("e2mc-plugin")]
    assert "hidden" not in first
    assert "name: cpu-vicreg-e2mc" in verbose.stdout
