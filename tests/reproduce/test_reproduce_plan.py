"""The plan of a row: which runs, in which order, with which command, batch, GPU-hours and disk.

Recipes are composed by hydra (no host needed). Independent references: the paper's cells
(a "-" is a run not made), the recipes' own global batches, torchvision's ResNet-50 parameter
count, and the paper's statement that 10 VICReg epochs took 10 h on two GPUs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("hydra", reason="hydra-core is not installed")

from e2mc_plugin.reproduce.cost import (  # noqa: E402
    IMAGES,
    default_step_time,
    stage_cost,
    step_time_from_bench,
)
from e2mc_plugin.reproduce.paper import paper_tables  # noqa: E402
from e2mc_plugin.reproduce.plan import Inputs, Settings  # noqa: E402
from e2mc_plugin.reproduce.planner import build_plan  # noqa: E402
from e2mc_plugin.reproduce.recipes import recipe_facts  # noqa: E402
from e2mc_plugin.reproduce.rows import ROWS, get_row  # noqa: E402
from e2mc_plugin.reproduce.show_plan import format_plan  # noqa: E402

INPUTS = Inputs(Path("/d/imagenet"), Path("/c/base.pth"), Path("/d/lists"))
TRANSFER = Inputs(Path("/d/imagenet"), Path("/c/base.pth"), Path("/d/lists"), Path("/d/inat"),
                  Path("/d/voc"))  # fmt: skip
SEEDS = (31, 32, 33)


def _plan(row="vicreg", inputs=TRANSFER, devices=1, seeds=SEEDS, smoke=False):
    return build_plan(get_row(row), inputs, Settings(devices=devices, seeds=seeds, smoke=smoke))


def _value(args, key):
    """The value of ``key=...`` among a stage's rendered arguments."""
    found = [a.split("=", 1)[1] for a in args if a.startswith(key + "=")]
    assert len(found) == 1, (key, args)
    return found[0]


@pytest.mark.parametrize("row", list(ROWS))
def test_every_printed_cell_of_the_row_is_measured_once_per_seed(row):
    plan = _plan(row)
    paper = paper_tables("A")
    r = get_row(row)
    printed = {c.key for c in paper.cells
               if c.table in r.tables and c.row == r.paper_row and c.model in r.models}  # fmt: skip
    assert {m.cell.key for m in plan.measurements} == printed
    ids = [s.id for s in plan.stages]
    for m in plan.measurements:
        expected = 1 if m.cell.column == "voc07" else len(SEEDS)
        assert len(m.stages) == expected and set(m.stages) <= set(ids)
        assert {plan.stage(s).model for s in m.stages} == {m.cell.model}


def test_runs_the_paper_does_not_report_are_not_planned():
    ids = {s.id for s in _plan("vicreg").stages}
    assert "semisup-1pct-e2mc-s31" in ids and "semisup-1pct-base-s31" in ids
    assert not any(i.startswith("semisup") and "continued" in i for i in ids)  # "-" in Table 1
    assert not any(i.startswith(("inat18-continued", "voc07-continued")) for i in ids)
    assert not any(i.startswith("semisup") for i in (s.id for s in _plan("simsiam").stages))
    mmcr = [s.id for s in _plan("swav800-mmcr").stages]
    assert "pretrain-mmcr" in mmcr and "pretrain-e2mc" not in mmcr
    assert not any(i.startswith(("semisup", "inat18", "voc07")) for i in mmcr)  # Table 3: linear


def test_stage_order_and_needs():
    plan = _plan("vicreg")
    ids = [s.id for s in plan.stages]
    assert ids[:5] == ["convert-base", "subset-1pct", "subset-10pct", "pretrain-continued",
                       "pretrain-e2mc"]  # fmt: skip
    assert ids[5:8] == ["linear-1pct-base-s31", "linear-1pct-base-s32", "linear-1pct-base-s33"]
    assert ids[-2:] == ["voc07-base", "voc07-e2mc"]
    for i, stage in enumerate(plan.stages):
        assert all(ids.index(n) < i for n in stage.needs), stage.id
    assert plan.stage("semisup-10pct-e2mc-s33").needs == ("pretrain-e2mc", "subset-10pct")
    assert plan.stage("linear-100pct-base-s31").needs == ("convert-base",)
    assert len(ids) == 1 + 2 + 2 + 27 + 12 + 6 + 2


def test_transfer_columns_need_their_data_and_say_so():
    plan = _plan("swav400", inputs=INPUTS)
    assert not any(s.kind in ("inat18", "voc07") for s in plan.stages)
    assert any("--inat18 DIR" in n for n in plan.notes) and any("--voc07" in n for n in plan.notes)


