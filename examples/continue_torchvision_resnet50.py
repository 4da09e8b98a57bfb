"""Continue a torchvision ResNet-50 with VICReg + E2MC on any image folder (lightly + Lightning).

    python examples/continue_torchvision_resnet50.py IMAGES/ --weights resnet50_fullckpt.pth \
        --out runs/continued --epochs 10

``IMAGES/`` is any folder of images (flat, or one subfolder per class: labels are not used).
``--weights`` is any release ``e2mc_plugin.checkpoints.load_torchvision_backbone`` reads (VICReg,
SwAV, SimSiam, MoCo v3, DINO or Barlow Twins ResNets, a solo-learn or torchvision checkpoint),
loaded strictly into ``torchvision.models.resnet50()``; without it the backbone starts random.
The model is lightly's VICReg (its projection head, VICRegLoss and VICRegTransform) with E2MC
attached by one call; ``--beta 0`` trains the "continued" baseline (plain VICReg) instead.
The continued backbone is written to ``OUT/backbone.pth`` (torchvision names, no fc).
Needs lightly (``pip install lightly``) and Lightning 2 (``lightning``) or ``pytorch_lightning``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

import torch
import torchvision
from lightly.data import LightlyDataset
from lightly.loss import VICRegLoss
from lightly.models.modules.heads import VICRegProjectionHead
from lightly.transforms import VICRegTransform

try:
    import lightning.pytorch as pl
except ImportError:  # Lightning 1.x
    import pytorch_lightning as pl

from e2mc_plugin.checkpoints import load_torchvision_backbone
from e2mc_plugin.lightning import attach_aux_losses


class VICReg(pl.LightningModule):
    """lightly's VICReg example with a torchvision ResNet backbone (``fc`` = Identity)."""

    def __init__(self, backbone: torch.nn.Module, features: int, proj_dim: int, lr: float):
        super().__init__()
        self.backbone = backbone
        self.projection_head = VICRegProjectionHead(features, proj_dim, proj_dim, num_layers=3)
        self.criterion = VICRegLoss()
        self.lr = lr

    def training_step(self, batch, batch_idx):
        x0, x1 = batch[0]
        z0 = self.projection_head(self.backbone(x0))
        z1 = self.projection_head(self.backbone(x1))
        loss = self.criterion(z0, z1)
        self.log("train_vicreg_loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9, weight_decay=1e-4)


def build_backbone(arch: str, weights: Optional[str], fmt: Optional[str], trusted: bool):
    backbone = getattr(torchvision.models, arch)()
    features = backbone.fc.in_features
    backbone.fc = torch.nn.Identity()
    if weights:
        backbone.load_state_dict(load_torchvision_backbone(weights, fmt, trusted=trusted))
    return backbone, features


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("images", help="folder of images (any layout)")
    p.add_argument("--out", required=True, help="output folder (OUT/backbone.pth)")
    p.add_argument("--force", action="store_true", help="replace an existing OUT/backbone.pth")
    p.add_argument("--weights", help="release checkpoint to continue (default: random init)")
    p.add_argument("--format", default=None, help="checkpoint format (default: detected)")
    p.add_argument("--trusted", action="store_true", help="unpickle the checkpoint fully")
    p.add_argument("--arch", default="resnet50", help="torchvision ResNet (default resnet50)")
    p.add_argument("--beta", type=float, default=1000.0, help="E2MC entropy weight (0: none)")
    p.add_argument("--gamma", type=float, default=100.0, help="E2MC covariance weight")
    p.add_argument("--mapping", default="sigmoid", choices=["sigmoid", "gaussian_cdf"])
    p.add_argument("--proj-dim", type=int, default=8192, help="projection head width")
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=256, help="per device")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps")
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--devices", default="auto", help="Lightning devices (e.g. 4: DDP)")
    p.add_argument("--accelerator", default="auto")
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    out = os.path.join(args.out, "backbone.pth")
    if os.path.exists(out) and not args.force:
        print(f"error: {out} exists; pass --force to replace it", file=sys.stderr)
        return 2
    backbone, features = build_backbone(args.arch, args.weights, args.format, args.trusted)
    model = VICReg(backbone, features, args.proj_dim, args.lr)
    specs = []
    if args.beta:  # gather: statistics over the global batch when run on several devices
        e2mc = dict(name="e2mc", beta=args.beta, gamma=args.gamma, mapping=args.mapping)
        specs = [dict(e2mc, gather=True)]
    model = attach_aux_losses(model, specs, embedding="projection_head")
    data = LightlyDataset(args.images, transform=VICRegTransform(input_size=args.input_size))
    loader = torch.utils.data.DataLoader(
        data,
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=args.workers,
        persistent_workers=args.workers > 0,
    )
    trainer = pl.Trainer(
        max_epochs=args.epochs,
        max_steps=args.max_steps,
        devices=args.devices,
        accelerator=args.accelerator,
        default_root_dir=args.out,
        log_every_n_steps=min(50, max(1, len(loader))),
    )
    trainer.fit(model, loader)
    if trainer.is_global_zero:
        os.makedirs(args.out, exist_ok=True)
        tmp = out + ".tmp"
        torch.save(model.backbone.state_dict(), tmp)
        os.replace(tmp, out)
        metrics = {k: round(float(v), 4) for k, v in trainer.callback_metrics.items()}
        print(f"wrote {out}; last metrics: {metrics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
