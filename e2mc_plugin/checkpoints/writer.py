"""The one writer of host checkpoint directories: ``DIR/<name>.ckpt`` + ``DIR/args.json``.

The ``.ckpt`` is what the host's launchers read (``torch.load(...)["state_dict"]`` in
``main_linear.py``, ``load_from_checkpoint`` in ``main_knn.py``)::

    {"state_dict": {...}, "pytorch-lightning_version": "2.1.2", "epoch": 0, "global_step": 0,
     **extra}

with tensors, strings and numbers only, so ``torch.load(weights_only=True)`` reads it back.

Nothing is lost on the way: both files are written to temporary files in ``DIR``
(:mod:`e2mc_plugin.checkpoints.atomic`), read back and verified, and only then renamed over
their final names (``os.replace``, atomic on one file system). Existing files are replaced only
with ``force=True``; the ``protected`` files (the source of a conversion) never; a failure at any
step leaves ``DIR`` as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Union

import torch

from e2mc_plugin.checkpoints.atomic import fsync_folder, write_temporary
from e2mc_plugin.checkpoints.safe_load import safe_torch_load

ARGS_FILE = "args.json"
PathLike = Union[str, os.PathLike]


class WrittenCheckpoint(NamedTuple):
    """Paths of a written host checkpoint directory's two files."""

    ckpt: Path
    args: Path


