"""The wrapper on REAL host method classes, inside a real Lightning fit (CPU, tiny resnet18).

Per case: the fit runs; the captured embeddings are the embedding module's output (before any
normalization / prototypes / predictor) for each crop in crop order, equal to an independent
``module(backbone(crop))``; the logged ``train_aux/*`` terms are finite and equal the criterion
recomputed from those embeddings; the aux gradient reaches the backbone; validation (sanity check
+ epoch end) runs with no hook installed. Plus: ``aux_losses: []`` is the unwrapped method, bit for
bit (same per-step losses, same final weights).
"""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch

from e2mc_plugin.testing.data import synthetic_eval_loader, synthetic_pretrain_loader
from e2mc_plugin.testing.presets import tiny_cfg

# no host marker = runs on either host (host102 / host106 mark the single-host cases)
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("solo") is None, reason="needs a solo-learn host (1.0.2 or 1.0.6)"
)
H102, H106 = pytest.mark.host102, pytest.mark.host106
BOTH = ()

E2MC_VICREG = {"name": "e2mc", "beta": 1000, "gamma": 100, "mapping": "sigmoid"}
E2MC_SWAV = {"name": "e2mc", "beta": 1, "gamma": 25, "mapping": "gaussian_cdf"}
E2MC_SIMSIAM = {"name": "e2mc", "beta": 0.001, "gamma": 0.01, "mapping": "gaussian_cdf"}
MMCR = {"name": "mmcr", "weight": 0.005}  # views="all" by default

# id, hosts, method, small crops, aux_losses
CASES = [
    ("vicreg-e2mc", BOTH, "vicreg", 0, [E2MC_VICREG]),
    ("swav-2+2-e2mc+mmcr", BOTH, "swav", 2, [E2MC_SWAV, MMCR]),
    ("simsiam-e2mc", BOTH, "simsiam", 0, [E2MC_SIMSIAM]),
    ("vicreg-2+2-mmcr", BOTH, "vicreg", 2, [MMCR]),
    ("byol-2+2-e2mc+mmcr", (H106,), "byol", 2, [E2MC_SWAV, MMCR]),
    ("mocov3-e2mc+vcreg", (H106,), "mocov3", 0, [E2MC_SWAV, {"name": "vcreg"}]),
    ("dino-e2mc+auh", (H106,), "dino", 0, [E2MC_SWAV, {"name": "auh"}]),
    # a second group on another module: E2MC on the backbone features themselves
    (
        "simsiam-e2mc+backbone-vcreg",
        BOTH,
        "simsiam",
        0,
        [E2MC_SIMSIAM, {"name": "vcreg", "space": "projector", "embedding": "backbone"}],
    ),
]


def _params():
    for cid, marks, *rest in CASES:
        yield pytest.param(*rest, id=cid, marks=list(marks))


