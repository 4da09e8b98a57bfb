"""``e2mc-plugin`` errors: one ``error:`` line and exit 2 for bad input, ``--traceback`` for more.

Run as a user runs it: ``python -m e2mc_plugin.cli`` in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from e2mc_plugin import cli
from e2mc_plugin.checkpoints.recipe import validate_pretrained

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_cli(*args, code=None, pythonpath=()):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, *map(str, pythonpath)]))
    env["PYTHONWARNINGS"] = "ignore"
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "e2mc_plugin.cli"]
    return subprocess.run(
        [*command, *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )


def test_an_input_error_is_one_line_and_exit_2(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint\n")
    result = run_cli("convert", text, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: not a PyTorch checkpoint: {text} (")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_traceback_flag_shows_the_full_traceback(tmp_path):
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    result = run_cli("--traceback", "convert", empty, "--out", tmp_path / "out")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert f"NotACheckpointError: not a PyTorch checkpoint: {empty} (the file is empty)" in (
        result.stderr
    )


BOOM = textwrap.dedent(
    """
    import sys
    from e2mc_plugin import cli
    cli.COMMANDS["boom"] = ("boom_module", "main", "raises")
    sys.exit(cli.main(sys.argv[1:]))
    """
)


def test_an_unexpected_error_is_short_with_a_hint(tmp_path):
    (tmp_path / "boom_module.py").write_text(
        "def main(argv):\n    return {}['missing key'] if argv else 1 / 0\n"
    )
    for args, kind in (([], "ZeroDivisionError"), (["x"], "KeyError")):
        result = run_cli("boom", *args, code=BOOM, pythonpath=[tmp_path])
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert lines[0].startswith(f"error: {kind}: ")
        assert "e2mc-plugin --traceback boom" in lines[1]
        assert "Traceback" not in result.stderr


def test_plugin_key_errors_are_input_errors_and_library_ones_are_not():
    with pytest.raises(KeyError) as plugin:
        validate_pretrained({"path": "x.pth", "strcit": True})
    assert cli.is_expected_error(plugin.value)
    assert cli.error_message(plugin.value).startswith("pretrained.strcit: unknown key")
    with pytest.raises(KeyError) as library:
        import json

        json.loads('{"a": 1}')["b"]  # raised here, in test code: not the plugin's
    assert not cli.is_expected_error(library.value)
    assert cli.is_expected_error(FileNotFoundError(2, "No such file", "/x"))
    assert cli.error_message(PermissionError(13, "folder /x is not writable")) == (
        "folder /x is not writable"
    )
