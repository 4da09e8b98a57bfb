"""attach_aux_losses on a plain LightningModule (CPU, either Lightning package): the aux loss joins
the returned loss with its gradient, terms are logged, specs=[] changes nothing, only the online
embedding module is hooked, errors name what is wrong."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import lightning_models as lm  # noqa: E402

from e2mc_plugin.attach import ConfigError, ViewCountError  # noqa: E402
from e2mc_plugin.aux_losses import build_aux_losses  # noqa: E402
from e2mc_plugin.lightning import AUX_MODULE_NAME, attach_aux_losses  # noqa: E402


def reference_step(specs, rows=range(8), views=2, **model_kwargs):
    """One SGD step by hand: (host + aux loss, aux terms, parameters after the step)."""
    model = lm.TinySSL(**model_kwargs)
    z = model.embed(lm.ViewsDataset(16, views=views).batch(rows))
    aux = build_aux_losses(specs)(z[:2], z)
    total = model.host_loss(z) + aux["loss"]
    total.backward()
    lr = model.hparams.lr
    after = {
        n: (p - lr * p.grad).detach() for n, p in model.named_parameters() if p.grad is not None
    }
    return total.detach(), {k: float(v.detach()) for k, v in aux.items()}, after


def fit(model, steps=1, views=2, **kwargs):
    rec = lm.StepRecorder()
    lm.trainer(max_steps=steps, callbacks=[rec], **kwargs).fit(model, lm.loader(views=views))
    return rec


def assert_params(model, expected):
    for name, value in expected.items():
        got = dict(model.named_parameters())[name].detach()
        assert torch.allclose(got, value, rtol=1e-5, atol=1e-6), name


@pytest.mark.parametrize("output", ["tensor", "dict"])
def test_aux_loss_is_added_to_the_returned_loss_with_its_gradient(output):
    total, terms, after = reference_step([lm.E2MC])
    model = attach_aux_losses(lm.TinySSL(output=output), [lm.E2MC], embedding="projection_head")
    rec = fit(model)
    assert torch.allclose(rec.losses[0], total, rtol=1e-5)
    step = rec.metrics[0]
    for key in ("loss", "entropy", "covariance"):
        assert step[f"train_aux/e2mc/{key}_step"] == pytest.approx(terms[f"e2mc/{key}"], rel=1e-5)
    assert step["train_aux/loss_step"] == pytest.approx(terms["loss"], rel=1e-5)
    assert_params(model, after)


def test_empty_specs_leave_training_bit_identical():
    """Bit-identity on purpose: attaching ``[]`` must leave the module's own operations
    untouched, so both trainings run the same code path in one process (same kernels, same
    order) and any difference, even in the last bit, is a change the adapter made."""
    plain, attached = lm.TinySSL(), attach_aux_losses(lm.TinySSL(), [], embedding="projection_head")
    fit(plain, steps=2)
    rec = fit(attached, steps=2)
    assert not hasattr(attached, AUX_MODULE_NAME)
    assert not any(k.startswith("train_aux") for k in rec.metrics[-1])
    for (name, a), b in zip(
        plain.state_dict().items(), attached.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    with_aux = attach_aux_losses(lm.TinySSL(), [lm.E2MC], embedding="projection_head")
    fit(with_aux, steps=2)  # the comparison above can fail: E2MC does change the weights
    assert not torch.equal(with_aux.backbone[0].weight, plain.backbone[0].weight)


def test_views_all_reads_every_call_large_the_first_two():
    specs = [dict(lm.E2MC, views="all"), dict(lm.E2MC, beta=1.0)]
    total, terms, after = reference_step(specs, views=4)
    model = attach_aux_losses(lm.TinySSL(), specs, embedding="projection_head")
    rec = fit(model, views=4)
    step = rec.metrics[0]
    assert step["train_aux/e2mc/entropy_step"] == pytest.approx(terms["e2mc/entropy"], rel=1e-5)
    assert step["train_aux/e2mc_2/entropy_step"] == pytest.approx(terms["e2mc_2/entropy"], rel=1e-5)
    assert terms["e2mc/entropy"] != pytest.approx(terms["e2mc_2/entropy"], rel=1e-3)
    assert torch.allclose(rec.losses[0], total, rtol=1e-5)
    assert_params(model, after)


def test_momentum_copy_of_the_embedding_is_never_hooked():
    total, terms, after = reference_step([lm.E2MC], momentum=True)
    model = attach_aux_losses(lm.TinySSL(momentum=True), [lm.E2MC], embedding="projection_head")
    rec = fit(model)
    assert rec.metrics[0]["train_aux/e2mc/entropy_step"] == pytest.approx(
        terms["e2mc/entropy"], rel=1e-5
    )
    assert_params(model, after)


def test_autocast_bf16_views_get_float32_criteria():
    captured = []
    model = attach_aux_losses(lm.TinySSL(), [lm.E2MC], embedding="projection_head")
    model.projection_head.register_forward_hook(lambda m, i, o: captured.append(o.detach()))
    rec = fit(model, precision=lm.BF16)
    assert captured[0].dtype == torch.bfloat16  # the host ran under autocast
    ref = build_aux_losses([lm.E2MC])([v.double() for v in captured[:2]])
    got = rec.metrics[0]["train_aux/e2mc/entropy_step"]
    assert got == pytest.approx(float(ref["e2mc/entropy"]), rel=1e-5)  # bf16 math: ~1e-2 off


def test_unknown_embedding_lists_the_submodules():
    with pytest.raises(ValueError, match="projection_head") as err:
        attach_aux_losses(lm.TinySSL(), [lm.E2MC], embedding="projector_head")
    assert "Did you mean 'projection_head'" in str(err.value) and "backbone" in str(err.value)


def test_attaching_twice_is_refused():
    model = attach_aux_losses(lm.TinySSL(), [lm.E2MC], embedding="projection_head")
    with pytest.raises(ValueError, match="already has aux losses attached"):
        attach_aux_losses(model, [{"name": "mmcr"}], embedding="projection_head")
    empty = attach_aux_losses(lm.TinySSL(), [], embedding="projection_head")
    with pytest.raises(ValueError, match="already has aux losses attached"):
        attach_aux_losses(empty, [lm.E2MC], embedding="projection_head")


def test_too_few_views_names_the_count():
    model = attach_aux_losses(lm.TinySSL(concat=True), [lm.E2MC], embedding="projection_head")
    with pytest.raises(ViewCountError, match=r"'projection_head' 1 time\(s\).*need 2 views"):
        fit(model)


def test_manual_optimization_and_unknown_loss_are_refused():
    model = lm.TinySSL()
    model.automatic_optimization = False
    with pytest.raises(ValueError, match="manual optimization"):
        attach_aux_losses(model, [lm.E2MC], embedding="projection_head")
    with pytest.raises(ConfigError, match=r"aux_losses\[0\]\.name: .*'e2mcc'.*'e2mc'"):
        attach_aux_losses(lm.TinySSL(), [{"name": "e2mcc"}], embedding="projection_head")
    with pytest.raises(TypeError, match="LightningModule"):
        attach_aux_losses(torch.nn.Linear(2, 2), [lm.E2MC], embedding="weight")