def _close(a, b, rtol=1e-5, atol=1e-6):
    return torch.allclose(a.float(), b.float(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("method,n_small,aux", _params())
def test_solo_wrapped_fit_captures_logs_and_backprops(method, n_small, aux, probe):
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.host import compat

    cfg = tiny_cfg(method, aux_losses=aux, **{"data.num_small_crops": n_small})
    torch.manual_seed(0)
    model = api.build_method(cfg)
    assert type(model).__name__.endswith("WithAux")
    n_crops = 2 + n_small
    train = synthetic_pretrain_loader(16, batch_size=8, num_small_crops=n_small)
    val = synthetic_eval_loader(8, batch_size=8)
    trainer = api.fit(
        model,
        train,
        val_loader=val,
        max_epochs=1,
        seed=0,
        callbacks=[probe],
        enable_progress_bar=False,
        num_sanity_val_steps=1,
    )

    assert len(probe.steps) == 2
    default = "head.mlp" if method == "dino" else "projector"
    groups = dict(model._aux_groups)
    assert next(iter(groups)) == default
    for step in probe.steps:
        assert torch.isfinite(step["loss"])
        assert set(step["views"]) == set(groups)
        for path, aux_set in groups.items():
            views = step["views"][path]
            assert len(views) == (n_crops if aux_set.wants_all_views else 2)
            # embeddings: the module's own output per crop, in crop order
            for i, (got, exp) in enumerate(zip(views, step["expected"][path], strict=True)):
                assert got.shape == exp.shape
                assert _close(got, exp, rtol=1e-4, atol=1e-5), (
                    f"{path} crop {i}: max diff {(got - exp).abs().max()}"
                )
        # logged terms == the criteria recomputed from the captured embeddings
        recomputed, total = {}, 0.0
        for path, aux_set in groups.items():
            views = step["views"][path]
            res = aux_set(views[:2], views)
            total = total + res["loss"]
            if path == default:
                res.pop("loss")  # the default group's own total is logged as the overall total
            recomputed.update(
                {(k if path == default else f"{path}/{k}"): v for k, v in res.items()}
            )
        recomputed["loss"] = total
        assert set(step["out"]) == set(recomputed)
        for k, v in recomputed.items():
            assert torch.isfinite(step["out"][k]), k
            assert _close(step["out"][k], v), (k, step["out"][k], v)
        # the aux term alone moves the backbone
        g = step["backbone_grad"]
        assert torch.isfinite(g).all() and g.abs().sum() > 0

    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    last = probe.steps[-1]["out"]
    assert math.isclose(
        metrics["train_aux/loss_step"], float(last["loss"]), rel_tol=1e-5, abs_tol=1e-6
    )
    for k, v in last.items():
        if k != "loss":
            assert math.isclose(
                metrics[f"train_aux/{k}_step"], float(v), rel_tol=1e-5, abs_tol=1e-6
            ), k
            assert math.isfinite(metrics[f"train_aux/{k}"])
    # validation ran (sanity check + epoch end) with no hook installed, none left behind
    assert probe.hooks_in_validation and set(probe.hooks_in_validation) == {0}
    assert len(compat.get_backbone(model)._forward_hooks) == 0
    assert len(model.get_submodule(default)._forward_hooks) == 0


IDENTITY_CASES = [
    pytest.param("vicreg", 0, id="vicreg", marks=list(BOTH)),
    pytest.param("swav", 0, id="swav", marks=[H102]),
    pytest.param("swav", 2, id="swav-2+2", marks=[H106]),
    pytest.param("simsiam", 0, id="simsiam", marks=list(BOTH)),
    pytest.param("mocov3", 0, id="mocov3", marks=[H106]),
]


@pytest.mark.parametrize("method,n_small", IDENTITY_CASES)
def test_solo_empty_aux_losses_is_bit_identical_to_host_method(
    method, n_small, loss_recorder_factory
):
    """Bit-identity on purpose: with ``aux_losses: []`` the wrapped class must run the very
    same operations as the host's class, in the same order, on the same CPU kernels, so any
    difference, even one rounding step, means the wrapper changed the computation (an extra
    forward, a reordered reduction, an RNG draw). Both runs are in one process, so the CPU's
    vector kernels are the same for both and the comparison holds on any CPU."""
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.method.wrapper import base_method_of

    cfg = tiny_cfg(method, **{"data.num_small_crops": n_small})

    def run(wrap: bool):
        torch.manual_seed(0)
        model = api.build_method(cfg, wrap=wrap)
        rec = loss_recorder_factory()
        train = synthetic_pretrain_loader(16, batch_size=8, num_small_crops=n_small)
        api.fit(model, train, max_epochs=1, seed=0, callbacks=[rec], enable_progress_bar=False)
        return model, rec.losses

    plain, plain_losses = run(False)
    wrapped, wrapped_losses = run(True)
    assert base_method_of(type(wrapped)) is type(plain) and isinstance(wrapped, type(plain))
    assert len(plain_losses) == len(wrapped_losses) == 2
    for a, b in zip(plain_losses, wrapped_losses, strict=True):
        assert torch.equal(a, b), (a, b)
    sa, sb = plain.state_dict(), wrapped.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
