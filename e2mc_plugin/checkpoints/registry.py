"""The checkpoint-loader registry and the interface every loader implements.

A loader turns the raw object read from a file into a state dict with solo-learn 1.0.6 names
(``backbone.*``, ``projector.*``, ``predictor.*``, ``prototypes.weight_g/_v``, ``head.*``) and a
:class:`LoadReport`. Third parties register through :func:`register_checkpoint_loader` or the
``e2mc_plugin.checkpoint_loaders`` entry-point group (the entry point loads the loader class);
:class:`~e2mc_plugin.checkpoints.loaders.base.RenameLoader` describes the common case as data.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Type, Union

from torch import Tensor

from e2mc_plugin.checkpoints.report import LoadReport
from e2mc_plugin.registry import Registry


class CheckpointLoader:
    """Base class: ``detect`` recognises a layout, ``convert`` renames it.

    Attributes:
        name: registry name (set by :func:`register_checkpoint_loader`).
        method: the solo-learn method whose heads the layout carries (``None``: backbone only);
            ``e2mc-plugin convert`` uses it as the default ``--method``.
        layout: one line naming the release and its key layout (printed by detection).
        file_names: shell patterns of the released / torch.hub cache file names; they choose
            between loaders whose key layouts are identical (see :func:`detect_layout`).
        same_layout_as: the loader whose key layout this one shares exactly (e.g. every bare
            ResNet backbone release); that loader is the default when no file name decides.
        refines: loaders whose ``detect`` also accepts this layout but describe it less
            precisely; when both accept a file, this one is used.
    """

    name: str = ""
    method: Optional[str] = None
    layout: str = ""
    file_names: Tuple[str, ...] = ()
    same_layout_as: Optional[str] = None
    refines: Tuple[str, ...] = ()

    def detect(self, raw: Any) -> bool:
        """True if ``raw`` (what ``torch.load`` returned) has this loader's layout."""
        raise NotImplementedError

    def convert(self, raw: Any) -> Tuple[Dict[str, Tensor], LoadReport]:
        """Rename the tensors of ``raw``; report every mapped, created and dropped key."""
        raise NotImplementedError

    def method_kwargs(self, state: Mapping[str, Tensor]) -> Optional[Dict[str, Any]]:
        """``method_kwargs`` of :attr:`method` for a converted ``state`` (widths read from its
        shapes), or None when ``e2mc-plugin convert`` should use its own table."""
        return None

    def architecture(self, raw: Any, path: str) -> Any:
        """What the tensors do not record (a ViT's heads, patch, position table: a
        ``checkpoints.vit.ViTRelease``) from the release's identity, or None."""
        return None


CHECKPOINT_LOADERS: Registry[Type[CheckpointLoader]] = Registry(
    "checkpoint loader", entry_point_group="e2mc_plugin.checkpoint_loaders"
)


def register_checkpoint_loader(name: str) -> Callable[[Type[CheckpointLoader]], Type]:
    """Class decorator: register a :class:`CheckpointLoader` subclass under ``name``.

    A duplicate name raises :class:`e2mc_plugin.registry.DuplicateNameError`.
    """

    def _register(cls: Type[CheckpointLoader]) -> Type[CheckpointLoader]:
        cls.name = name
        return CHECKPOINT_LOADERS.register(name)(cls)

    return _register


def list_checkpoint_loaders(pattern: str = "*") -> List[str]:
    """Sorted names of the registered checkpoint loaders matching a shell-style pattern."""
    return CHECKPOINT_LOADERS.names(pattern)


def get_checkpoint_loader(name: str) -> CheckpointLoader:
    """An instance of the loader registered as ``name`` (unknown -> error listing valid names)."""
    return CHECKPOINT_LOADERS.get(name)()


