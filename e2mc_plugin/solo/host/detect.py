"""Which solo-learn is the host: its code layout, where it comes from, and its commit.

solo-learn's tags 1.0.7 and 1.0.8 and its git main all declare ``version="1.0.6"`` in
``setup.py``, so a version string does not identify the host. This module reports what does:

* the **layout** of the ``solo`` package (the API family the plugin adapts to):

  ===============  ===========================================================  =========
  layout           recognised by                                                family
  ===============  ===========================================================  =========
  ``cfg``          ``solo/backbones/`` package + ``solo/args/pretrain.py``      1.0.6
                   (one omegaconf cfg per method, hydra launchers; git main)
  ``argparse``     ``solo/utils/backbones.py`` + ``solo/args/setup.py``          1.0.2
                   (keyword-argument methods, ``encoder`` naming; <= 1.0.2)
  ===============  ===========================================================  =========

  Both are supported: each layout is a :class:`~e2mc_plugin.solo.host.profile.HostProfile`
  (its marker files, its differences), which :attr:`HostInfo.profile` returns; anything else is
  reported as ``unknown``.
* the **source**: a git checkout (with its commit), a source archive (a checkout without
  ``.git``, e.g. ``git archive`` output), or an installed distribution (site-packages; no
  ``main_*.py`` launchers);
* the version the distribution declares, for information only.

Stdlib only (no ``import solo``, no torch): safe to call from the CLI and the test runner.
``python -m e2mc_plugin.solo.host.detect [PATH]`` prints :func:`describe_host`.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Optional, Union

from e2mc_plugin.solo.host.profile import PROFILES, HostProfile, profile_of

SOLO_SRC_ENV = "SOLO_LEARN_SRC"
#: the commit the plugin's tests pin (solo-learn main, setup.py version 1.0.6)
TESTED_COMMIT = "9187ea3"


@dataclass(frozen=True)
class HostInfo:
    """What identifies a solo-learn host.

    Attributes:
        package_dir: the ``solo`` package folder, or None when none was found.
        layout: ``"cfg"``, ``"argparse"`` or ``"unknown"`` (see module docstring).
        source: ``"git checkout"``, ``"source archive"``, ``"installed distribution"``, ``"none"``.
        commit: the checkout's commit (abbreviated), or None.
        declared_version: ``setup.py`` / distribution version (not an identity).
        launchers: ``main_pretrain.py`` and friends sit next to the package.
    """

    package_dir: Optional[Path]
    layout: str
    source: str
    commit: Optional[str] = None
    declared_version: Optional[str] = None
    launchers: bool = False

    @property
    def profile(self) -> Optional[HostProfile]:
        """The differences the adapter applies for this layout, or None (unsupported)."""
        return PROFILES.get(self.layout)

    @property
    def family(self) -> Optional[str]:
        """The host API family of the layout (``"1.0.6"`` / ``"1.0.2"``), or None."""
        return self.profile.family if self.profile is not None else None

    @property
    def supported(self) -> bool:
        return self.family is not None


def layout_of(package_dir: Union[str, Path]) -> str:
    """The layout of a ``solo`` package folder (``"cfg"``, ``"argparse"``: the first profile
    whose marker files it has), or ``"unknown"``."""
    profile = profile_of(package_dir)
    return profile.layout if profile is not None else "unknown"


def git_commit(root: Union[str, Path]) -> Optional[str]:
    """The abbreviated commit checked out at ``root`` (read from ``.git``, no git binary)."""
    git = Path(root) / ".git"
    if git.is_file():  # a worktree / submodule: "gitdir: PATH"
        match = re.match(r"gitdir:\s*(.+)", git.read_text().strip())
        if not match:
            return None
        git = (Path(root) / match.group(1)).resolve()
    head_file = git / "HEAD"
    if not head_file.is_file():
        return None
    head = head_file.read_text().strip()
    if not head.startswith("ref:"):
        return head[:7] or None
    ref = head.split(":", 1)[1].strip()
    common = git
    if (git / "commondir").is_file():  # worktrees keep refs in the main .git
        common = (git / (git / "commondir").read_text().strip()).resolve()
    for base in (git, common):
        if (base / ref).is_file():
            return (base / ref).read_text().strip()[:7]
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1] == ref:
                return parts[0][:7]
    return None


def _declared_version(root: Path) -> Optional[str]:
    setup = root / "setup.py"
    if setup.is_file():
        match = re.search(r"""version\s*=\s*["']([^"']+)["']""", setup.read_text())
        if match:
            return match.group(1)
    try:
        return metadata.version("solo-learn")
    except metadata.PackageNotFoundError:
        return None


def identify_host(src: Optional[Union[str, Path]] = None, *, use_env: bool = True) -> HostInfo:
    """Identify the host at ``src`` (a checkout), else ``$SOLO_LEARN_SRC`` (if ``use_env``), else
    the ``solo`` package that ``import solo`` would load.

    The launcher runs the checkout it is given (``--solo-src`` / ``$SOLO_LEARN_SRC``), so that is
    the host it reports; the Python API and the tests use the importable package
    (``use_env=False``).
    """
    src = src or (os.environ.get(SOLO_SRC_ENV) if use_env else None) or None
    if src is not None:
        package_dir: Optional[Path] = Path(src).resolve() / "solo"
        if not package_dir.is_dir():
            return HostInfo(None, "unknown", "none")
    else:
        spec = importlib.util.find_spec("solo")
        if spec is None or not spec.submodule_search_locations:
            return HostInfo(None, "unknown", "none")
        package_dir = Path(list(spec.submodule_search_locations)[0]).resolve()
    root = package_dir.parent
    checkout = (root / "setup.py").is_file()
    commit = git_commit(root) if checkout else None
    if commit is not None:
        source = "git checkout"
    elif checkout:
        source = "source archive"
    else:
        source = "installed distribution"
    return HostInfo(
        package_dir=package_dir,
        layout=layout_of(package_dir),
        source=source,
        commit=commit,
        declared_version=_declared_version(root) if checkout else _dist_version(),
        launchers=(root / "main_pretrain.py").is_file(),
    )


def _dist_version() -> Optional[str]:
    try:
        return metadata.version("solo-learn")
    except metadata.PackageNotFoundError:
        return None


def describe_host(info: Optional[HostInfo] = None) -> str:
    """One line: layout and family, source (commit), declared version, launchers, location."""
    info = info or identify_host()
    if info.package_dir is None:
        return "no solo-learn host found (set SOLO_LEARN_SRC or install solo-learn)"
    family = f"{info.family} family" if info.family else "UNSUPPORTED"
    where = info.source
    if info.commit:
        tested = ", the tested commit" if info.commit == TESTED_COMMIT else ""
        where += f" {info.commit}{tested}"
    declared = f"declares {info.declared_version}" if info.declared_version else "no version"
    launchers = "launchers main_*.py" if info.launchers else "no launchers"
    return (
        f"{info.layout} layout ({family}); {where}; {declared}; {launchers}; "
        f"{info.package_dir.parent}"
    )


if __name__ == "__main__":
    print(describe_host(identify_host(sys.argv[1] if len(sys.argv) > 1 else None)))
