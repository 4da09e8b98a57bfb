"""Part (a) of the GPU check on the CPU: its tolerances are the CPU suite's, every loss passes
under CPU autocast, an error of half-precision size is caught, and E2MC's gradients compare
summed over ties."""

import importlib.util
from pathlib import Path

import pytest
import torch

from e2mc_plugin.gpucheck import exactness

SUITE = Path(__file__).resolve().parents[1] / "aux_losses" / "test_aux_hypothesis.py"
TINY = (24, 12, 10)


def _suite():
    pytest.importorskip("hypothesis")
    spec = importlib.util.spec_from_file_location("suite_aux_hypothesis", SUITE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tolerances_and_settings_are_the_cpu_suites():
    suite = _suite()
    assert exactness.RTOL == suite.RTOL[torch.float32]
    text = SUITE.read_text()
    assert exactness.E2MC_VALUE_RTOL == 5e-3 and 'rtol = 5e-3 if name == "e2mc"' in text
    assert f"<= {exactness.GRAD_FACTOR} * rtol * size" in text
    assert set(exactness.SPHERE) == set(suite.SCALE_INVARIANT)
    keys = {"e2mc (sigmoid)": "e2mc", "e2mc (normal CDF)": "e2mc-cdf"}
    for label, spec in exactness.SPECS.items():
        expected = suite.SPECS[keys.get(label, label)]
        assert {k: v for k, v in spec.items() if k != "name"} == expected, label


@pytest.mark.parametrize("label", list(exactness.SPECS))
def test_every_loss_passes_under_cpu_bf16_autocast(label):
    row = exactness.compare(label, torch.bfloat16, torch.device("cpu"), TINY, seed=3)
    assert row["views"] == "bfloat16" and row["terms fp32"], row
    assert row["ok"], row


def test_an_error_of_half_precision_size_is_caught(monkeypatch):
    """A loss off by 2^-5 (relative) when run on half-precision views fails the row."""
    real = exactness.build_aux_loss

    class Skewed(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, views):
            out = dict(self.inner(views))
            if views[0].dtype != torch.float64:
                out = {k: v * (1 + 2.0**-5) for k, v in out.items()}
            return out

        def raise_if_nonfinite(self):
            self.inner.raise_if_nonfinite()

    monkeypatch.setattr(exactness, "build_aux_loss", lambda name, **kw: Skewed(real(name, **kw)))
    row = exactness.compare("e2mc (sigmoid)", torch.bfloat16, torch.device("cpu"), TINY, seed=0)
    assert not row["ok"]
    assert row["value error"] > row["value tol"] and row["grad error"] > row["grad tol"]


def test_tie_sums_are_the_same_whichever_tied_element_gets_the_gradient():
    z = torch.tensor([[1.0], [0.0], [1.0], [2.0]], dtype=torch.float64)
    g = torch.tensor([[10.0], [20.0], [30.0], [40.0]], dtype=torch.float64)
    swapped = torch.tensor([[30.0], [20.0], [10.0], [40.0]], dtype=torch.float64)
    sums = exactness.tie_sums(z, g)
    assert sums[:, 0].tolist() == [20.0, 40.0, 40.0, 0.0]  # groups 0, {1, 1}, 2
    assert torch.equal(sums, exactness.tie_sums(z, swapped))
    assert not torch.equal(exactness.tie_sums(z, g), exactness.tie_sums(z, g.flip(0)))
