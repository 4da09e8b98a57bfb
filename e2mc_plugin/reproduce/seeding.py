"""A hydra callback that seeds a launcher job from its ``seed`` key before the job builds anything.

solo-learn's ``main_pretrain.py`` calls ``seed_everything(cfg.seed)``; its ``main_linear.py``
records ``seed`` in ``args.json`` but never seeds, so two probes "with seeds 31 and 32" would
both be unseeded. ``e2mc-plugin reproduce`` adds this callback to every probe command::

    ++seed=31 +hydra.callbacks.e2mc_seed._target_=e2mc_plugin.reproduce.seeding.SeedEverything

Hydra calls ``on_job_start`` in every process that runs the job (Lightning's ``ddp`` re-runs the
command line in each rank), right before the task function, so the classifier's initialization
and the data order follow the seed. Python's, NumPy's and torch's generators are seeded, and
``PL_GLOBAL_SEED`` is set as Lightning's own ``seed_everything`` does (its dataloader worker
seeding reads it).
"""

from __future__ import annotations

import os
import random
from typing import Any

__all__ = ["SeedEverything", "seed_everything"]

try:  # hydra ships with every launcher this callback runs in; the plugin imports without it
    from hydra.experimental.callback import Callback as _HydraCallback
except ImportError:  # pragma: no cover
    _HydraCallback = object


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (every device) and set ``PL_GLOBAL_SEED``."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ["PL_GLOBAL_SEED"] = str(seed)


class SeedEverything(_HydraCallback):
    """Hydra callback: :func:`seed_everything` with the job's ``seed`` at ``on_job_start``."""

    def on_job_start(self, config: Any, **kwargs: Any) -> None:
        seed = config.get("seed") if hasattr(config, "get") else None
        if seed is None:
            raise ValueError(
                "SeedEverything: the job has no `seed` key; add ++seed=N to the command line"
            )
        seed_everything(int(seed))
