"""Host-neutral core of attaching named aux losses to a training step (no solo-learn, no Lightning).

One training step with aux losses, whatever the host::

    entries = parse_aux_losses(cfg["aux_losses"])           # the one schema; each loss built once
    groups = [(p, s) for p, s, _ in aux_groups(entries, "projector")]   # AuxLossSet per module
    module = resolve_module(model, path, "embedding")       # an unknown name lists the valid ones
    with Capture({path: module}, owner="MyModel") as cap:   # hooks live only inside the step
        out = host_training_step(batch)                     # the host calls `module` per crop
    results = apply_aux_sets(cap, groups, n_large=2, n_all=cap.count(path))
    total, items = aux_log_items(results, default_path=path)   # "train_aux/<label>/<term>"
    out, loss = add_aux_loss(out, total)                    # tensor or {"loss": ...}
    for name, value in items: host_log(name, value)
    check_after_batch(sets, model, batch_idx)               # NaN/Inf at log points, and
    check_after_epoch(sets, model); check_before_save(sets, model)   # epoch end, before writes

and, for checkpoints, ``checkpoint[AUX_RECORD_KEY] = aux_record(entries)`` on save and
:func:`check_resume` on load (one resume policy, one error type: :class:`ConfigError`).
The hosts: :mod:`e2mc_plugin.lightning` (any LightningModule) and :mod:`e2mc_plugin.solo`.
"""

from e2mc_plugin.attach.capture import Capture, ViewCountError
from e2mc_plugin.attach.finite import (
    SAVE_REFUSED,
    check_after_batch,
    check_after_epoch,
    check_before_save,
    is_log_point,
    raise_if_nonfinite,
)
from e2mc_plugin.attach.modules import resolve_module
from e2mc_plugin.attach.plain import to_plain
from e2mc_plugin.attach.record import AUX_RECORD_KEY, check_resume, describe_aux_change
from e2mc_plugin.attach.specs import (
    ADAPTER_KEYS,
    AuxEntry,
    ConfigError,
    aux_groups,
    aux_record,
    parse_aux_losses,
)
from e2mc_plugin.attach.terms import AUX_LOG_ROOT, add_aux_loss, aux_log_items
from e2mc_plugin.attach.views import apply_aux_sets

__all__ = [
    "ADAPTER_KEYS",
    "AUX_LOG_ROOT",
    "AUX_RECORD_KEY",
    "AuxEntry",
    "Capture",
    "ConfigError",
    "SAVE_REFUSED",
    "ViewCountError",
    "add_aux_loss",
    "apply_aux_sets",
    "aux_groups",
    "aux_log_items",
    "aux_record",
    "check_after_batch",
    "check_after_epoch",
    "check_before_save",
    "check_resume",
    "describe_aux_change",
    "is_log_point",
    "parse_aux_losses",
    "raise_if_nonfinite",
    "resolve_module",
    "to_plain",
]