@pytest.mark.parametrize("devices", [1, 2, 8])
@pytest.mark.parametrize("row", ["vicreg", "swav400", "swav800", "simsiam"])
def test_devices_keep_each_recipes_global_batch(row, devices):
    for stage in _plan(row, devices=devices).stages:
        if stage.recipe is None:
            continue
        facts = recipe_facts(stage.recipe)
        runtime = dict(a.split("=", 1) for a in stage.runtime_args)
        assert int(runtime["devices"]) == devices
        assert int(runtime["optimizer.batch_size"]) * devices == facts.global_batch
    assert recipe_facts(get_row(row).variants["e2mc"]).global_batch == 512  # the paper's batch


def test_a_device_count_that_cannot_split_the_batch_is_refused():
    with pytest.raises(ValueError, match=r"--devices 3: recipe \S+ fixes the global batch \d+"):
        _plan("vicreg", devices=3)


def test_commands_name_the_recipes_data_and_seed():
    plan = _plan("swav800")
    ref = lambda r: f"<{r.key} of {r.stage}>"  # noqa: E731
    args = [a.render(ref, "ATT") for a in plan.stage("pretrain-e2mc").args]
    assert args[:3] == ["pretrain", "--config-name", "pretrain/swav/e2mc_800ep"]
    assert _value(args, "pretrained.path") == "'/c/base.pth'"
    assert _value(args, "checkpoint.dir") == "'ATT/ckpt'"
    args = [a.render(ref, "ATT") for a in plan.stage("semisup-1pct-e2mc-s32").args]
    assert args[2] == "finetuning/semisup_1pct_swav"
    assert _value(args, "pretrained_feature_extractor") == "'<ckpt of pretrain-e2mc>'"
    assert _value(args, "data.train_path") == "'<folder of subset-1pct>'"
    assert _value(args, "data.val_path") == "'/d/imagenet/val'"
    assert _value(args, "++seed") == "32"
    assert any("e2mc_plugin.reproduce.seeding.SeedEverything" in a for a in args)
    args = [a.render(ref, "ATT") for a in plan.stage("subset-10pct").args]
    assert args[1:] == ["/d/imagenet/train", "/d/lists/10percent.txt", "ATT/imagenet_10pct"]
    args = [a.render(ref, "ATT") for a in plan.stage("voc07-base").args]
    assert args == ["voc07-svm", "<folder of convert-base>", "--voc-root", "/d/voc", "--out",
                    "ATT/voc07.json"]  # fmt: skip


def test_identity_leaves_out_devices_so_a_resume_on_other_hardware_keeps_finished_stages():
    one, eight = _plan(devices=1), _plan(devices=8)
    for a, b in zip(one.stages, eight.stages, strict=True):
        assert a.identity() == b.identity()
    assert one.stage("pretrain-e2mc").runtime_args != eight.stage("pretrain-e2mc").runtime_args


def test_smoke_plan_uses_the_cpu_variants_and_the_same_formats():
    plan = _plan("swav800", smoke=True, seeds=(31, 32))
    recipes = {s.recipe for s in plan.stages if s.recipe}
    assert recipes == {"cpu/swav_continued", "cpu/swav_e2mc", "cpu/probe_cpu", "cpu/finetune_cpu",
                       "cpu/inat18_cpu"}  # fmt: skip
    assert all(s.runtime_args == () for s in plan.stages)
    pretrain = [a.render(str, "A") for a in plan.stage("pretrain-e2mc").args]
    assert "--cpu" in pretrain and any("format: swav_official" in a for a in pretrain)
    # the CPU recipes train 1 epoch: 2, so that a stopped stage has an epoch-end checkpoint to
    # go on from; the paper's recipes keep their own epochs
    assert _value(pretrain, "max_epochs") == "2"
    paper = [a.render(str, "A") for a in _plan("swav800").stage("pretrain-e2mc").args]
    assert not any(a.startswith("max_epochs=") for a in paper)
    convert = [a.render(str, "A") for a in plan.stage("convert-base").args]
    assert convert[-2:] == ["--format", "swav_official"]


def test_pretraining_hours_reproduce_the_papers_reported_time_by_default():
    """Default step time = the paper's VICReg run: 10 epochs, 10 h on 2 GPUs = 20 GPU-hours."""
    step = default_step_time()
    plan = _plan("vicreg")
    hours = stage_cost(plan.stage("pretrain-continued"), plan.row, step).gpu_hours
    assert hours == pytest.approx(20.0)
    swav = _plan("swav800")
    crops = (2 * 224**2 + 6 * 96**2) / (2 * 224**2)  # SwAV's 2 x 224 + 6 x 96 crops
    hours = stage_cost(swav.stage("pretrain-continued"), swav.row, step).gpu_hours
    assert hours == pytest.approx(20.0 * crops)
    simsiam = _plan("simsiam")  # fp32, as the paper's SimSiam run: its reported 14 h x 2 GPUs
    hours = stage_cost(simsiam.stage("pretrain-continued"), simsiam.row, step).gpu_hours
    assert hours == pytest.approx(28.0)


