"""``plain_values``: what a recipe or a sweep hands in becomes builtins only, so that a checkpoint
recording it loads with ``torch.load(weights_only=True)`` and compares equal to the YAML form."""

from __future__ import annotations

import io

import numpy as np
import torch
from omegaconf import OmegaConf

from e2mc_plugin.attach.plain import plain_values


def test_numpy_and_torch_scalars_become_builtins_recursively():
    value = {
        "beta": np.float64(10), "gamma": np.float32(0.5), "m": np.int64(3), "on": np.bool_(True),
        "name": np.str_("e2mc"), "t": torch.tensor(2.0), "nested": ({"k": np.float16(1.5)},),
        1: (x for x in [np.int32(4)]),
    }  # fmt: skip
    got = plain_values(value)
    assert got == {"beta": 10.0, "gamma": 0.5, "m": 3, "on": True, "name": "e2mc", "t": 2.0,
                   "nested": [{"k": 1.5}], "1": [4]}  # fmt: skip
    kinds = {k: type(v) for k, v in got.items()}
    assert kinds == {"beta": float, "gamma": float, "m": int, "on": bool, "name": str,
                     "t": float, "nested": list, "1": list}  # fmt: skip
    buffer = io.BytesIO()
    torch.save(got, buffer)
    buffer.seek(0)
    assert torch.load(buffer, weights_only=True) == got


def test_builtins_and_omegaconf_containers_pass_as_plain_python():
    conf = OmegaConf.create({"aux_losses": [{"name": "e2mc", "beta": 1000}], "x": "${y}", "y": 2})
    assert plain_values(conf) == {"aux_losses": [{"name": "e2mc", "beta": 1000}], "x": 2, "y": 2}
    for scalar in (None, "a", b"b", True, 3, 2.5):
        assert plain_values(scalar) is scalar
