"""Fixtures for the host-adapter tests: a probe callback that checks, inside a real Lightning fit,
what the wrapper captured against an independent recomputation."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """The CI / dev boxes have 2 shared cores: 2 intra-op threads under contention run resnet18
    up to 10x slower than 1 thread. Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_probe():
    """A Lightning callback (built lazily: the Lightning package depends on the host)."""
    from e2mc_plugin.solo.host import compat

    pl = compat.lightning()

    class Probe(pl.Callback):
        """Per training step, observed from outside the wrapper: the views and the output of each
        aux set (forward hooks on the method's ``AuxLossSet`` modules), an independent
        recomputation of each embedding (module(backbone(crop)) with the same inputs), and
        d(aux loss)/d(backbone)."""

        def __init__(self) -> None:
            self.steps: List[Dict[str, Any]] = []
            self.hooks_in_validation: List[int] = []
            self._batch = None
            self._calls: List[Any] = []
            self._handles: List[Any] = []

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx, *args):
            self._batch = batch
            self._calls = []
            for path, aux_set in pl_module._aux_groups:

                def hook(module, inputs, output, path=path):
                    large, all_views = inputs
                    views = all_views if module.wants_all_views else large
                    self._calls.append((path, list(views), output))

                self._handles.append(aux_set.register_forward_hook(hook))

        def _remove_hooks(self) -> None:
            for h in self._handles:
                h.remove()
            self._handles.clear()

        def on_train_batch_end(self, *args):
            self._remove_hooks()

        def on_before_backward(self, trainer, pl_module, loss):
            self._remove_hooks()
            if not self._calls:
                return
            default = pl_module._aux_groups[0][0]
            views_by_path = {path: views for path, views, _ in self._calls}
            out: Dict[str, torch.Tensor] = {}
            total = None
            for path, _, res in self._calls:
                total = res["loss"] if total is None else total + res["loss"]
                for k, v in res.items():
                    if k != "loss" or path != default:
                        out[k if path == default else f"{path}/{k}"] = v
            out["loss"] = total
            backbone = compat.get_backbone(pl_module)
            _, X, _ = self._batch
            expected: Dict[str, List[torch.Tensor]] = {}
            with torch.no_grad():
                for path, views in views_by_path.items():
                    module = (
                        backbone
                        if path == compat.PROFILE.backbone_attr
                        else pl_module.get_submodule(path)
                    )
                    exp = []
                    for x in X[: len(views)]:
                        if not getattr(pl_module, "no_channel_last", True):  # 1.0.6 only
                            x = x.to(memory_format=torch.channels_last)
                        f = backbone(x)
                        exp.append(f if module is backbone else module(f))
                    expected[path] = exp
            param = next(p for p in backbone.parameters() if p.requires_grad)
            (grad,) = torch.autograd.grad(out["loss"], param, retain_graph=True)
            views = {p: [v.detach().clone() for v in vs] for p, vs in views_by_path.items()}
            self.steps.append(
                {
                    "views": views,
                    "expected": expected,
                    "out": {k: v.detach().clone() for k, v in out.items()},
                    "loss": loss.detach().clone(),
                    "backbone_grad": grad.detach().clone(),
                }
            )

        def on_validation_batch_start(self, trainer, pl_module, *args):
            backbone = compat.get_backbone(pl_module)
            n = len(backbone._forward_hooks)
            for path, _ in pl_module._aux_groups:
                n += len(pl_module.get_submodule(path)._forward_hooks)
            self.hooks_in_validation.append(n)

    return Probe()


def make_loss_recorder():
    """A Lightning callback recording the loss Lightning backpropagates, per step."""
    from e2mc_plugin.solo.host import compat

    pl = compat.lightning()

    class Recorder(pl.Callback):
        def __init__(self) -> None:
            self.losses: List[torch.Tensor] = []

        def on_before_backward(self, trainer, pl_module, loss):
            self.losses.append(loss.detach().clone())

    return Recorder()


@pytest.fixture
def probe():
    """A fresh :func:`make_probe` callback."""
    return make_probe()


@pytest.fixture
def loss_recorder_factory():
    """:func:`make_loss_recorder` (call it once per fit)."""
    return make_loss_recorder
