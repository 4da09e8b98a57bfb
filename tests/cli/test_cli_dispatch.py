"""``e2mc-plugin``: every sub-command resolves to a callable, and bad commands fail clearly."""

from __future__ import annotations

import importlib

import pytest

from e2mc_plugin import cli


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_cli_every_command_resolves_to_a_callable(name):
    module, func, help_ = cli.COMMANDS[name]
    assert callable(getattr(importlib.import_module(module), func)) and help_


def test_cli_unknown_command_lists_the_valid_ones(capsys):
    assert cli.main(["pretrian"]) == 2
    err = capsys.readouterr().err
    assert "'pretrian'" in err and all(name in err for name in cli.COMMANDS)


def test_cli_list_prints_the_registries(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    aux_line = next(line for line in lines if line.startswith("aux losses:"))
    loader_line = next(line for line in lines if line.startswith("checkpoint loaders:"))
    assert all(name in aux_line for name in ("e2mc", "vcreg", "auh", "mmcr"))
    assert all(name in loader_line for name in ("vicreg_full", "swav_official", "simsiam_official"))


def test_cli_help_and_no_arguments(capsys):
    assert cli.main(["--help"]) == 0
    assert cli.main([]) == 2
    assert "usage: e2mc-plugin [--traceback] COMMAND" in capsys.readouterr().out
