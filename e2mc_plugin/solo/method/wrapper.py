"""``with_aux_losses(MethodCls)``: the same solo-learn method plus auxiliary losses (CaSSLe-style).

The factory combines :class:`~e2mc_plugin.solo.method.mixin.AuxLossesMixin` with the host class in a
``class`` statement; the result is named ``<Method>WithAux``, lives in this module and is cached, so
it pickles (``ddp_spawn``) and unpickles in a fresh process through the module ``__getattr__``.

On solo-learn 1.0.2 the methods other than SimCLR/BYOL/W-MSE cannot take small crops (their
``training_step`` unpacks exactly two features); the wrapper shows them only the large crops and
encodes the small crops itself for the all-view losses (the host profile's ``small_crop_methods``).
"""

from __future__ import annotations

import sys
from typing import Dict, Optional

from e2mc_plugin.solo.host import compat
from e2mc_plugin.solo.host.picklable import picklable_subclass, rebuilding_getattr
from e2mc_plugin.solo.method.mixin import SKIP_PRETRAINED_ENV, AuxLossesMixin

__all__ = ["with_aux_losses", "is_wrapped", "base_method_of", "SKIP_PRETRAINED_ENV"]

_WRAPPED: Dict[type, type] = {}


def is_wrapped(cls: type) -> bool:
    return isinstance(cls, type) and "_e2mc_base_method" in cls.__dict__


def base_method_of(cls: type) -> type:
    """The host class a wrapped class was made from (``cls`` itself if it is not wrapped)."""
    return cls.__dict__.get("_e2mc_base_method", cls)


def with_aux_losses(method_cls: type) -> type:
    """Return ``method_cls`` + auxiliary losses (cached: the same class for the same input).

    The subclass ``class <Method>WithAux(AuxLossesMixin, method_cls)`` reads ``aux_losses``,
    ``pretrained`` and ``param_group_lr`` (see :mod:`e2mc_plugin.solo.recipe.schema`) and logs
    ``train_aux/loss``, ``train_loss`` (progress bar) and ``train_aux/<loss>/<term>`` with
    ``on_epoch=True, sync_dist=True``. A class that is already wrapped is returned unchanged.
    """
    if is_wrapped(method_cls):
        return method_cls
    if method_cls in _WRAPPED:
        return _WRAPPED[method_cls]
    name = f"{method_cls.__name__}WithAux"
    module = sys.modules[__name__]
    existing = module.__dict__.get(name)  # not getattr: the module __getattr__ would recurse
    if existing is not None and base_method_of(existing) is not method_cls:
        name = f"{method_cls.__module__.replace('.', '_')}_{name}"

    class Wrapped(AuxLossesMixin, method_cls):
        _e2mc_base_method = method_cls

    Wrapped.__doc__ = (
        f"{method_cls.__name__} with e2mc-plugin auxiliary losses.\n\n{with_aux_losses.__doc__}"
    )
    _WRAPPED[method_cls] = picklable_subclass(Wrapped, __name__, name)
    return Wrapped


def _rebuild(name: str) -> Optional[type]:
    """``<HostClass>WithAux`` on first access, so that a pickled wrapped model (``ddp_spawn``,
    multiprocessing) unpickles in a fresh process where the class was not created yet."""
    if not name.endswith("WithAux"):
        return None
    methods = compat.host_methods()
    host = {cls.__name__: cls for cls in methods.values() if isinstance(cls, type)}
    base = host.get(name[: -len("WithAux")])
    return with_aux_losses(base) if base is not None and not is_wrapped(base) else None


__getattr__ = rebuilding_getattr(__name__, _rebuild)
