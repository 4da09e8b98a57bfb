"""``--plan``: the stages, the launcher command of each, its GPU-hours and disk. Nothing runs."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from e2mc_plugin.reproduce.cost import StageCost, StepTime, stage_cost
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


def _cost_columns(plan: Plan, step: Optional[StepTime]) -> Optional[List[StageCost]]:
    """Each stage's cost, in plan order; None for a smoke plan (no GPU estimate)."""
    if plan.settings.smoke:
        return None
    return [stage_cost(stage, plan.row, step) for stage in plan.stages]


def _total(plan: Plan, out: Path, costs: Optional[List[StageCost]]) -> str:
    if costs is None:
        return f"total: {len(plan.stages)} stages, on the CPU"
    devices = plan.settings.devices
    hours = sum(c.gpu_hours for c in costs)
    disk = sum(c.disk_bytes for c in costs)
    return (
        f"total: {len(plan.stages)} stages; {hours:,.0f} GPU-hours = "
        f"{hours / devices:,.1f} h on {devices} GPU(s); {human_bytes(disk)} "
        f"written under {out} (checkpoints: fp32 weights + one momentum buffer per trained "
        "tensor; subsets are links)"
    )


def format_plan(plan: Plan, out: Path, step: Optional[StepTime]) -> str:
    """The printed plan; ``step`` None for a smoke plan (no GPU estimate): one line per stage
    (its title, or its GPU-hours, hours on the devices and disk), then its command."""
    costs = _cost_columns(plan, step)
    devices = plan.settings.devices
    width = max(len(s.id) for s in plan.stages)
    head = f"  {'#':>3}  {'stage':<{width}}"
    if costs is not None:
        head += f"  {'GPU-h':>8}  {f'h on {devices} GPU(s)':>14}  {'disk':>9}"
    lines = [*_header(plan, step), "", head]
    for i, stage in enumerate(plan.stages):
        row = f"  {i + 1:>3}  {stage.id:<{width}}  "
        if costs is None:
            row += stage.title
        else:
            cost = costs[i]
            row += (
                f"{cost.gpu_hours:8.1f}  {cost.gpu_hours / devices:14.1f}  "
                f"{human_bytes(cost.disk_bytes):>9}"
            )
        lines += [row, f"       {plan_command(stage, out)}"]
    lines += ["", _total(plan, out, costs)]
    return "\n".join(lines)
