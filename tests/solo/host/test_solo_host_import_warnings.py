"""The warnings the host's imports print: every one the installed host prints is in the plugin's
list (each with its reason), a warning not in the list is still shown, ``show="all"`` shows each
distinct warning once, and the listed ones stay hidden for the rest of the process."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest

from e2mc_plugin.solo.host import compat, import_warnings
from e2mc_plugin.solo.host.import_warnings import HOST_IMPORT_WARNINGS, import_host

LISTED = "Importing from timm.models.helpers is deprecated"
UNLISTED = "something the list does not know"


def test_each_listed_warning_says_why_it_is_hidden():
    assert len({w.message for w in HOST_IMPORT_WARNINGS}) == len(HOST_IMPORT_WARNINGS)
    assert all(len(w.reason.split()) >= 5 for w in HOST_IMPORT_WARNINGS)


@pytest.mark.skipif(compat.PROFILE is None, reason="needs a solo-learn host (1.0.2 or 1.0.6)")
def test_every_warning_the_installed_host_prints_at_import_is_listed():
    code = (
        "from e2mc_plugin.solo.host.import_warnings import import_host\nprint(len(import_host()))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Warning" not in proc.stderr and "warn" not in proc.stderr, proc.stderr[-3000:]
    assert int(proc.stdout.split()[-1]) >= 3  # 15 distinct on solo-learn main, 6 on 1.0.2


@pytest.fixture
def fake_host_import(monkeypatch):
    """``import_host`` over a host whose import warns twice the same, once listed, once new."""

    def methods():
        for _ in range(2):
            warnings.warn(LISTED, FutureWarning, stacklevel=1)
        warnings.warn(UNLISTED, UserWarning, stacklevel=1)
        return {}

    def show_on_stderr(message, category, filename, lineno, file=None, line=None):
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    monkeypatch.setattr(compat, "lightning", lambda: None)
    monkeypatch.setattr(compat, "host_methods", methods)
    with warnings.catch_warnings():  # the filters import_host adds end with the test
        warnings.simplefilter("always")
        # as in a launcher: shown warnings reach stderr (pytest's own recorder would take them)
        monkeypatch.setattr(warnings, "showwarning", show_on_stderr)
        yield methods


def test_an_unlisted_warning_is_shown_and_the_listed_one_hidden_from_then_on(
    fake_host_import, capsys
):
    hidden = import_host()
    err = capsys.readouterr().err
    assert UNLISTED in err and "timm" not in err
    assert [str(w.message) for w in hidden] == [LISTED]
    with warnings.catch_warnings(record=True) as later:
        fake_host_import()  # a lazy import later in the run
    assert [str(w.message) for w in later] == [UNLISTED]


def test_verbose_shows_each_distinct_warning_once(fake_host_import, capsys):
    assert import_host(show="all") == []
    err = capsys.readouterr().err
    assert err.count(LISTED) == 1 and err.count(UNLISTED) == 1
    with pytest.raises(ValueError, match="show: 'some'"):
        import_warnings.import_host(show="some")
