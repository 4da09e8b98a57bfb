"""The one feature extractor (``e2mc_plugin.solo.api``): backbone features and raw projector
outputs in eval mode, for evaluation and pretraining batches, mode restored."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

pytest.importorskip("solo")


def test_diag_extract_features_matches_a_manual_eval_pass():
    from e2mc_plugin.demo.preset import DemoConfig, method_cfg
    from e2mc_plugin.solo.api import build_method, extract_features
    from e2mc_plugin.solo.host import compat

    torch.manual_seed(0)
    model = build_method(method_cfg(DemoConfig(proj_hidden_dim=16, proj_output_dim=8), lr=0.1))
    x, y = torch.randn(10, 3, 16, 16), torch.arange(10)
    model.train()
    got = extract_features(model, DataLoader(TensorDataset(x, y), batch_size=4))
    assert model.training  # restored
    model.eval()
    with torch.no_grad():
        f = compat.get_backbone(model)(x)
        z = model.projector(f)  # eval mode: batch-norm running statistics, as the probes see it
    torch.testing.assert_close(got.features, f)
    torch.testing.assert_close(got.projections, z)
    assert got.projections.shape == (10, 8) and torch.equal(got.labels, y)

    # pretraining batches [indexes, [crops...], targets]: the first crop is used
    batches = [[torch.arange(10), [x, torch.zeros_like(x)], y]]
    again = extract_features(model, batches)
    torch.testing.assert_close(again.features, f)
    # a bare backbone: its features are the projections
    bare = extract_features(
        compat.get_backbone(model), DataLoader(TensorDataset(x, y), batch_size=5)
    )
    torch.testing.assert_close(bare.projections, bare.features)
    torch.testing.assert_close(bare.features, f)
