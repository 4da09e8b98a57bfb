"""``e2mc-plugin diagnose CKPT [--compare CKPT2]``: diagnostic figures of checkpoints on digits.

The checkpoint is read with :func:`e2mc_plugin.checkpoints.load_checkpoint` (any registered
format), a matching solo-learn method is built and initialized with
:func:`e2mc_plugin.checkpoints.initialize_from_checkpoint`, and the embeddings of scikit-learn's
digits are plotted. The architecture comes from, in order: ``--config`` (JSON/YAML, the
1.0.6-style dict of :func:`e2mc_plugin.solo.api.build_method`), an ``args.json`` beside the
checkpoint (solo-learn's and the demo's layout), or the checkpoint's tensor shapes with
``--method`` (the inference of ``e2mc-plugin convert``: backbone, stem, head widths).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional

from e2mc_plugin.method_families import host_method

if TYPE_CHECKING:
    from e2mc_plugin.checkpoints.report import LoadedCheckpoint

__all__ = ["main", "build_parser", "config_for", "infer_cfg"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="e2mc-plugin diagnose",
        description="Mapped marginals, 2-D scatters, neighbour distances and per-dimension entropy "
        "of one checkpoint, or two side by side (--compare).",
    )
    p.add_argument("checkpoint")
    p.add_argument("--format", default=None, help="checkpoint format (default: detect)")
    p.add_argument("--compare", default=None, metavar="CKPT2", help="a second checkpoint")
    p.add_argument("--compare-format", default=None)
    p.add_argument("--out", default=os.path.join("runs", "e2mc-diagnose"))
    p.add_argument(
        "--config", default=None, help="JSON/YAML model config (else args.json / inferred)"
    )
    p.add_argument("--method", default="vicreg", help="host method when the config is inferred")
    p.add_argument(
        "--mapping",
        default=None,
        help="Psi: sigmoid | gaussian_cdf | identity (default: the paper's E2MC mapping for the "
        "method: sigmoid for vicreg, else gaussian_cdf)",
    )
    p.add_argument(
        "--space",
        choices=("projector", "features"),
        default="projector",
        help="embeddings for the marginal plots: projector output z or backbone features",
    )
    p.add_argument("--size", type=int, default=16, help="digit image side in pixels")
    p.add_argument("--k", type=int, default=20, help="k of the k-th nearest neighbour")
    p.add_argument("--no-strict", action="store_true", help="load what matches, report the rest")
    p.add_argument("--trusted", action="store_true", help="full unpickling (trusted files only)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N digits")
    return p


def infer_cfg(loaded: "LoadedCheckpoint", method: str) -> Dict[str, Any]:
    """A build config matching a checkpoint's shapes (solo-learn 1.0.6 key names).

    The backbone and stem come from :func:`e2mc_plugin.checkpoints.convert.infer_backbone` /
    ``infer_dataset`` and the head widths from ``build_args``: the same inference as
    ``e2mc-plugin convert``.
    """
    from e2mc_plugin.checkpoints.convert import build_args, infer_backbone

    backbone = infer_backbone(loaded.state_dict)
    if backbone is None:
        raise ValueError(
            "cannot infer the backbone from the checkpoint's shapes (resnet18, resnet50 or a "
            "timm ViT expected); pass --config"
        )
    return build_args(loaded, method, backbone, name=f"diagnose-{method}")


def _read_config(path: str) -> Dict[str, Any]:
    with open(path) as f:
        if path.endswith((".yaml", ".yml")):
            import yaml

            return dict(yaml.safe_load(f))
        return dict(json.load(f))


def config_for(ckpt: str, loaded: "LoadedCheckpoint", args: argparse.Namespace) -> Dict[str, Any]:
    """``--config``, else ``args.json`` beside ``ckpt`` (1.0.6-style), else :func:`infer_cfg`."""
    if args.config:
        cfg = _read_config(args.config)
    else:
        beside = os.path.join(os.path.dirname(os.path.abspath(ckpt)), "args.json")
        cfg = _read_config(beside) if os.path.isfile(beside) else None
        if cfg is not None and not isinstance(cfg.get("backbone"), Mapping):
            cfg = None  # a 1.0.2 (argparse, flat) args.json: not a build config
        if cfg is None:
            cfg = infer_cfg(loaded, args.method)
    cfg["aux_losses"] = []  # evaluation only: no auxiliary terms, weights come from `ckpt`
    cfg["pretrained"] = None
    return cfg


def _load_model(ckpt: str, fmt: Optional[str], args: argparse.Namespace):
    from e2mc_plugin.checkpoints import initialize_from_checkpoint, load_checkpoint
    from e2mc_plugin.solo.api import build_method

    loaded = load_checkpoint(ckpt, fmt, trusted=args.trusted)
    cfg = config_for(ckpt, loaded, args)
    model = build_method(cfg)
    report = initialize_from_checkpoint(model, loaded, strict=not args.no_strict)
    return model, cfg, loaded.format, report


def _label(path: str, other: Optional[str]) -> str:
    """Short distinct names for the figure legends: the file stem, or parent/stem if equal."""
    stem = lambda p: os.path.splitext(os.path.basename(p))[0]  # noqa: E731
    if other is None or stem(path) != stem(other):
        return stem(path)
    return f"{os.path.basename(os.path.dirname(os.path.abspath(path)))}/{stem(path)}"


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from e2mc_plugin.diagnostics.logs import quiet_lightning

    quiet_lightning()
    from e2mc_plugin.datasets.digits import eval_loader, load_digits_split
    from e2mc_plugin.diagnostics.plots import format_entropy_table, write_diagnostics
    from e2mc_plugin.diagnostics.stats import default_mapping
    from e2mc_plugin.solo.api import extract_features

    ckpts = [(args.checkpoint, args.format)]
    if args.compare:
        ckpts.append((args.compare, args.compare_format))
    split = load_digits_split(size=args.size, test_fraction=0.3, seed=0, limit=args.limit)
    import torch

    x = torch.cat([split.train_x, split.test_x])
    y = torch.cat([split.train_y, split.test_y])
    loader = eval_loader(split, x, y)
    embs, method = {}, None
    for i, (path, fmt) in enumerate(ckpts):
        other = ckpts[1 - i][0] if len(ckpts) == 2 else None
        model, cfg, fmt_used, report = _load_model(path, fmt, args)
        method = method or host_method(str(cfg["method"]))
        print(
            f"[{path}] format {fmt_used}, method {cfg['method']}, "
            f"backbone {cfg['backbone']['name']}"
        )
        print(report)
        embs[_label(path, other)] = extract_features(model, loader)
    mapping = args.mapping or default_mapping(method)
    space = {
        n: (e.projections if args.space == "projector" else e.features).numpy()
        for n, e in embs.items()
    }
    labels = next(iter(embs.values())).labels.numpy()
    out = write_diagnostics(
        space,
        labels,
        args.out,
        features={n: e.features.numpy() for n, e in embs.items()},
        mapping=mapping,
        k=args.k,
    )
    print(
        f"\nper-dimension m-spacings entropy of Psi({args.space}) with Psi = {mapping}, "
        f"{labels.size} digits (0 = uniform):"
    )
    print(format_entropy_table(out["entropy"]))
    print("wrote", ", ".join(out["pngs"] + [out["summary_path"]]))
    return 0
