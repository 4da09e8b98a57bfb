"""The README's "Any Lightning model (lightly, your own)" example runs as written (a fresh
process in an empty directory) and logs the E2MC terms."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEADING = "## Any Lightning model (lightly, your own)"


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    assert HEADING in text, f"README.md has no section {HEADING!r}"
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no python block in README section {HEADING!r}"
    return match.group(1)


@pytest.mark.timeout(300)
@pytest.mark.skipif(
    importlib.util.find_spec("lightly") is None or importlib.util.find_spec("lightning") is None,
    reason="needs lightly 1.6 and lightning 2 (requirements/host-1.0.6-no-deps.txt)",
)
def test_readme_lightning_example_runs_as_written(tmp_path):
    script = tmp_path / "readme_example.py"
    script.write_text(readme_example())
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=path),
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    for name in ("train_aux/e2mc/entropy", "train_aux/e2mc/covariance", "train_aux/loss"):
        assert repr(name) in proc.stdout, proc.stdout[-2000:]
