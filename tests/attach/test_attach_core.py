"""The host-neutral step core: crops by call order or by backbone identity, the fallback
projection, view counts, log names, the loss addition, the log-point cadence, the aux record."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from e2mc_plugin.attach import (
    Capture,
    ViewCountError,
    add_aux_loss,
    apply_aux_sets,
    aux_log_items,
    describe_aux_change,
    is_log_point,
)
from e2mc_plugin.aux_losses import build_aux_losses

E2MC = {"name": "e2mc", "beta": 2.0, "gamma": 3.0, "mapping": "sigmoid"}


def crops(n=4, dim=6, count=4):
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(n, dim, generator=gen) for _ in range(count)]


def test_call_order_captures_only_the_hooked_object_inside_the_block():
    head = nn.Linear(6, 5)
    twin = copy.deepcopy(head)  # a momentum copy
    xs = crops()
    head(xs[0])  # before the step: not captured
    with Capture({"head": head}, owner="M") as cap:
        expected = []
        for x in xs:
            expected.append(head(x))
            twin(x)
    head(xs[0])  # after: not captured
    assert cap.count("head") == 4
    assert all(a is b for a, b in zip(cap.views("head", 4), expected, strict=True))
    assert not head._forward_hooks and not twin._forward_hooks


def test_call_order_too_few_views_names_both_counts_and_non_tensor_outputs():
    class Pair(nn.Module):
        def forward(self, x):
            return x, x

    pair, head = Pair(), nn.Linear(6, 5)
    with Capture({"head": head, "pair": pair}, owner="M") as cap:
        head(crops()[0])
        pair(crops()[0])
    with pytest.raises(
        ViewCountError, match=r"M: training_step called 'head' 1 time\(s\).*2 views"
    ):
        cap.views("head", 2)
    with pytest.raises(ViewCountError, match="1 other call.*returned tuple"):
        cap.views("pair", 2)


def test_anchor_matches_crops_by_identity_and_projects_the_missing_ones():
    backbone, head = nn.Linear(6, 6), nn.Linear(6, 5)
    xs = crops()
    with Capture({"head": head}, anchor=backbone, owner="M") as cap:
        feats = [backbone(x) for x in xs]
        z1 = head(feats[1])  # out of order, and crops 2, 3 never reach the head
        z0 = head(feats[0])
        cap.stop()
        views = cap.views("head", 4)
    assert views[0] is z0 and views[1] is z1
    torch.testing.assert_close(views[3], head(feats[3]))
    with pytest.raises(ViewCountError, match="the backbone ran on 4 crops.*need 5"):
        cap.views("head", 5)


def test_apply_aux_sets_gives_large_the_first_n_and_all_every_crop():
    zs = crops()
    head = nn.Identity()
    groups = [("head", build_aux_losses([E2MC, dict(E2MC, views="all")]))]
    with Capture({"head": head}) as cap:
        for z in zs:
            head(z)
    ((path, out),) = apply_aux_sets(cap, groups, n_large=2, n_all=cap.count("head"))
    ref = build_aux_losses([E2MC])
    assert out["e2mc/loss"] == ref(zs[:2])["loss"]
    assert out["e2mc_2/loss"] == build_aux_losses([dict(E2MC, views="all")])(zs[:2], zs)["loss"]
    assert out["e2mc_2/loss"] != out["e2mc/loss"]


def test_log_names_and_total():
    one = {
        "loss": torch.tensor(1.0),
        "e2mc/loss": torch.tensor(1.0),
        "e2mc/entropy": torch.tensor(2.0),
    }
    two = {"loss": torch.tensor(3.0), "mmcr/loss": torch.tensor(3.0)}
    total, items = aux_log_items([("projector", one), ("backbone", two)], "projector")
    assert float(total) == 4.0
    assert [name for name, _ in items] == [
        "train_aux/e2mc/loss",
        "train_aux/e2mc/entropy",
        "train_aux/backbone/loss",
        "train_aux/backbone/mmcr/loss",
        "train_aux/loss",
    ]


def test_add_aux_loss_to_a_tensor_a_dict_or_a_skipped_step():
    aux = torch.tensor(2.0)
    assert add_aux_loss(torch.tensor(1.0), aux)[1] == 3.0
    out, loss = add_aux_loss({"loss": torch.tensor(1.0), "z": 5}, aux)
    assert out == {"loss": loss, "z": 5} and loss == 3.0
    assert add_aux_loss(None, aux) == (None, None)
    with pytest.raises(TypeError, match=r"M\.training_step returned a mapping with keys \['z'\]"):
        add_aux_loss({"z": 1}, aux, owner="M.training_step")
    with pytest.raises(TypeError, match="returned a list"):
        add_aux_loss([torch.tensor(1.0)], aux)


def test_log_points_and_aux_record_change():
    assert [b for b in range(6) if is_log_point(b, 3)] == [2, 5]
    assert all(is_log_point(b, 0) for b in range(3))
    saved = [{"name": "e2mc", "beta": 1000}, {"name": "mmcr"}]
    assert describe_aux_change(saved, saved) == ""
    assert describe_aux_change(saved, [{"name": "e2mc", "beta": 10}]) == (
        "aux_losses[0].beta: 1000 -> 10; aux_losses[1]: removed {'name': 'mmcr'}"
    )