def test_probe_hours_count_train_and_validation_images_every_epoch():
    step = default_step_time()
    plan = _plan("vicreg")
    forward = step.ms_per_image / 2 / 3 * 1.4  # one crop, forward only, fp32
    hours = stage_cost(plan.stage("linear-10pct-e2mc-s31"), plan.row, step).gpu_hours
    assert hours == pytest.approx(100 * (128_116 + 50_000) * forward / 3.6e6)
    hours = stage_cost(plan.stage("inat18-base-s31"), plan.row, step).gpu_hours
    images = IMAGES["inat18_train"] + IMAGES["inat18_val"]
    assert hours == pytest.approx(84 * images * forward / 3.6e6)


def test_step_time_from_the_bench_json_and_its_criterion_ratios(tmp_path):
    rows = [
        {"variant": "none", "median_ms": 512.0, "ratio": 1.0},
        {"variant": "e2mc (defaults)", "median_ms": 532.48, "ratio": 1.04},
        {"variant": "mmcr 8 views (defaults)", "median_ms": 600.0, "ratio": 1.171875},
    ]
    (tmp_path / "b.json").write_text(json.dumps({"A": rows, "B": []}))
    step = step_time_from_bench(tmp_path / "b.json")
    assert step.ms_per_image == 2.0  # 512 ms per step of 256 images
    plan = _plan("vicreg")
    e2mc = stage_cost(plan.stage("pretrain-e2mc"), plan.row, step).gpu_hours
    cont = stage_cost(plan.stage("pretrain-continued"), plan.row, step).gpu_hours
    assert cont == pytest.approx(10 * 1_281_167 * 2.0 / 3.6e6)
    assert e2mc == pytest.approx(1.04 * cont)
    (tmp_path / "bad.json").write_text(json.dumps({"B": []}))
    with pytest.raises(ValueError, match="--step-time .*bad.json: not a bench/bench_gpu_step.py"):
        step_time_from_bench(tmp_path / "bad.json")


def test_disk_counts_checkpoint_weights_and_momentum():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet50()
    backbone = sum(v.numel() for k, v in model.state_dict().items() if not k.startswith("fc."))
    plan = _plan("vicreg")
    step = default_step_time()
    probe = stage_cost(plan.stage("linear-1pct-base-s31"), plan.row, step).disk_bytes
    assert probe == 4 * (backbone + 2 * (2048 * 1000 + 1000))  # frozen backbone + classifier x2
    assert stage_cost(plan.stage("subset-1pct"), plan.row, step).disk_bytes == 0
    bn = 4 * 8192 + 1  # weight, bias, running mean and variance, step count
    head = (2048 * 8192 + 8192 + bn) + (8192 * 8192 + 8192 + bn) + 8192 * 8192 + 8192
    convert = stage_cost(plan.stage("convert-base"), plan.row, step).disk_bytes
    assert convert == 4 * (backbone + head)


@pytest.mark.parametrize("devices", [1, 8])
@pytest.mark.parametrize("row", ["vicreg", "swav400", "swav800", "simsiam"])
def test_plan_prints_every_stage_with_command_hours_and_disk(row, devices, capsys):
    from e2mc_plugin.cli import main

    assert main(["reproduce", "--row", row, "--plan", "--devices", str(devices)]) == 0
    out = capsys.readouterr().out
    plan = _plan(row, inputs=INPUTS, devices=devices)
    for stage in plan.stages:
        assert f" {stage.id} " in out
    assert f"e2mc-plugin pretrain --config-name {get_row(row).variants['e2mc']}" in out
    assert f"devices={devices} optimizer.batch_size={512 // devices}" in out
    total = [line for line in out.splitlines() if line.startswith("total:")]
    assert len(total) == 1 and f"h on {devices} GPU(s)" in total[0] and "GB" in total[0]
    hours = sum(stage_cost(s, plan.row, default_step_time()).gpu_hours for s in plan.stages)
    assert f"{hours:,.0f} GPU-hours" in total[0]
    assert f"{hours / devices:,.1f} h on {devices}" in total[0]
    assert "nothing runs" in out and "--inat18 DIR" in out
    assert math.isfinite(hours) and hours > 0


def test_plan_of_a_smoke_run_lists_its_cpu_stages(capsys, tmp_path):
    from e2mc_plugin.cli import main

    assert main(["reproduce", "--smoke", "--plan", "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "cpu/vicreg_e2mc" in out and "total: 37 stages, on the CPU" in out
    assert not (tmp_path / "s").exists()  # nothing written


def test_format_plan_names_the_step_time_source():
    plan = _plan("vicreg")
    text = format_plan(plan, Path("/runs/x"), default_step_time())
    assert "5.62 ms per image" in text and "/runs/x/stages/pretrain-e2mc/attempt-N/ckpt" in text