def lightning_version() -> str:
    """Version of the installed Lightning (recorded in the ``.ckpt`` as Lightning does)."""
    for dist in ("lightning", "pytorch-lightning"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "2.1.2"


def check_name(name: str) -> str:
    """``name`` if it is a plain file name stem (``<name>.ckpt`` stays inside the folder).

    Raises:
        ValueError: empty, ``.``/``..``, absolute, or containing a path separator or NUL.
    """
    seps = [s for s in (os.sep, os.altsep, "/") if s]
    if (
        not name
        or name in (".", "..")
        or os.path.isabs(name)
        or any(s in name for s in seps)
        or "\0" in name
    ):
        raise ValueError(
            f"name: {name!r} is not a plain file name (no path separators, '..' or absolute "
            "paths): the checkpoint must stay inside the output folder"
        )
    return name


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return os.path.realpath(a) == os.path.realpath(b)


def _compact(value: torch.Tensor) -> torch.Tensor:
    """A view of a larger storage is cloned: ``torch.save`` would write the whole storage."""
    tensor = value.detach().cpu()
    if tensor.untyped_storage().nbytes() != tensor.numel() * tensor.element_size():
        tensor = tensor.clone()
    return tensor


def _same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point() or a.is_complex():
        return bool(torch.equal(a, b) or torch.allclose(a, b, rtol=0, atol=0, equal_nan=True))
    return bool(torch.equal(a, b))


def _check_round_trip(path: Path, state: Mapping[str, torch.Tensor]) -> None:
    back = safe_torch_load(path)["state_dict"]
    if list(back) != list(state):
        raise OSError(f"{path}: written state_dict keys differ from the ones given")
    bad = [k for k, v in state.items() if not _same_tensor(v, back[k])]
    if bad:
        raise OSError(f"{path}: tensors read back differ from the ones written: {bad[:5]}")


def _make_folder(out: Path) -> Optional[Path]:
    """Create ``out`` if needed; return the top-most folder created (to remove on failure)."""
    if out.is_dir():
        return None
    if out.exists():
        raise NotADirectoryError(f"output folder {str(out)!r} exists and is not a folder")
    top = out
    while not top.parent.exists():
        top = top.parent
    try:
        out.mkdir(parents=True)
    except PermissionError as err:
        raise PermissionError(
            err.errno, f"cannot create output folder {str(out)!r}: {err.strerror}"
        ) from err
    return top


def _remove_created(top: Optional[Path], out: Path) -> None:
    if top is None:
        return
    folder = out
    while True:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only succeeds when empty
        if folder == top:
            return
        folder = folder.parent


def _backup(final: Path) -> Path:
    """A second name for ``final`` (a hard link; a copy where links are unsupported)."""
    while True:
        backup = final.with_name(f".{final.name}.{secrets.token_hex(4)}.bak")
        try:
            os.link(final, backup, follow_symlinks=False)  # the old file keeps its name
            return backup
        except FileExistsError:
            continue
        except OSError:
            shutil.copy2(final, backup, follow_symlinks=False)
            return backup


def _commit(pairs: List[tuple], out: Path) -> None:
    """Rename each ``(temporary, final)``; on failure restore every final file as it was."""
    backups: Dict[Path, Path] = {}
    done: List[Path] = []
    try:
        for tmp, final in pairs:
            if os.path.lexists(final):  # a symlink too, even a dangling one
                backups[final] = _backup(final)
            os.replace(tmp, final)
            done.append(final)
    except BaseException:
        for final in done:
            if final in backups:
                os.replace(backups.pop(final), final)
            else:
                with contextlib.suppress(OSError):
                    final.unlink()
        raise
    finally:
        for backup in backups.values():
            with contextlib.suppress(OSError):
                backup.unlink()
    fsync_folder(out)  # make the renames durable


def _check_targets(targets: Iterable[Path], protected: Iterable[PathLike], force: bool) -> None:
    """Refuse a target that is a protected file or a folder, or that exists without ``force``."""
    for target in targets:
        for source in protected:
            if _same_file(target, Path(source)):
                raise ValueError(
                    f"refusing to write {str(target)!r}: it is the source {os.fspath(source)!r}; "
                    "choose another output folder or name"
                )
        if target.is_dir():
            raise IsADirectoryError(f"cannot write {str(target)!r}: it is a folder")
    existing = [str(t) for t in targets if os.path.lexists(t)]
    if existing and not force:
        raise FileExistsError(
            f"refusing to overwrite {' and '.join(existing)}; pass --force (force=True) to "
            "replace them"
        )


def write_host_checkpoint(
    state_dict: Mapping[str, torch.Tensor],
    args: Mapping[str, Any],
    out_dir: PathLike,
    name: str,
    *,
    force: bool = False,
    protected: Iterable[PathLike] = (),
    extra: Optional[Mapping[str, Any]] = None,
    verify: Optional[Callable[[Path], Any]] = None,
) -> WrittenCheckpoint:
    """Write ``out_dir/<name>.ckpt`` and ``out_dir/args.json`` atomically; return their paths.

    Args:
        state_dict: solo-learn-named tensors (moved to CPU; views of larger storages cloned).
        args: the resolved cfg, JSON-serialisable (checked before anything is written).
        out_dir: output folder, created if missing (and removed again if the write fails).
        name: file name stem of the ``.ckpt``; path separators, ``..`` and absolute paths are
            refused.
        force: replace an existing ``<name>.ckpt`` / ``args.json`` (otherwise an error).
        protected: files never written over, even with ``force`` (the source of a conversion).
        extra: more top-level entries of the ``.ckpt`` (strings, numbers, containers).
        verify: called with the temporary ``.ckpt`` path after the round-trip check; raising
            aborts the write with nothing changed.

    Raises:
        ValueError: bad ``name``; a target is a protected file; ``args`` is not JSON.
        FileExistsError: a target exists and ``force`` is False (both are named).
        PermissionError: the folder cannot be created or written (the path is named).
        whatever ``verify`` raises.
    """
    name = check_name(name)
    out = Path(out_dir)
    targets = WrittenCheckpoint(out / f"{name}.ckpt", out / ARGS_FILE)
    _check_targets(targets, protected, force)
    try:
        args_text = json.dumps(args, indent=2)
    except (TypeError, ValueError) as err:
        raise ValueError(f"args: not JSON-serialisable ({err})") from err
    state = {k: _compact(v) for k, v in state_dict.items()}
    payload = {
        "state_dict": state,
        "pytorch-lightning_version": lightning_version(),
        "epoch": 0,
        "global_step": 0,
        **(extra or {}),
    }

    created = _make_folder(out)
    temporaries: List[Path] = []
    try:
        for target, write in (
            (targets.ckpt, lambda f: torch.save(payload, f)),
            (targets.args, lambda f: f.write(args_text.encode())),
        ):
            try:
                temporaries.append(write_temporary(out, target.name, write))
            except PermissionError as err:
                raise PermissionError(
                    err.errno, f"output folder {str(out)!r} is not writable: {err.strerror}"
                ) from err
        _check_round_trip(temporaries[0], state)
        json.loads(temporaries[1].read_text())
        if verify is not None:
            verify(temporaries[0])
        _commit(list(zip(temporaries, targets, strict=True)), out)
    except BaseException:
        for tmp in temporaries:
            with contextlib.suppress(OSError):
                tmp.unlink()
        _remove_created(created, out)
        raise
    return targets
