"""The criteria and aux losses never import the host (solo-learn) or Lightning."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HOST_MODULES = ("solo", "lightning", "pytorch_lightning", "omegaconf", "hydra")


@pytest.mark.parametrize("module", ["e2mc_plugin.criteria", "e2mc_plugin.aux_losses"])
def test_import_pulls_in_no_host_module(module):
    code = (
        f"import sys, {module}\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {HOST_MODULES!r})\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert proc.returncode == 0, proc.stderr


def test_sources_have_no_host_imports():
    for folder in ("criteria", "aux_losses"):
        for path in (REPO / "e2mc_plugin" / folder).glob("*.py"):
            text = path.read_text()
            for name in ("solo", "lightning"):
                assert f"import {name}" not in text and f"from {name}" not in text, path
