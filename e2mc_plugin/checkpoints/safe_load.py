"""Reading a checkpoint file without running code from it.

``torch.load(weights_only=True)`` only rebuilds tensors and plain containers. Released
checkpoints carry a few other objects; they are allow-listed here by name, and nothing else:

* real, inert classes: ``argparse.Namespace`` (argparse-era ``args``), ``pathlib`` paths (found
  inside those namespaces), ``functools.partial`` and ``dict``;
* ``collections.defaultdict`` (the optimizer state inside solo-learn's pickled scheduler) loads as
  a plain ``dict``, because torch's safe unpickler only fills plain dicts;
* placeholders for names whose real objects we never need: solo-learn's ``static_lr`` (SimSiam /
  NNSiam lr schedulers hold ``partial(static_lr, get_lr=<bound method of the scheduler>)``), the
  ``getattr`` that rebuilds that bound method, and the scheduler / optimizer classes it drags in.
  A placeholder records what it stands for and never looks anything up or calls anything.

Anything else is refused with :class:`UnsafeCheckpointError`, which names the global and the
opt-out (``trusted=True``: full unpickling). There is no silent fallback.
"""

from __future__ import annotations

import argparse
import functools
import pathlib
import pickle
import re
from typing import Any, Callable, List, Tuple, Union

import torch


class UnsafeCheckpointError(pickle.UnpicklingError):
    """Safe loading refused an object in the file; the message names it and the opt-out."""


class Placeholder:
    """Stands in for an allow-listed object of a checkpoint that is never used (no behaviour)."""

    qualname = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<placeholder for {self.qualname}>"


def _placeholder_class(qualname: str) -> type:
    return type(qualname.rsplit(".", 1)[-1], (Placeholder,), {"qualname": qualname})


def _placeholder_function(qualname: str) -> Callable:
    result = _placeholder_class(qualname)

    def placeholder(*args: Any, **kwargs: Any) -> Placeholder:
        return result(*args, **kwargs)

    placeholder.__qualname__ = placeholder.__name__ = f"placeholder:{qualname}"
    return placeholder


def _plain_dict(default_factory: Any = None) -> dict:
    """Stands in for ``collections.defaultdict``: the factory is ignored, the items are kept."""
    return {}


# Names found in real checkpoints whose objects we never use: placeholder functions ...
_PLACEHOLDER_FUNCTIONS = [
    "solo.methods.base.static_lr",  # same path in solo-learn 1.0.2 and 1.0.6
    "builtins.getattr",  # pickled bound method: getattr(scheduler, "get_lr")
]
# ... and placeholder classes: the scheduler that bound method belongs to and the optimizer the
# scheduler holds, for every scheduler / optimizer choice of solo-learn 1.0.6 and 1.0.2.
_PLACEHOLDER_CLASSES = [
    "solo.utils.lr_scheduler.LinearWarmupCosineAnnealingLR",  # 1.0.6 warmup_cosine
    "pl_bolts.optimizers.lr_scheduler.LinearWarmupCosineAnnealingLR",  # 1.0.2 warmup_cosine
    "torch.optim.lr_scheduler.CosineAnnealingLR",  # 1.0.2 cosine
    "torch.optim.lr_scheduler.MultiStepLR",  # step
    "solo.utils.lars.LARS",  # 1.0.6 lars
    "solo.utils.lars.LARSWrapper",  # 1.0.2 --lars
    "torch.optim.sgd.SGD",
    "torch.optim.adam.Adam",
    "torch.optim.adamw.AdamW",
]

SafeGlobal = Union[Callable, Tuple[Callable, str]]


def safe_globals() -> List[SafeGlobal]:
    """The allow-list passed to ``torch.serialization.safe_globals`` (see module docstring)."""
    real: List[SafeGlobal] = [
        argparse.Namespace,
        dict,
        (_plain_dict, "collections.defaultdict"),
        functools.partial,
        pathlib.PosixPath,
        pathlib.PurePosixPath,
        (pathlib.PureWindowsPath, "pathlib.WindowsPath"),
        pathlib.PureWindowsPath,
    ]
    functions = [(_placeholder_function(n), n) for n in _PLACEHOLDER_FUNCTIONS]
    classes = [(_placeholder_class(n), n) for n in _PLACEHOLDER_CLASSES]
    return real + functions + classes


_REFUSED = re.compile(r"GLOBAL ([\w.]+)|unrecognized function ([^\s]+)|but got (<[^>]+>)")


def _refused(message: str) -> Tuple[str, str]:
    """(the refused global, torch's line about it) from torch's UnpicklingError message."""
    for line in message.splitlines():
        match = _REFUSED.search(line)
        if match:
            return next(g for g in match.groups() if g), line.strip()
    return "an object that is not a tensor or a plain container", message.splitlines()[0]


def safe_torch_load(path: Union[str, pathlib.Path], *, trusted: bool = False) -> Any:
    """``torch.load`` on CPU; ``weights_only=True`` with the allow-list unless ``trusted``.

    Raises:
        UnsafeCheckpointError: the file holds an object outside the allow-list (the message
            names it). ``trusted=True`` loads it with full unpickling, which runs whatever code
            the file references: only for files from a source you trust.
    """
    if trusted:
        return torch.load(path, map_location="cpu", weights_only=False)
    try:
        with torch.serialization.safe_globals(safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        refused, detail = _refused(str(err))
        raise UnsafeCheckpointError(
            f"refused to load {str(path)!r} safely: it references {refused}, which is not on "
            "e2mc_plugin's allow-list of objects found in released checkpoints. If you trust "
            "the file's source, load it with trusted=True (pretrained.trusted: true, or "
            "--trusted), which unpickles it fully and can run code it contains. "
            f"torch said: {detail}"
        ) from err
