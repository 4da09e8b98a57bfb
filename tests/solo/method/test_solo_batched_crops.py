"""``batched_crops: true``: the reference SwAV multi-crop forward (facebookresearch/swav,
``src/resnet50.py``: the backbone once per resolution group, the head once on every crop) inside
solo-learn's own SwAV step, checked against a hand-batched forward of the same weights written
here with plain torch and the host's SwAV loss; and against the per-crop path, which must differ.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from e2mc_plugin.aux_losses import build_aux_losses
from e2mc_plugin.testing.presets import tiny_cfg

E2MC = {"name": "e2mc", "beta": 10.0, "gamma": 1.0, "mapping": "sigmoid", "views": "all"}
B = 8


def _cfg(batched: bool, aux=(E2MC,)):
    return tiny_cfg(
        "swav_aux",
        aux_losses=[dict(a) for a in aux],
        batched_crops=batched,
        **{"data.num_small_crops": 2},
    )


def _batch():
    g = torch.Generator().manual_seed(3)
    large = [torch.randn(B, 3, 32, 32, generator=g) for _ in range(2)]
    small = [torch.randn(B, 3, 16, 16, generator=g) for _ in range(2)]
    targets = torch.randint(0, 10, (B,), generator=g)
    return [torch.arange(B), large + small, targets]


def _twin(model, cfg):
    """A second build with ``model``'s weights and buffers (weight_norm defeats deepcopy)."""
    from e2mc_plugin.solo.api import build_method

    twin = build_method(cfg)
    twin.load_state_dict(model.state_dict())
    return twin


def _ready(model):
    from solo.utils.sinkhorn_knopp import SinkhornKnopp

    model.sk = SinkhornKnopp(model.sk_iters, model.sk_epsilon, 1)  # on_train_start's job
    return model.train()


def _step(model, batch):
    """One wrapped training step: (loss, aux output, projector outputs, prototype outputs)."""
    seen = {"aux": None, "z": [], "p": []}
    hooks = [
        model.projector.register_forward_hook(lambda m, i, o: seen["z"].append(o)),
        model.prototypes.register_forward_hook(lambda m, i, o: seen["p"].append(o)),
    ]
    if hasattr(model, "aux_losses"):
        hooks.append(model.aux_losses[0].register_forward_hook(lambda m, i, o: seen.update(aux=o)))
    try:
        out = model.training_step(batch, 0)
    finally:
        for h in hooks:
            h.remove()
    return out["loss"] if isinstance(out, dict) else out, seen


def _hand_batched(model, batch, aux_specs):
    """The reference forward written out: backbone per resolution group, head on all crops."""
    from solo.losses.swav import swav_loss_func

    _, X, targets = batch
    fmt = torch.preserve_format if model.no_channel_last else torch.channels_last
    groups = [torch.cat(X[:2]), torch.cat(X[2:])]  # 32x32, then 16x16
    f = torch.cat([model.backbone(g.to(memory_format=fmt)) for g in groups])
    z_raw = model.projector(f)
    p = model.prototypes(F.normalize(z_raw))
    logits = model.classifier(f[: 2 * B].detach())
    class_loss = F.cross_entropy(logits, targets.repeat(2), ignore_index=-1)
    preds = list(p.split(B))
    with torch.no_grad():
        assignments = [model.sk(q)[:B] for q in preds[:2]]
    swav = swav_loss_func(preds, assignments, model.temperature)
    views = list(z_raw.split(B))
    aux = build_aux_losses(list(aux_specs))(views[:2], views) if aux_specs else {}
    total = swav + class_loss + (aux["loss"] if aux_specs else 0)
    return total, aux, z_raw, p


def _bn_state(model):
    return {
        k: v.clone() for k, v in model.state_dict().items() if "running_" in k or "num_batches" in k
    }


def _grads(model, loss):
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.host106
@pytest.mark.parametrize("aux", [(E2MC,), ()], ids=["e2mc", "continued"])
def test_batched_swav_step_equals_the_hand_batched_reference_forward(aux):
    from e2mc_plugin.solo.api import build_method

    torch.manual_seed(0)
    model = _ready(build_method(_cfg(True, aux)))
    ref = _ready(_twin(model, _cfg(True, aux)))
    batch = _batch()

    loss, seen = _step(model, batch)
    want, want_aux, want_z, want_p = _hand_batched(ref, batch, aux)

    tol = {"rtol": 1e-5, "atol": 1e-5}
    assert len(seen["z"]) == len(seen["p"]) == 1  # one head call on all 4 crops
    torch.testing.assert_close(seen["z"][0], want_z, **tol)
    torch.testing.assert_close(seen["p"][0], want_p, **tol)
    torch.testing.assert_close(loss, want, **tol)
    if aux:
        assert set(seen["aux"]) == set(want_aux) and len(want_aux) > 2
        for key in want_aux:
            torch.testing.assert_close(seen["aux"][key], want_aux[key], **tol)
    got_bn, want_bn = _bn_state(model), _bn_state(ref)
    assert got_bn.keys() == want_bn.keys() and any("projector" in k for k in got_bn)
    for key in want_bn:
        torch.testing.assert_close(got_bn[key], want_bn[key], **tol, msg=key)
    got_g, want_g = _grads(model, loss), _grads(ref, want)
    assert got_g.keys() == want_g.keys()
    for key in want_g:
        scale = float(want_g[key].abs().max())  # float32 sums in another order
        torch.testing.assert_close(
            got_g[key], want_g[key], rtol=1e-3, atol=1e-6 + 1e-4 * scale, msg=key
        )


@pytest.mark.host106
def test_the_per_crop_host_path_differs_and_stays_the_default():
    from e2mc_plugin.solo.api import build_method

    torch.manual_seed(0)
    plain = _ready(build_method(_cfg(False)))
    assert plain._recipe.batched_crops is False  # unset = the host's per-crop forward
    batched = _ready(_twin(plain, _cfg(True)))
    batch = _batch()
    loss_plain, seen_plain = _step(plain, batch)
    loss_batched, _ = _step(batched, batch)
    assert len(seen_plain["z"]) == 4  # one projector call per crop
    assert not torch.allclose(loss_plain, loss_batched, rtol=1e-4, atol=1e-4)
    bn = "projector.1.running_mean"
    assert not torch.allclose(plain.state_dict()[bn], batched.state_dict()[bn], atol=1e-6)


@pytest.mark.host106
def test_batched_crops_is_refused_for_a_method_without_a_batched_forward_and_checked():
    from e2mc_plugin.solo.api import build_method
    from e2mc_plugin.solo.recipe.schema import ConfigError

    with pytest.raises(ConfigError, match=r"batched_crops: .*VICReg.*swav"):
        build_method(tiny_cfg("vicreg_aux", batched_crops=True))
    with pytest.raises(ConfigError, match=r"batched_crops: expected true or false .*got 'yes'"):
        build_method(tiny_cfg("swav_aux", batched_crops="yes"))
    with pytest.raises(ConfigError, match=r"method_kwargs.batched_crops: .*top level"):
        build_method(tiny_cfg("swav_aux", **{"method_kwargs.batched_crops": True}))


@pytest.mark.host102
def test_batched_crops_needs_the_106_host():
    from e2mc_plugin.solo.api import build_method
    from e2mc_plugin.solo.recipe.schema import ConfigError

    with pytest.raises(ConfigError, match=r"batched_crops: needs solo-learn 1.0.6"):
        build_method(tiny_cfg("swav_aux", batched_crops=True))
