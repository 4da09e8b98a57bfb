"""``--plan``: the stages, the launcher command of each, its GPU-hours and disk. Nothing runs."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from e2mc_plugin.reproduce.cost import StepTime, stage_cost
from e2mc_plugin.reproduce.plan import Plan, Ref, Stage
from e2mc_plugin.reproduce.runner import display_command

__all__ = ["format_plan", "human_bytes"]


def human_bytes(n: int) -> str:
    """``0``, ``512 B``, ``97.6 MB``, ``1.41 GB`` (decimal units)."""
    if n <= 0:
        return "0"
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            value = n / size
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{n} B"


def plan_command(stage: Stage, out: Path) -> str:
    """The stage's command with its holes named (``<ckpt of pretrain-e2mc>``)."""
    attempt = str(out / "stages" / stage.id / "attempt-N")
    args = [a.render(Ref.placeholder, attempt) for a in stage.args]
    return display_command([stage.program, *args, *stage.runtime_args])


def _header(plan: Plan, step: Optional[StepTime]) -> List[str]:
    row, s = plan.row, plan.settings
    tables = ", ".join(str(t) for t in row.tables)
    models = ", ".join(row.models)
    lines = [
        f"e2mc-plugin reproduce --row {row.name}: the plan (nothing runs)",
        f"  base release: {row.release} (format {row.checkpoint_format}); paper Tables "
        f"{tables}, version {s.paper_version}; models: {models}",
        f"  {len(plan.measurements)} paper cells; probes over seeds "
        f"{', '.join(map(str, s.seeds))}; pretraining seed {s.seeds[0]}",
    ]
    if s.smoke:
        lines.append("  smoke run: every stage on the CPU at tiny sizes, on generated data")
    else:
        lines.append(
            f"  devices: {s.devices} per stage (each recipe's global batch kept: "
            "optimizer.batch_size = global batch / devices)"
        )
        assert step is not None
        lines.append(f"  step time: {step.source}")
    lines += [f"  note: {n}" for n in plan.notes]
    return lines


def format_plan(plan: Plan, out: Path, step: Optional[StepTime]) -> str:
    """The printed plan; ``step`` None for a smoke plan (no GPU estimate)."""
    lines = _header(plan, step)
    devices = plan.settings.devices
    width = max(len(s.id) for s in plan.stages)
    lines.append("")
    if plan.settings.smoke:
        lines.append(f"  {'#':>3}  {'stage':<{width}}")
    else:
        lines.append(
            f"  {'#':>3}  {'stage':<{width}}  {'GPU-h':>8}  {f'h on {devices} GPU(s)':>14}  "
            f"{'disk':>9}"
        )
    total_hours, total_bytes = 0.0, 0
    for i, stage in enumerate(plan.stages, 1):
        if plan.settings.smoke:
            lines.append(f"  {i:>3}  {stage.id:<{width}}  {stage.title}")
        else:
            cost = stage_cost(stage, plan.row, step)
            total_hours += cost.gpu_hours
            total_bytes += cost.disk_bytes
            lines.append(
                f"  {i:>3}  {stage.id:<{width}}  {cost.gpu_hours:8.1f}  "
                f"{cost.gpu_hours / devices:14.1f}  {human_bytes(cost.disk_bytes):>9}"
            )
        lines.append(f"       {plan_command(stage, out)}")
    lines.append("")
    if plan.settings.smoke:
        lines.append(f"total: {len(plan.stages)} stages, on the CPU")
    else:
        lines.append(
            f"total: {len(plan.stages)} stages; {total_hours:,.0f} GPU-hours = "
            f"{total_hours / devices:,.1f} h on {devices} GPU(s); {human_bytes(total_bytes)} "
            f"written under {out} (checkpoints: fp32 weights + one momentum buffer per trained "
            "tensor; subsets are links)"
        )
    return "\n".join(lines)
