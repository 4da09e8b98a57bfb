"""``PluginLinearModel``: the hydra callback that makes ``main_linear.py`` build
``LinearModelE2MC`` during its job (the ``_target_`` recipes name)."""

from __future__ import annotations

from typing import Any, Optional

from e2mc_plugin.solo.linear_model.variant import plugin_linear_model_class
from e2mc_plugin.solo.recipe.schema import LINEAR_BLOCK, ConfigError

__all__ = ["PluginLinearModel"]

try:  # the callback base class is hydra's; the plugin imports without hydra too
    from hydra.experimental.callback import Callback as _HydraCallback
except ImportError:  # pragma: no cover - hydra ships with every host that has main_linear.py
    _HydraCallback = object


class PluginLinearModel(_HydraCallback):
    """Hydra callback: ``main_linear.py`` builds :func:`plugin_linear_model_class` during the job.

    ``task_function`` is the launcher's ``main``; its globals hold the ``LinearModel`` name the
    script imported from ``solo.methods.linear``.

    Hydra turns an exception raised by a callback into a warning and runs the job anyway, so
    nothing is validated here: the swapped class parses ``e2mc_linear`` in its constructor,
    inside the job, where an error stops the run. Should the swap itself fail (a task without
    ``LinearModel``), the plugin's ``RecipeGuard`` refuses the host model that then carries an
    ``e2mc_linear`` block at ``setup``.
    """

    def __init__(self) -> None:
        self._saved: Optional[tuple] = None

    def on_job_start(self, config: Any, *, task_function: Any = None, **kwargs: Any) -> None:
        scope = getattr(task_function, "__globals__", {})
        host_cls = scope.get("LinearModel")
        if not isinstance(host_cls, type):
            raise ConfigError(
                f"{LINEAR_BLOCK}: the hydra callback {type(self).__name__} runs with solo-learn's "
                "main_linear.py (which defines LinearModel); this task has none"
            )
        base = getattr(host_cls, "_e2mc_host_cls", host_cls)
        variant = plugin_linear_model_class(base)
        variant._e2mc_host_cls = base
        self._saved = (scope, host_cls)
        scope["LinearModel"] = variant

    def on_job_end(self, config: Any, job_return: Any = None, **kwargs: Any) -> None:
        if self._saved is not None:
            scope, host_cls = self._saved
            scope["LinearModel"] = host_cls
            self._saved = None
