"""``e2mc-plugin convert``: any supported checkpoint -> a host checkpoint directory.

``DIR/<name>.ckpt`` holds ``{"state_dict": <solo-learn 1.0.6 names>, "pytorch-lightning_version":
..., "epoch": 0, "global_step": 0, "e2mc_plugin": {...}, "e2mc_plugin_absent_in_source": [...]}``
(tensors, strings and numbers only, so ``torch.load(weights_only=True)`` reads it; the last entry
names the parameters the source layers lack, see :mod:`~e2mc_plugin.checkpoints.absent`).
``DIR/args.json`` is a resolved cfg from which the host's unmodified ``main_knn.py`` rebuilds the
model (``METHODS[args["method"]].load_from_checkpoint(ckpt, strict=False, cfg=args)``) and which
``main_linear.py`` does not need (it keeps the ``backbone.`` keys of
``pretrained_feature_extractor``).

Both launchers load with ``strict=False``, which silently leaves unmatched layers random, so every
conversion is checked with :func:`~e2mc_plugin.checkpoints.coverage.verify_backbone_coverage`
against a freshly built backbone
before it is renamed into place by :func:`~e2mc_plugin.checkpoints.writer.write_host_checkpoint`
(atomic; never over the source; existing files only with ``--force``).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from e2mc_plugin.checkpoints.absent import ABSENT_RECORD_KEY
from e2mc_plugin.checkpoints.coverage import reference_backbone_shapes, verify_backbone_coverage
from e2mc_plugin.checkpoints.host_args import (
    METHOD_DEFAULTS,
    build_args,
    infer_backbone,
    random_layers,
)
from e2mc_plugin.checkpoints.load import load_checkpoint
from e2mc_plugin.checkpoints.registry import (
    describe_layout,
    get_checkpoint_loader,
    list_checkpoint_loaders,
)
from e2mc_plugin.checkpoints.vit.fit import fit_release_to_args
from e2mc_plugin.checkpoints.writer import check_name, write_host_checkpoint


def _default_name(src: str) -> str:
    base = os.path.basename(src)
    return re.sub(r"(\.pth\.tar|\.pth|\.pt|\.ckpt|\.tar)$", "", base) or "converted"


def _protected(src: str, fmt: str) -> List[str]:
    """The source file, and the ``args.json`` next to a solo-learn source (part of its run)."""
    sibling = os.path.join(os.path.dirname(os.path.abspath(src)), "args.json")
    return [src] + ([sibling] if fmt.startswith("solo") and os.path.isfile(sibling) else [])


def _read_host_args(path: str) -> Dict[str, Any]:
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f"convert: {path!r} is not valid JSON ({err})") from err


def _strip(err: BaseException, prefix: str = "convert: ") -> str:
    text = str(err)
    return text[len(prefix) :] if text.startswith(prefix) else text


def _origin(method_from: str) -> str:
    """Where the method came from, as the user gave it (an option or a file)."""
    return "--method" if method_from == "--method" else f"method from {method_from}"


def _method(
    loaded: Any, src: str, method: Optional[str], host_args: Optional[Mapping], sibling: str
) -> Tuple[str, str]:
    """``(method, where it came from)``: ``--method``, the source's ``args.json``, the format's
    release, or the default of backbone-only formats."""
    if method:
        return method, "--method"
    if (host_args or {}).get("method"):
        return host_args["method"], f"the source's {sibling}"
    release = get_checkpoint_loader(loaded.format).method
    if release:
        return release, f"the {loaded.format} format's release"
    if loaded.format.startswith("solo"):
        raise ValueError(
            f"convert: {src!r} is a solo-learn checkpoint without a 1.0.6 args.json next to it; "
            f"pass --method (one of {', '.join(METHOD_DEFAULTS)})"
        )
    return "vicreg", "the default for backbone-only formats"


def _host_args(
    loaded: Any,
    method: str,
    method_from: str,
    backbone: Optional[str],
    name: str,
    host_args: Optional[Mapping],
    sibling: str,
) -> Tuple[Dict[str, Any], str, str]:
    """``(args.json content, backbone, where the backbone came from)``: the source's own
    ``args.json`` when it is for ``method``, else one built for the (given or inferred)
    backbone."""
    if host_args is not None and host_args.get("method") == method:
        args = copy.deepcopy(dict(host_args))
        return args, args["backbone"]["name"], f"backbone.name of {sibling}"
    where = "--backbone" if backbone is not None else "the backbone inferred from the tensor shapes"
    backbone = backbone or infer_backbone(loaded.state_dict)
    if backbone is None:
        raise ValueError(
            "convert: cannot tell the backbone from the tensor shapes; pass --backbone "
            "(a solo-learn backbone name, e.g. resnet50, vit_small)"
        )
    try:
        args = build_args(loaded, method, backbone, name)
    except ValueError as err:
        raise ValueError(f"convert: {_origin(method_from)}: {_strip(err)}") from None
    if where != "--backbone":
        where += " (--backbone sets it)"
    return args, backbone, where


def convert(
    src: Union[str, os.PathLike],
    out_dir: Union[str, os.PathLike],
    *,
    format: Optional[str] = None,
    method: Optional[str] = None,
    backbone: Optional[str] = None,
    name: Optional[str] = None,
    trusted: bool = False,
    force: bool = False,
) -> Dict[str, Any]:
    """Write ``out_dir/<name>.ckpt`` and ``out_dir/args.json``; return what was done.

    ``method`` defaults to the method whose heads the format carries (VICReg, SwAV, SimSiam), or
    to the ``method`` of a solo-learn 1.0.6 ``args.json`` next to ``src`` (then reused as is);
    backbone-only formats default to ``vicreg``; other solo-learn checkpoints need ``method``.
    Existing files in ``out_dir`` are replaced only with ``force``; the source never.

    Returns:
        ``ckpt``, ``args`` (paths), ``report`` (text), ``format``, ``format_detected`` (bool),
        ``method``, ``method_from`` (why that method), ``backbone``, ``random`` (module
        prefixes that stay randomly initialized) and ``covered`` (backbone tensors verified).
    """
    src = os.fspath(src)
    if name is not None:
        try:
            check_name(name)
        except ValueError as err:
            raise ValueError(f"convert: --name {_strip(err, 'name: ')}") from None
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"convert: --out {os.fspath(out_dir)!r} exists and is not a folder")
    loaded = load_checkpoint(src, format, trusted=trusted)
    sibling = os.path.join(os.path.dirname(os.path.abspath(src)), "args.json")
    host_args = None
    if loaded.format.startswith("solo") and os.path.isfile(sibling):
        host_args = _read_host_args(sibling)
    method, method_from = _method(loaded, src, method, host_args, sibling)
    name = name or _default_name(src)
    args, backbone, backbone_from = _host_args(
        loaded, method, method_from, backbone, name, host_args, sibling
    )
    loaded = fit_release_to_args(loaded, args)  # a ViT of another function is refused
    report = str(loaded.report)
    try:
        shapes = reference_backbone_shapes(
            backbone,
            args.get("data", {}).get("dataset", "imagenet"),
            args["backbone"].get("kwargs"),
        )
    except ValueError as err:
        raise ValueError(f"convert: {backbone_from}: {_strip(err)}") from None
    written = write_host_checkpoint(
        loaded.state_dict,
        args,
        out_dir,
        name,
        force=force,
        protected=_protected(src, loaded.format),
        extra={
            "e2mc_plugin": {"source": src, "format": loaded.format, "report": report},
            ABSENT_RECORD_KEY: list(loaded.report.absent_in_source),
        },
        verify=lambda path: verify_backbone_coverage(path, shapes),
    )
    return {
        "ckpt": str(written.ckpt), "args": str(written.args), "report": report,
        "format": loaded.format, "format_detected": format in (None, "auto"),
        "layout": describe_layout(loaded.format, src),
        "method": method, "method_from": method_from, "backbone": backbone,
        "random": random_layers(method, loaded.state_dict), "covered": len(shapes),
    }  # fmt: skip


def summary(result: Mapping[str, Any]) -> str:
    """What ``e2mc-plugin convert`` prints: format, method and why, what stays random, paths."""
    how = "detected; --format sets it" if result["format_detected"] else "given by --format"
    lines = [
        f"format:   {result['format']} ({how})",
        f"layout:   {result['layout']}",
        f"method:   {result['method']} (from {result['method_from']}; --method changes it)",
        f"backbone: {result['backbone']}",
        result["report"],
    ]
    if result["random"]:
        lines.append(
            "stay randomly initialized (the source has no weights for them): "
            + ", ".join(result["random"])
        )
    lines += [
        f"wrote {result['ckpt']}",
        f"wrote {result['args']}",
        f"backbone coverage verified: all {result['covered']} backbone tensors are the source's",
    ]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="e2mc-plugin convert",
        description="Convert a checkpoint into a solo-learn checkpoint directory "
        "(<name>.ckpt + args.json) for main_linear.py / main_knn.py. The files are written "
        "atomically; existing ones are replaced only with --force, the source never.",
    )
    parser.add_argument("src", help="checkpoint file")
    parser.add_argument(
        "--format", default="auto", help=f"auto | {' | '.join(list_checkpoint_loaders())}"
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument(
        "--method", default=None, help=f"solo-learn method ({', '.join(METHOD_DEFAULTS)})"
    )
    parser.add_argument(
        "--backbone", default=None, help="solo-learn backbone name if not inferable"
    )
    parser.add_argument(
        "--name", default=None, help="checkpoint file name, no folders (default: the source's)"
    )
    parser.add_argument(
        "--trusted", action="store_true", help="full unpickling (trusted files only)"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace an existing <name>.ckpt / args.json"
    )
    ns = parser.parse_args(argv)
    formats = list_checkpoint_loaders()
    if ns.format not in ("auto", *formats):
        raise ValueError(f"convert: --format {ns.format!r}: valid: auto, {', '.join(formats)}")
    result = convert(
        ns.src, ns.out, format=ns.format, method=ns.method, backbone=ns.backbone,
        name=ns.name, trusted=ns.trusted, force=ns.force,
    )  # fmt: skip
    print(summary(result))
    return 0
