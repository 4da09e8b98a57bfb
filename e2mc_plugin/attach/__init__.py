"""Host-neutral core of attaching named aux losses to a training step (no solo-learn, no Lightning).

One training step with aux losses, whatever the host::

    with Capture({path: module}, owner="MyModel") as cap:   # hooks live only inside the step
        out = host_training_step(batch)                     # the host calls `module` per crop
    results = apply_aux_sets(cap, [(path, aux_set)], n_large=2, n_all=cap.count(path))
    total, items = aux_log_items(results, default_path=path)   # "train_aux/<label>/<term>"
    out, loss = add_aux_loss(out, total)                    # tensor or {"loss": ...}
    for name, value in items: host_log(name, value)
    ... at a log point (is_log_point), at epoch end, before a checkpoint write:
    raise_if_nonfinite(aux_sets, module)

and, for checkpoints, :data:`AUX_RECORD_KEY` + :func:`describe_aux_change`.
The hosts: :mod:`e2mc_plugin.lightning` (any LightningModule) and :mod:`e2mc_plugin.solo`.
"""

from e2mc_plugin.attach.capture import Capture, ViewCountError
from e2mc_plugin.attach.finite import SAVE_REFUSED, is_log_point, raise_if_nonfinite
from e2mc_plugin.attach.record import AUX_RECORD_KEY, describe_aux_change
from e2mc_plugin.attach.terms import AUX_LOG_ROOT, add_aux_loss, aux_log_items
from e2mc_plugin.attach.views import apply_aux_sets

__all__ = [
    "AUX_LOG_ROOT",
    "AUX_RECORD_KEY",
    "Capture",
    "SAVE_REFUSED",
    "ViewCountError",
    "add_aux_loss",
    "apply_aux_sets",
    "aux_log_items",
    "describe_aux_change",
    "is_log_point",
    "raise_if_nonfinite",
]
