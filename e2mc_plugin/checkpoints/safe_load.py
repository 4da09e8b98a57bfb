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

Before ``torch.load`` runs, :func:`check_checkpoint_file` looks at the bytes themselves: an empty,
text or other non-torch file is a :class:`NotACheckpointError`, and a zip archive written by
``torch.save`` must pass the CRC-32 check of every entry (``torch.load`` does not check them, so a
file with bytes overwritten in the middle would otherwise load with garbage or NaN weights). Errors
that ``torch.load`` raises on damaged bytes become :class:`CorruptCheckpointError`, naming the file.
"""

from __future__ import annotations

import argparse
import functools
import pathlib
import pickle
import re
import zipfile
from typing import Any, Callable, List, Optional, Tuple, Union

import torch


class UnsafeCheckpointError(pickle.UnpicklingError):
    """Safe loading refused an object in the file; the message names it and the opt-out."""


class NotACheckpointError(ValueError):
    """The file is not one that ``torch.save`` writes (empty, text, another archive format)."""


class CorruptCheckpointError(ValueError):
    """A checkpoint with damaged bytes (truncated, overwritten) or non-finite weights."""


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


# torch's messages when the safe unpickler refuses an object (as opposed to unreadable bytes)
_REFUSED = re.compile(
    r"GLOBAL ([\w.]+)|unrecognized function ([^\s]+)|but got (<[^>]+>)|(\S+) must be imported"
)


def _refused(message: str) -> Optional[Tuple[str, str]]:
    """(the refused global, torch's line about it) from torch's UnpicklingError message, or None
    when the message is about malformed data rather than a refused object."""
    for line in message.splitlines():
        match = _REFUSED.search(line)
        if match:
            return next(g for g in match.groups() if g), line.strip()
    return None


_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default format since torch 1.6
_PICKLE_PROTO = 0x80  # the legacy format: a protocol-2 pickle of torch's magic number first
_TAR_MAGIC = b"ustar"  # the oldest format, at offset 257 of the first tar header


def _not_a_checkpoint(path: str, why: str) -> NotACheckpointError:
    return NotACheckpointError(f"not a PyTorch checkpoint: {path} ({why})")


def _corrupt(path: str, why: str) -> CorruptCheckpointError:
    return CorruptCheckpointError(
        f"corrupted checkpoint {path}: {why}; copy or download the file again"
    )


def check_checkpoint_file(path: Union[str, pathlib.Path]) -> str:
    """Check that ``path`` holds a file written by ``torch.save``, intact; return its format.

    Returns:
        ``"zip"`` (torch >= 1.6), ``"legacy"`` (a pickle stream) or ``"tar"`` (torch < 0.4).

    Raises:
        NotACheckpointError: empty file, text, or bytes of another format (zip without
            ``data.pkl``...): ``not a PyTorch checkpoint: PATH (why)``.
        CorruptCheckpointError: a torch zip archive that is truncated, or whose stored bytes fail
            their CRC-32 check (the message names the archive entry).
    """
    path = str(path)
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        raise _not_a_checkpoint(path, "the file is empty")
    if head.startswith(_ZIP_MAGIC):
        return _check_zip(path)
    if head[257:262] == _TAR_MAGIC:
        return "tar"
    if head[0] == _PICKLE_PROTO:
        return "legacy"
    if head.startswith(b"PK"):  # a zip archive whose first entry header is damaged
        raise _corrupt(path, "its zip archive starts with a damaged entry header")
    raise _not_a_checkpoint(
        path, f"it starts with {head[:16]!r}; torch.save writes a zip archive or a pickle"
    )


def _check_zip(path: str) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
                raise _not_a_checkpoint(path, "a zip archive without the data.pkl of torch.save")
            bad = archive.testzip()  # reads every entry and compares its CRC-32
    except (zipfile.BadZipFile, EOFError, ValueError) as err:
        if isinstance(err, NotACheckpointError):
            raise
        why = f"its zip archive cannot be read ({err}): truncated or damaged"
        raise _corrupt(path, why) from err
    if bad is not None:
        raise _corrupt(
            path,
            f"the stored bytes of archive entry {bad!r} fail their CRC-32 check (they changed "
            "after torch.save wrote them)",
        )
    return "zip"


def safe_torch_load(path: Union[str, pathlib.Path], *, trusted: bool = False) -> Any:
    """``torch.load`` on CPU; ``weights_only=True`` with the allow-list unless ``trusted``.

    The file is checked first (:func:`check_checkpoint_file`), trusted or not.

    Raises:
        UnsafeCheckpointError: the file holds an object outside the allow-list (the message
            names it). ``trusted=True`` loads it with full unpickling, which runs whatever code
            the file references: only for files from a source you trust.
        NotACheckpointError: not a file that ``torch.save`` writes.
        CorruptCheckpointError: damaged bytes (truncation, overwritten data, malformed pickle).
    """
    check_checkpoint_file(path)
    try:
        if trusted:
            return torch.load(path, map_location="cpu", weights_only=False)
        with torch.serialization.safe_globals(safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        refused = None if trusted else _refused(str(err))
        if refused is None:
            detail = _detail(str(err))
            raise _corrupt(str(path), f"its pickled data is malformed (torch: {detail})") from err
        name, detail = refused
        raise UnsafeCheckpointError(
            f"refused to load {str(path)!r} safely: it references {name}, which is not on "
            "e2mc_plugin's allow-list of objects found in released checkpoints. If you trust "
            "the file's source, load it with trusted=True (pretrained.trusted: true, or "
            "--trusted), which unpickles it fully and can run code it contains. "
            f"torch said: {detail}"
        ) from err
    except (MemoryError, OSError):
        raise
    except Exception as err:  # torch.load on damaged bytes: EOFError, RuntimeError, KeyError...
        detail = _detail(str(err)) or "no message"
        raise _corrupt(
            str(path), f"torch.load failed on it ({type(err).__name__}: {detail})"
        ) from err


_TORCH_BOILERPLATE = ("Weights only load failed", "Check the documentation")


def _detail(message: str) -> str:
    """The specific part of a torch error message, without weights_only's advice around it."""
    chunks = [c.strip() for c in message.split("\n\n") if c.strip()]
    specific = [c for c in chunks if not c.startswith(_TORCH_BOILERPLATE)]
    return " ".join((specific or chunks or [""])[0].split())
