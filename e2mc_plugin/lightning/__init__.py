"""The named aux losses on any LightningModule (lightly's examples, your own), in one call.

::

    from e2mc_plugin.lightning import attach_aux_losses

    model = attach_aux_losses(
        MyVICReg(),                                  # any LightningModule
        [{"name": "e2mc", "beta": 1000, "gamma": 100, "mapping": "sigmoid"}],
        embedding="projection_head",                 # the submodule whose outputs are the views
    )
    trainer.fit(model, loader)                       # logs train_aux/e2mc/entropy, ...

Checkpoints that are never half-written (a documented Lightning plugin)::

    trainer = pl.Trainer(plugins=[atomic_checkpoint_io(pl)], ...)   # pl: your Lightning package
"""

from e2mc_plugin.lightning.attach import AUX_MODULE_NAME, LARGE_VIEWS, attach_aux_losses
from e2mc_plugin.lightning.checkpoint_io import atomic_checkpoint_io

__all__ = ["AUX_MODULE_NAME", "LARGE_VIEWS", "atomic_checkpoint_io", "attach_aux_losses"]
