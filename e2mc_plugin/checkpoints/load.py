"""``load_checkpoint``: read a file safely, pick its loader (given or detected), rename tensors."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Union

import torch

from e2mc_plugin.checkpoints.loaders.safetensors_file import is_safetensors, read_tensor_file
from e2mc_plugin.checkpoints.registry import CHECKPOINT_LOADERS, CheckpointLoader, detect_layout
from e2mc_plugin.checkpoints.report import LoadedCheckpoint, LoadReport
from e2mc_plugin.checkpoints.safe_load import CorruptCheckpointError, safe_torch_load
from e2mc_plugin.registry import Registry


class CheckpointFormatError(ValueError):
    """The layout of a checkpoint could not be determined, or is not the one requested."""


def detect_format(raw: Any, registry: Optional[Registry] = None, path: Optional[str] = None) -> str:
    """Name of the registered loader for ``raw`` (:func:`registry.detect_layout`; ``path``'s
    file name chooses between identical layouts).

    Raises:
        CheckpointFormatError: no loader or several loaders accept it (the message names them
            and asks for an explicit ``format=``).
    """
    registry = registry or CHECKPOINT_LOADERS
    detection = detect_layout(raw, path, registry)
    if detection.name is not None:
        return detection.name
    if detection.candidates:
        raise CheckpointFormatError(
            f"ambiguous checkpoint layout: loaders {', '.join(detection.candidates)} all accept "
            f"it; pass format= one of them"
        )
    raise CheckpointFormatError(
        f"unrecognised checkpoint layout ({_describe(raw)}); no loader accepts it. "
        f"Pass format= one of: {', '.join(registry.names())}"
    )


def _describe(raw: Any) -> str:
    if not hasattr(raw, "keys"):
        return f"a {type(raw).__name__}"
    keys = list(raw.keys())
    shown = ", ".join(map(repr, keys[:5])) + (", ..." if len(keys) > 5 else "")
    return f"top-level keys {shown}"


def load_checkpoint(
    path: Union[str, os.PathLike],
    format: Optional[str] = None,
    *,
    trusted: bool = False,
) -> LoadedCheckpoint:
    """Load ``path`` and rename its tensors to solo-learn 1.0.6 names.

    Args:
        path: checkpoint file (``.pth``, ``.pth.tar``, ``.ckpt``...).
        format: a registered loader name (:func:`list_checkpoint_loaders`); ``None`` or
            ``"auto"`` detects it, failing on zero or several candidates.
        trusted: ``False`` (default) reads with ``torch.load(weights_only=True)`` and an explicit
            allow-list, refusing anything else with an error; ``True`` unpickles fully (runs code
            the file references: only for files you trust).

    Returns:
        :class:`LoadedCheckpoint` with ``state_dict``, ``format`` and a ``report``.

    Raises:
        FileNotFoundError / IsADirectoryError: ``path`` is not a file.
        NotACheckpointError: an empty, text or other non-torch file.
        CorruptCheckpointError: damaged bytes, or a floating tensor with NaN/Inf values (the
            message names the tensor and the file).
        UnsafeCheckpointError: an object outside the safe allow-list (``trusted=False``).
        CheckpointFormatError: the layout is not the requested one, or not recognised.
    """
    auto = format is None or format == "auto"
    loader: Optional[CheckpointLoader] = None if auto else CHECKPOINT_LOADERS.get(format)()
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"checkpoint path is a directory, not a file: {path!r}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint file not found: {path!r}")
    raw = read_tensor_file(path) if is_safetensors(path) else safe_torch_load(path, trusted=trusted)
    if loader is None:
        loader = CHECKPOINT_LOADERS.get(detect_format(raw, path=path))()
    if not loader.detect(raw):
        raise CheckpointFormatError(
            f"{path!r} does not have the {loader.name!r} layout ({_describe(raw)}). "
            f"Auto-detection says: {_guess(raw)}"
        )
    state_dict, report = loader.convert(raw)
    if not state_dict:
        raise CheckpointFormatError(f"loader {loader.name!r} found no tensors in {path!r}")
    check_finite(state_dict, report, path)
    return LoadedCheckpoint(
        state_dict=state_dict, format=loader.name, report=report, path=path,
        architecture=loader.architecture(raw, path),
    )  # fmt: skip


def _guess(raw: Any) -> str:
    try:
        return f"format={detect_format(raw)!r}"
    except CheckpointFormatError as err:
        return str(err)


def check_finite(state_dict: Mapping[str, torch.Tensor], report: LoadReport, path: str) -> None:
    """Raise :class:`CorruptCheckpointError` naming every floating tensor with NaN/Inf values.

    Damaged bytes in a legacy (non-zip) file, which has no checksum, or a diverged run load as
    NaN/Inf weights that strict key checking cannot see.
    """
    source: Dict[str, str] = {dst: src for src, dst in report.mapped.items()}
    bad: List[str] = []
    for key, value in state_dict.items():
        if not (value.is_floating_point() or value.is_complex()):
            continue
        finite = torch.isfinite(value)
        if not bool(finite.all()):
            count = int(value.numel() - finite.sum())
            name = key if source.get(key, key) == key else f"{source[key]} (as {key})"
            bad.append(f"tensor {name} has {count} NaN/Inf values (of {value.numel()})")
    if bad:
        more = f"; {len(bad) - 1} more:" if len(bad) > 1 else ""
        raise CorruptCheckpointError(
            f"corrupted checkpoint {path}: {bad[0]}{more}"
            + "".join(f"\n    {b}" for b in bad[1:])
            + "\nThe file's bytes are damaged (copy or download it again) or the run that wrote "
            "it diverged."
        )
