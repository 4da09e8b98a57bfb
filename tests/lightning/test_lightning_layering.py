"""The attach core imports neither solo-learn nor Lightning; the Lightning adapter imports no
solo-learn; only e2mc_plugin.solo and e2mc_plugin.lightning may name a host."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def imported_roots(module: str, roots) -> list:
    code = (
        f"import sys, {module}\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {tuple(roots)!r}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return eval(proc.stdout.strip())


@pytest.mark.parametrize(
    "module, forbidden",
    [
        ("e2mc_plugin.attach", ("solo", "lightning", "pytorch_lightning", "omegaconf", "hydra")),
        ("e2mc_plugin.lightning", ("solo", "lightning", "pytorch_lightning", "omegaconf")),
        ("e2mc_plugin.checkpoints.torchvision_export", ("solo", "lightning", "pytorch_lightning")),
    ],
)
def test_import_pulls_in_no_host_module(module, forbidden):
    assert imported_roots(module, forbidden) == []


def test_attach_sources_name_no_host():
    for path in (REPO / "e2mc_plugin" / "attach").glob("*.py"):
        text = path.read_text()
        for name in ("solo", "lightning", "pytorch_lightning"):
            assert f"import {name}" not in text and f"from {name}" not in text, path
        for adapter in ("e2mc_plugin.solo", "e2mc_plugin.lightning"):
            assert f"from {adapter}" not in text and f"import {adapter}" not in text, path
