"""``e2mc_linear.classifier_init`` in the plugin's LinearModel (solo-learn 1.0.6): ``reference``
gives the classifier N(0, 0.01^2) weights and a zero bias (checked statistically), ``default``
PyTorch's, null leaves the host's classifier exactly as the host builds it. The probe recipes'
value is a row of the PROTOCOL table (test_configs_protocol_table.py)."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.host106

omegaconf = pytest.importorskip("omegaconf")
torch = pytest.importorskip("torch")
stats = pytest.importorskip("scipy.stats")
from omegaconf import OmegaConf  # noqa: E402

from e2mc_plugin.solo.linear_model import plugin_linear_model_class  # noqa: E402
from e2mc_plugin.solo.recipe.linear import parse_linear_block  # noqa: E402
from e2mc_plugin.solo.recipe.schema import ConfigError  # noqa: E402

CLASSES = 1000  # 512 x 1000 weights on a ResNet-18


def _cfg(init):
    cfg = OmegaConf.create(
        {
            "max_epochs": 2,
            "devices": "1",
            "data": {"num_classes": CLASSES, "augmentations": {"crop_size": 224}},
            "optimizer": {"name": "lars", "batch_size": 256, "lr": 0.1, "weight_decay": 0.0,
                          "kwargs": {"eta": 0.02, "clip_lr": True, "exclude_bias_n_norm": True}},
            "scheduler": {"name": "warmup_cosine", "warmup_epochs": 0, "interval": "epoch"},
            "finetune": False,
            "e2mc_linear": {"classifier_init": init},
        }
    )  # fmt: skip
    OmegaConf.set_struct(cfg, False)
    return cfg


def _backbone():
    import torchvision

    backbone = torchvision.models.resnet18()
    backbone.fc = torch.nn.Identity()
    return backbone


def _classifier(init, seed=0):
    from solo.methods.linear import LinearModel

    backbone = _backbone()
    torch.manual_seed(seed)
    return plugin_linear_model_class(LinearModel)(backbone, cfg=_cfg(init)).classifier


def _chi2_ok(weight, sigma, alpha=1e-6) -> bool:
    w = weight.detach().double().flatten()
    q = float((w**2).sum()) / sigma**2
    n = w.numel()
    return stats.chi2.ppf(alpha / 2, n) < q < stats.chi2.ppf(1 - alpha / 2, n)


def test_reference_gives_n_0_001_weights_and_zero_bias():
    classifier = _classifier("reference")
    assert isinstance(classifier, torch.nn.Linear) and classifier.in_features == 512
    assert _chi2_ok(classifier.weight, 0.01)
    assert (
        stats.kstest(classifier.weight.detach().flatten().numpy(), "norm", (0, 0.01)).pvalue > 1e-6
    )
    assert torch.count_nonzero(classifier.bias) == 0


def test_default_is_pytorch_and_null_is_the_host_classifier_untouched():
    from solo.methods.linear import LinearModel

    default = _classifier("default")
    bound = 1 / math.sqrt(512)
    assert default.weight.abs().max() <= bound and default.bias.abs().max() <= bound
    assert not _chi2_ok(default.weight, 0.01)
    assert default.weight.detach().double().std().item() == pytest.approx(
        bound / math.sqrt(3), rel=2e-2
    )
    as_built = _classifier(None, seed=3)
    backbone = _backbone()
    torch.manual_seed(3)
    host = LinearModel(backbone, cfg=_cfg(None)).classifier
    assert torch.equal(as_built.weight, host.weight) and torch.equal(as_built.bias, host.bias)


def test_unknown_value_names_the_valid_ones():
    assert parse_linear_block({"classifier_init": "reference"}).classifier_init == "reference"
    with pytest.raises(
        ConfigError, match=r"classifier_init: unknown .*'normal'.*reference, default"
    ):
        parse_linear_block({"classifier_init": "normal"})