# ---- detection ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    """Which loaders accept a checkpoint and which one is used.

    Attributes:
        name: the loader to use, or None (no candidate, or several different layouts).
        candidates: every loader whose ``detect`` accepted the object, sorted.
        reason: how ``name`` was chosen (key layout, file name, default of identical layouts).
        layout: the chosen loader's description of the layout.
    """

    name: Optional[str]
    candidates: Tuple[str, ...]
    reason: str
    layout: str = ""

    def __str__(self) -> str:
        if self.name is None:
            return f"no single layout ({self.reason})"
        return self.name + (f": {self.layout}" if self.layout else "") + f" [{self.reason}]"


def _group(registry: Registry, name: str) -> str:
    return registry.get(name).same_layout_as or name


def _by_file_name(registry: Registry, names: Sequence[str], path: Optional[str]) -> List[str]:
    if not path:
        return []
    base = os.path.basename(os.fspath(path))
    return [n for n in names if any(fnmatch.fnmatch(base, p) for p in registry.get(n).file_names)]


def detect_layout(
    raw: Any,
    path: Optional[Union[str, "os.PathLike[str]"]] = None,
    registry: Optional[Registry] = None,
) -> Detection:
    """Pick the loader for ``raw`` (what ``torch.load`` / safetensors returned).

    1. every registered loader's ``detect`` votes; a loader that another accepting loader
       ``refines`` drops out;
    2. one candidate left: it is used;
    3. several candidates with one identical key layout (``same_layout_as``): the one whose
       ``file_names`` match ``path`` (a release or torch.hub cache name) is used; with no single
       file-name match, the layout's default loader is used, and ``reason`` says so;
    4. otherwise ``name`` is None and ``candidates`` lists them.
    """
    registry = registry or CHECKPOINT_LOADERS

    def chosen(name: str, candidates: Sequence[str], reason: str) -> Detection:
        return Detection(name, tuple(candidates), reason, registry.get(name).layout)

    accepted = [n for n in registry.names() if registry.get(n)().detect(raw)]
    refined = {r for n in accepted for r in registry.get(n).refines}
    matches = [n for n in accepted if n not in refined]
    if not matches:
        return Detection(None, (), "no loader accepts it")
    if len(matches) == 1:
        why = "key layout" + (
            f", more specific than {', '.join(sorted(refined & set(accepted)))}"
            if refined & set(accepted)
            else ""
        )
        return chosen(matches[0], matches, why)
    groups = {_group(registry, n) for n in matches}
    if len(groups) > 1:
        return Detection(None, tuple(matches), f"loaders {', '.join(matches)} all accept it")
    (default,) = groups
    named = _by_file_name(registry, matches, path)
    base = os.path.basename(os.fspath(path)) if path else ""
    same = f"identical key layouts of {', '.join(matches)}"
    if len(named) == 1:
        return chosen(named[0], matches, f"file name {base!r}; {same}")
    if named:
        pick = default if default in named else named[0]
        shared = f"file name {base!r} is used by {', '.join(named)}"
        return chosen(pick, matches, f"{shared} ({same}): using {pick}")
    return chosen(default, matches, f"{same}: using {default} (pass format= to choose)")


def describe_layout(name: str, path: Optional[Union[str, "os.PathLike[str]"]] = None) -> str:
    """``name: layout``, plus the loaders sharing its key layout and whether ``path``'s file name
    is one of the release / torch.hub names of ``name`` (what ``e2mc-plugin convert`` prints)."""
    loader = get_checkpoint_loader(name)
    text = name + (f": {loader.layout}" if loader.layout else "")
    group = loader.same_layout_as or name
    twins = [n for n in CHECKPOINT_LOADERS.names() if _group(CHECKPOINT_LOADERS, n) == group]
    notes = []
    if path and _by_file_name(CHECKPOINT_LOADERS, [name], path):
        notes.append(f"file name {os.path.basename(os.fspath(path))!r}")
    if len(twins) > 1:
        notes.append(f"same key layout as {', '.join(n for n in twins if n != name)}")
    return text + (f" ({'; '.join(notes)})" if notes else "")


def loader_method_kwargs(
    format: str, method: str, state: Mapping[str, Tensor]
) -> Optional[Dict[str, Any]]:
    """The ``method_kwargs`` that loader ``format`` provides for ``method`` (its own method
    only), else None. ``e2mc-plugin convert`` writes them into ``args.json``."""
    if format not in CHECKPOINT_LOADERS:
        return None
    loader = get_checkpoint_loader(format)
    return loader.method_kwargs(state) if loader.method == method else None
