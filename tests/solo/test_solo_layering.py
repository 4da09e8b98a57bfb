"""The host adapter's floors import downward only (launch -> method -> recipe -> host), nothing
below the adapter imports it, and at most six modules sit directly in ``e2mc_plugin/solo/``.

Read from the sources (every ``import`` / ``from ... import`` statement, including those inside
functions), so a lazy import up a floor is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "e2mc_plugin"
SOLO = PACKAGE / "solo"
#: each floor may import the floors after it, never those before it
FLOORS = ("launch", "method", "recipe", "host")


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _floor(module: str):
    parts = module.split(".")
    if parts[:2] != ["e2mc_plugin", "solo"] or len(parts) < 3:
        return None
    return parts[2] if parts[2] in FLOORS else None


@pytest.mark.parametrize("floor", FLOORS)
def test_a_floor_imports_no_floor_above_it(floor):
    above = FLOORS[: FLOORS.index(floor)]
    bad = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in sorted((SOLO / floor).rglob("*.py"))
        for module in _imports(path)
        if _floor(module) in above
    ]
    assert not bad, bad


@pytest.mark.parametrize("folder", ["criteria", "aux_losses", "checkpoints", "testing"])
def test_nothing_below_the_adapter_imports_it_and_the_package_never_imports_testing(folder):
    if folder == "testing":  # fixtures: imported by tests and benchmarks, never by the package
        paths = [p for p in PACKAGE.rglob("*.py") if "testing" not in p.relative_to(PACKAGE).parts]
        target = "e2mc_plugin.testing"
    else:
        paths = sorted((PACKAGE / folder).rglob("*.py"))
        target = "e2mc_plugin.solo"
    bad = [
        f"{p.relative_to(PACKAGE)} imports {m}"
        for p in paths
        for m in _imports(p)
        if m == target or m.startswith(target + ".")
    ]
    assert not bad, bad


def test_at_most_six_modules_sit_directly_in_the_adapter():
    modules = sorted(p.name for p in SOLO.glob("*.py"))
    assert len(modules) <= 6, modules


def test_the_launcher_and_the_cli_import_no_host_detector_before_the_checkout_is_chosen():
    """``--solo-src`` puts a checkout's solo first on sys.path in prepare_host; a host detector
    imported earlier would have read another solo-learn, or none (a wheel install without solo)."""
    import subprocess
    import sys

    code = (
        "import sys, e2mc_plugin.cli, e2mc_plugin.solo.launch.commands; "
        "print(sorted(m for m in sys.modules if m.startswith('e2mc_plugin.solo.host') "
        "or m == 'solo'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
