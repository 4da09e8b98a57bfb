"""Continue a DINO ViT release with E2MC on any image folder (lightly's DINO + a timm ViT).

    python examples/continue_dino_vit.py IMAGES/ \
        --weights dino_deitsmall16_pretrain_full_checkpoint.pth --out runs/dino-vit --epochs 10

``IMAGES/`` is any folder of images (labels are not used). ``--weights`` is a DINO ViT release:
the full checkpoint (student, teacher and both heads continue), the backbone file
(``dino_deitsmall16_pretrain.pth``: both networks start from it, the heads are new) or its
transformers copy (``model.safetensors`` + ``config.json``); e2mc_plugin detects the layout,
refuses a release whose function the timm ViT cannot be (heads, patch, LayerScale, position
table) and resizes the position table as DINO's model does. The model is lightly's DINO example
(``DINOProjectionHead``, ``DINOLoss``, ``DINOTransform``, momentum teacher) with
``timm.create_model("vit_small_patch16_224")`` as the backbone (6 heads, as DINO's ViT-S;
``dynamic_img_size`` for the 96-px local crops) and E2MC attached by one call on the head's
bottleneck (``student_head.layers``: DINO's ``head.mlp``) of the 2 global crops; ``--beta 0``
trains the "continued" baseline. Writes ``OUT/teacher_backbone.pth`` (timm names: what DINO
evaluates). Needs timm, lightly (``pip install lightly``) and Lightning.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from typing import Dict, List, Optional

import timm
import torch
from lightly.data import LightlyDataset
from lightly.loss import DINOLoss
from lightly.models.modules.heads import DINOProjectionHead
from lightly.models.utils import deactivate_requires_grad, update_momentum
from lightly.transforms import DINOTransform

try:
    import lightning.pytorch as pl
except ImportError:  # Lightning 1.x
    import pytorch_lightning as pl

from e2mc_plugin.checkpoints import load_checkpoint
from e2mc_plugin.checkpoints.vit import fit_release
from e2mc_plugin.lightning import attach_aux_losses

# e2mc_plugin's names (solo-learn's) -> this module's (lightly's example): DINO's head.mlp.{0,2,4}
# is lightly's DINOProjectionHead.layers.{0,2,4} (no BatchNorm), last_layer the same
RENAME = [
    ("momentum_backbone.", "teacher_backbone."), ("momentum_head.mlp.", "teacher_head.layers."),
    ("momentum_head.last_layer.", "teacher_head.last_layer."), ("backbone.", "student_backbone."),
    ("head.mlp.", "student_head.layers."), ("head.last_layer.", "student_head.last_layer."),
]  # fmt: skip


class DINO(pl.LightningModule):
    """lightly's DINO example (examples/pytorch_lightning/dino.py) with a timm ViT."""

    def __init__(self, arch: str, hidden: int, bottleneck: int, out_dim: int, lr: float):
        super().__init__()
        backbone = timm.create_model(arch, num_classes=0, dynamic_img_size=True)
        self.student_backbone = backbone
        self.student_head = DINOProjectionHead(
            backbone.embed_dim, hidden, bottleneck, out_dim, norm_last_layer=False
        )
        self.teacher_backbone = copy.deepcopy(backbone)
        self.teacher_head = DINOProjectionHead(
            backbone.embed_dim, hidden, bottleneck, out_dim, norm_last_layer=False
        )
        deactivate_requires_grad(self.teacher_backbone)
        deactivate_requires_grad(self.teacher_head)
        self.criterion = DINOLoss(output_dim=out_dim, warmup_teacher_temp=0.07, teacher_temp=0.07)
        self.lr, self.momentum = lr, 0.996

    def forward(self, x):
        return self.student_head(self.student_backbone(x))

    def training_step(self, batch, batch_idx):
        update_momentum(self.student_backbone, self.teacher_backbone, m=self.momentum)
        update_momentum(self.student_head, self.teacher_head, m=self.momentum)
        views = batch[0]
        teacher_out = [self.teacher_head(self.teacher_backbone(v)) for v in views[:2]]
        student_out = [self.forward(v) for v in views]  # the 2 global crops first
        loss = self.criterion(teacher_out, student_out, epoch=self.current_epoch)
        self.log("train_dino_loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=0.4)


class _Target(torch.nn.Module):
    """The ViT the release must fit (e2mc_plugin reads ``.backbone``)."""

    def __init__(self, backbone: torch.nn.Module, arch: str) -> None:
        super().__init__()
        self.backbone, self.backbone_name = backbone, arch
        self.cfg = argparse.Namespace(method="lightly DINO")  # named in a refusal


def load_release(
    model: DINO, path: str, fmt: Optional[str], trusted: bool, arch: str = "timm ViT"
) -> List[str]:
    """Copy the release into ``model``; returns the module names that start from the file."""
    target = _Target(model.student_backbone, arch)  # refuses another function, resizes
    loaded = fit_release(target, load_checkpoint(path, fmt, trusted=trusted))
    state: Dict[str, torch.Tensor] = {}
    for key, value in loaded.state_dict.items():
        for src, dst in RENAME:
            if key.startswith(src):
                state[dst + key[len(src) :]] = value
                break
    if not any(k.startswith("teacher_backbone.") for k in state):  # a backbone-only file
        state.update({"teacher_" + k[len("student_") :]: v for k, v in state.items()})
    own = model.state_dict()
    bad = [k for k in state if k not in own or own[k].shape != state[k].shape]
    if bad:
        raise ValueError(f"{path}: tensors that do not fit the model: {bad[:5]}")
    model.load_state_dict(state, strict=False)
    for note in loaded.report.notes:
        print(f"note: {note}")
    return sorted({k.split(".", 1)[0] for k in state})


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("images", help="folder of images (any layout)")
    p.add_argument("--out", required=True, help="output folder (OUT/teacher_backbone.pth)")
    p.add_argument("--force", action="store_true", help="replace an existing output")
    p.add_argument("--weights", help="DINO ViT release to continue (default: random init)")
    p.add_argument("--format", default=None, help="checkpoint format (default: detected)")
    p.add_argument("--trusted", action="store_true", help="unpickle the checkpoint fully")
    p.add_argument("--arch", default="vit_small_patch16_224", help="timm model name")
    p.add_argument("--hidden-dim", type=int, default=2048)
    p.add_argument("--bottleneck-dim", type=int, default=256)
    p.add_argument("--out-dim", type=int, default=65536, help="prototypes (the release's)")
    p.add_argument("--beta", type=float, default=1.0, help="E2MC entropy weight (0: none)")
    p.add_argument("--gamma", type=float, default=25.0, help="E2MC covariance weight")
    p.add_argument("--local-views", type=int, default=10, help="96-px crops")
    p.add_argument("--batch-size", type=int, default=64, help="per device")
    p.add_argument("--lr", type=float, default=5e-6, help="0.01 x DINO's 0.0005 per 256")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--max-steps", type=int, default=-1)
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--devices", default="auto")
    p.add_argument("--accelerator", default="auto")
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    out = os.path.join(args.out, "teacher_backbone.pth")
    if os.path.exists(out) and not args.force:
        print(f"error: {out} exists; pass --force to replace it", file=sys.stderr)
        return 2
    model = DINO(args.arch, args.hidden_dim, args.bottleneck_dim, args.out_dim, args.lr)
    if args.weights:
        started = load_release(model, args.weights, args.format, args.trusted, args.arch)
        print(f"from {args.weights}: {', '.join(started)}")
    specs = []
    if args.beta:  # gather: statistics over the global batch on several devices
        e2mc = dict(name="e2mc", beta=args.beta, gamma=args.gamma, mapping="gaussian_cdf")
        specs = [dict(e2mc, gather=True)]
    model = attach_aux_losses(model, specs, embedding="student_head.layers")
    transform = DINOTransform(n_local_views=args.local_views)
    data = LightlyDataset(args.images, transform=transform)
    loader = torch.utils.data.DataLoader(
        data, batch_size=args.batch_size, shuffle=True, drop_last=True,
        num_workers=args.workers, persistent_workers=args.workers > 0,
    )  # fmt: skip
    trainer = pl.Trainer(
        max_epochs=args.epochs, max_steps=args.max_steps, devices=args.devices,
        accelerator=args.accelerator, default_root_dir=args.out,
        log_every_n_steps=min(50, max(1, len(loader))),
    )  # fmt: skip
    trainer.fit(model, loader)
    if trainer.is_global_zero:
        os.makedirs(args.out, exist_ok=True)
        tmp = out + ".tmp"
        torch.save(model.teacher_backbone.state_dict(), tmp)
        os.replace(tmp, out)
        metrics = {k: round(float(v), 4) for k, v in trainer.callback_metrics.items()}
        print(f"wrote {out}; last metrics: {metrics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
