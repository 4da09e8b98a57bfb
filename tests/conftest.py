"""Test-wide fixtures: which solo-learn host this environment has, and visible skips for the others.

Markers: ``host102`` / ``host106`` (needs that host), ``slow`` (own command), ``ddp`` (spawns gloo
processes). Test files have unique basenames and no ``__init__.py`` (importlib import mode), so
solo-learn's own top-level ``tests`` package cannot shadow ours.
"""

from __future__ import annotations

import os
from importlib import metadata
from typing import Optional

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")


def installed_host() -> Optional[str]:
    """Version of the installed solo-learn distribution, or None."""
    try:
        return metadata.version("solo-learn")
    except metadata.PackageNotFoundError:
        return None


HOST = installed_host()
_HOST_MARKS = {"host102": "1.0.2", "host106": "1.0.6"}


def pytest_report_header(config):
    return f"solo-learn host in this environment: {HOST or 'none'}"


def pytest_collection_modifyitems(config, items):
    for item in items:
        for mark, version in _HOST_MARKS.items():
            if mark in item.keywords and HOST != version:
                item.add_marker(
                    pytest.mark.skip(
                        reason=f"needs solo-learn {version}; this environment has {HOST or 'none'}"
                    )
                )


@pytest.fixture(scope="session")
def host_version() -> Optional[str]:
    return HOST


@pytest.fixture(scope="session")
def knn_cli_args():
    """Builder of solo-learn ``main_knn.py`` arguments for a tiny CPU evaluation (k = 3, batch 8,
    no workers, cosine, backbone features); keyword overrides replace or add ``--key value``."""

    def build(ckpt_dir, train, val, **overrides) -> list:
        options = {
            "dataset": "custom",
            "train_data_path": train,
            "val_data_path": val,
            "batch_size": 8,
            "num_workers": 0,
            "k": 3,
            "temperature": 0.07,
            "distance_function": "cosine",
            "feature_type": "backbone",
            **overrides,
        }
        args = ["--pretrained_checkpoint_dir", str(ckpt_dir)]
        for key, value in options.items():
            args += [f"--{key}", str(value)]
        return args

    return build
