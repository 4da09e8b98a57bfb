"""Checkpoint loaders: released SSL checkpoints -> solo-learn 1.0.6 state dicts, loaded safely.

::

    loaded = load_checkpoint("swav_800ep_pretrain.pth.tar")          # format detected
    report = initialize_from_checkpoint(model, loaded, strict=True)  # into a built method
    print(report)
    initialize_from_checkpoint(model, load_checkpoint("resnet50.pth"), scope="backbone")
    write_host_checkpoint(state_dict, args, "out/", "name")  # <name>.ckpt + args.json, atomic
    load_torchvision_backbone("vicreg_resnet50.pth")  # -> torchvision.models.resnet50() names

No solo-learn or Lightning import here: the loaders work on plain state dicts and any built
``nn.Module`` with solo-learn's attribute names.
"""

from e2mc_plugin.checkpoints import loaders  # noqa: F401  (registers the built-in loaders)
from e2mc_plugin.checkpoints.initialize import (
    CheckpointMismatchError,
    initialize_from_checkpoint,
)
from e2mc_plugin.checkpoints.load import CheckpointFormatError, detect_format, load_checkpoint
from e2mc_plugin.checkpoints.recipe import pretrained_from_cfg
from e2mc_plugin.checkpoints.registry import (
    CHECKPOINT_LOADERS,
    CheckpointLoader,
    get_checkpoint_loader,
    list_checkpoint_loaders,
    register_checkpoint_loader,
)
from e2mc_plugin.checkpoints.report import LoadedCheckpoint, LoadReport
from e2mc_plugin.checkpoints.safe_load import (
    CorruptCheckpointError,
    NotACheckpointError,
    UnsafeCheckpointError,
    safe_torch_load,
)
from e2mc_plugin.checkpoints.torchvision_export import (
    load_torchvision_backbone,
    torchvision_backbone_state,
)
from e2mc_plugin.checkpoints.writer import WrittenCheckpoint, write_host_checkpoint

__all__ = [
    "CHECKPOINT_LOADERS",
    "CheckpointFormatError",
    "CheckpointLoader",
    "CheckpointMismatchError",
    "CorruptCheckpointError",
    "LoadReport",
    "LoadedCheckpoint",
    "NotACheckpointError",
    "UnsafeCheckpointError",
    "WrittenCheckpoint",
    "detect_format",
    "get_checkpoint_loader",
    "initialize_from_checkpoint",
    "list_checkpoint_loaders",
    "load_checkpoint",
    "load_torchvision_backbone",
    "pretrained_from_cfg",
    "register_checkpoint_loader",
    "safe_torch_load",
    "torchvision_backbone_state",
    "write_host_checkpoint",
]
