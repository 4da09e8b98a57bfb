"""Build hook: the wheel carries the recipes and patches that live at the repository's top level.

``configs/`` and ``patches/`` stay where they are in the repository; ``build_py`` copies them into
``e2mc_plugin/_resources/`` of the build, where ``e2mc_plugin._resources.resource_dir`` finds them
in an installed (non-editable) package. Everything else is declared in ``setup.cfg``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
RESOURCES = ("configs", "patches")
SUFFIXES = {".yaml", ".yml", ".md", ".patch", ".sh"}


class BuildPyWithResources(build_py):
    """``build_py`` + a copy of ``configs/`` and ``patches/`` (data files only)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout itself
        for name in RESOURCES:
            source = ROOT / name
            target = Path(self.build_lib) / "e2mc_plugin" / "_resources" / name
            if target.exists():
                shutil.rmtree(target)
            for path in sorted(source.rglob("*")):
                if path.is_file() and path.suffix in SUFFIXES:
                    dest = target / path.relative_to(source)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, dest)


setup(cmdclass={"build_py": BuildPyWithResources})
