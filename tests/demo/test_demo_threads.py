"""The demo sets OpenMP's passive wait policy before torch loads, and never overrides the user's."""

import os
import subprocess
import sys

import pytest

from e2mc_plugin.demo.threads import WAIT_POLICY_ENV, prefer_passive_waiting

CHECK = (
    "import os, sys; from e2mc_plugin.demo.threads import prefer_passive_waiting; "
    "{before}set_here = prefer_passive_waiting(); import torch; "
    "print(set_here, os.environ.get('OMP_WAIT_POLICY'))"
)


def _run(before: str = "", **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != WAIT_POLICY_ENV}
    out = subprocess.run(
        [sys.executable, "-c", CHECK.format(before=before)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()[-2:]


def test_set_before_torch_is_imported():
    assert _run() == ["True", "PASSIVE"]


def test_the_users_value_is_kept():
    assert _run(OMP_WAIT_POLICY="ACTIVE") == ["False", "ACTIVE"]


def test_not_set_once_torch_is_loaded():
    assert _run(before="import torch; ") == ["False", "None"]


def test_the_demo_command_sets_it_before_importing_torch(monkeypatch):
    from e2mc_plugin.demo import cli

    monkeypatch.delenv(WAIT_POLICY_ENV, raising=False)
    source = open(cli.__file__).read()
    main_body = source[source.index("def main(") :]
    assert main_body.index("prefer_passive_waiting()") < main_body.index("import torch")
    pytest.importorskip("torch")
    assert prefer_passive_waiting() is False  # torch is loaded in this process: too late
