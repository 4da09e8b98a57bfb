"""``resume/`` is host-neutral: no module of it imports solo-learn, Lightning or the adapters
(read from the sources, lazy imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RESUME = Path(__file__).resolve().parents[2] / "e2mc_plugin" / "resume"
FORBIDDEN = ("solo", "lightning", "pytorch_lightning", "e2mc_plugin.solo", "e2mc_plugin.lightning")


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("path", sorted(RESUME.glob("*.py")), ids=lambda p: p.name)
def test_resume_imports_no_host(path):
    bad = [m for m in _imports(path) if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert not bad, f"{path.name} imports {bad}"
