"""DINOv2 torch.hub backbones (with and without registers; the hub files' exact layout, random
weights, the real ViT-S/14) through solo-learn main's launchers, as a user runs them:

- continued with solo's ``dino`` + E2MC by ``e2mc-plugin pretrain`` on ``configs/cpu/
  vit_dinov2_e2mc.yaml`` (224 + 98-px crops, 2 CPU steps; ``scope: backbone``, a fresh DINO head):
  every backbone tensor of the model at the start of training is the file's (the table as
  DINOv2's own model resizes it for 224 px), and the teacher's backbone too; the continued
  checkpoint is then probed by ``e2mc-plugin linear`` (``cpu/probe_cpu.yaml``) on exactly its
  backbone and evaluated by ``e2mc-plugin knn --cpu``;
- converted by ``e2mc-plugin convert`` and evaluated by the same launchers: the probe's backbone
  at train start and the model ``main_knn.py`` rebuilds from the converted ``args.json`` compute
  the release's function (float64, 1e-10, against DINOv2's model at 224 px).

States are observed by a third-party Lightning callback (``launcher_env.state_spy``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
from launcher_env import REPO, cli, host_checkout, image_folder, state_spy  # noqa: E402

from e2mc_plugin.checkpoints import load_checkpoint  # noqa: E402
from e2mc_plugin.testing.vit_official import DINOv2ViT, randomise  # noqa: E402
from e2mc_plugin.testing.vit_releases import save  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.host106]

CPU = REPO / "configs" / "cpu"
SIDE, GRID, WIDTH = 224, 16, 384
TOL = 1e-10


def _release(tmp_path: Path, registers: int):
    """DINOv2's ViT-S/14 as ``hub/backbones.py`` builds it (reg4: offset 0, antialias), saved
    as the torch.hub file."""
    kwargs = {"interpolate_offset": 0.0, "interpolate_antialias": True} if registers else {}
    ref = randomise(DINOv2ViT(WIDTH, 12, 6, registers=registers, **kwargs), 70 + registers)
    with torch.no_grad():  # the class token and its table row on a 2^-12 grid: their sum (solo's
        # class token with registers) is exact in a float32 parameter, so the float64
        # comparison sees the conversion, not the rounding DINOv2's float32 forward makes too
        for row in (ref.cls_token, ref.pos_embed[:, :1]):
            row.copy_(torch.round(row * 4096) / 4096)
    name = f"dinov2_vits14{'_reg4' if registers else ''}_pretrain.pth"
    return ref.eval(), save(ref.state_dict(), str(tmp_path / "hub" / name))


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return image_folder(tmp_path_factory.mktemp("dinov2-images") / "train", 5, 4, seed=0)


def _q(path) -> str:
    return f"'{path}'"


def _spied(args: list, tmp_path: Path, tag: str):
    """Run ``e2mc-plugin ARGS``; returns (process, state dict at on_train_start)."""
    state = tmp_path / f"state-{tag}.pt"
    proc = cli(args, cwd=tmp_path, src=host_checkout(), pythonpath=[state_spy(tmp_path / "spy")],
               env={"SPY_STATE": str(state)})  # fmt: skip
    return proc, torch.load(state)


def _kwargs_overrides(kwargs: dict) -> str:
    text = lambda v: str(v).lower() if isinstance(v, bool) else str(v)  # noqa: E731
    return "+backbone.kwargs={" + ", ".join(f"{k}: {text(v)}" for k, v in kwargs.items()) + "}"


def _linear(ckpt: Path, args: dict, images: Path, tmp_path: Path, tag: str) -> dict:
    """``e2mc-plugin linear`` (cpu/probe_cpu.yaml) with the backbone ``args.json`` records; the
    probe's state at train start."""
    kwargs = dict(args["backbone"]["kwargs"])
    method = args["method"].removesuffix("_aux")
    _, state = _spied(
        ["linear", "--config-path", str(CPU), "--config-name", "probe_cpu",
         f"pretrained_feature_extractor={_q(ckpt)}", f"pretrain_method={method}",
         f"backbone.name={args['backbone']['name']}", _kwargs_overrides(kwargs),
         f"data.train_path={_q(images)}", f"data.val_path={_q(images)}",
         f"checkpoint.dir={_q(tmp_path / ('linear-' + tag))}"],
        tmp_path, tag,
    )  # fmt: skip
    return state


def _knn(folder: Path, images: Path, tmp_path: Path, knn_cli_args) -> None:
    proc = cli(["knn", "--cpu", *knn_cli_args(folder, images, images)], cwd=tmp_path,
               src=host_checkout())  # fmt: skip
    assert "Result: acc@1=" in proc.stdout, proc.stdout[-2000:]


def _backbone(state: dict, prefix: str = "backbone.") -> dict:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


@torch.no_grad()
def _assert_backbone_is_the_files(backbone: dict, ref: DINOv2ViT, registers: int) -> None:
    """Every tensor of solo's ViT from the hub file: blocks as saved; the position table as
    DINOv2's model resizes it at 224 px (its own ``interpolate_pos_encoding``, float32); with
    registers, timm's ``no_embed_class`` form (class row folded into the class token)."""
    file = ref.state_dict()
    names = set(file) - {"mask_token", "register_tokens"} | ({"reg_token"} if registers else set())
    assert set(backbone) == names
    for key in names - {"cls_token", "pos_embed", "reg_token"}:
        assert torch.equal(backbone[key], file[key]), key
    table = ref.interpolate_pos_encoding(torch.zeros(1, 1 + GRID * GRID, WIDTH), SIDE, SIDE)
    if registers:
        assert torch.equal(backbone["reg_token"], file["register_tokens"])
        cls = (file["cls_token"].double() + file["pos_embed"][:, :1].double()).float()
        assert torch.equal(backbone["cls_token"], cls)  # one rounding of an exact sum
        table = table[:, 1:]
    else:
        assert torch.equal(backbone["cls_token"], file["cls_token"])
    # the same float32 bicubic call on the same table: a few roundings of 16-term sums
    tol = 64 * torch.finfo(torch.float32).eps * float(table.abs().max())
    assert float((backbone["pos_embed"] - table).abs().max()) <= tol


@torch.no_grad()
def _assert_release_function(backbone: torch.nn.Module, ref: DINOv2ViT) -> None:
    x = torch.randn(2, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(3)).double()
    got = backbone.double().eval()(x)
    assert float((got - ref.double()(x)).abs().max()) < TOL


@pytest.mark.parametrize("registers", [0, 4], ids=["plain", "reg4"])
def test_dinov2_continues_with_e2mc_then_linear_and_knn_probe_its_backbone(
    registers, images, tmp_path, knn_cli_args
):
    ref, path = _release(tmp_path, registers)
    release = load_checkpoint(path).architecture
    recipe_kwargs = {"patch_size": 14, "init_values": 1.0, "img_size": SIDE}
    extra = {k: v for k, v in release.backbone_kwargs(SIDE).items() if k not in recipe_kwargs}
    _, state = _spied(
        ["pretrain", "--config-path", str(CPU), "--config-name", "vit_dinov2_e2mc",
         f"data.train_path={_q(images)}", f"checkpoint.dir={_q(tmp_path / 'ckpt')}",
         f"pretrained.path={_q(path)}", *[f"+backbone.kwargs.{k}={str(v).lower()}"
                                          for k, v in extra.items()]],
        tmp_path, "pretrain",
    )  # fmt: skip
    _assert_backbone_is_the_files(_backbone(state), ref, registers)
    teacher = _backbone(state, "momentum_backbone.")
    assert teacher.keys() == _backbone(state).keys()
    assert all(torch.equal(teacher[k], v) for k, v in _backbone(state).items())
    # the DINO head is fresh (the hub file has none): the teacher's is solo's copy of the student's
    heads = [k for k in state if k.startswith("head.")]
    assert heads and all(torch.equal(state["momentum_" + k], state[k]) for k in heads)

    (ckpt,) = sorted((tmp_path / "ckpt").rglob("*.ckpt"))
    args = json.loads((ckpt.parent / "args.json").read_text())
    assert args["backbone"]["kwargs"] == {**recipe_kwargs, **extra, "dynamic_img_size": True}
    run = json.loads((ckpt.parent / "metrics.json").read_text())
    assert run["global_step"] == 2 and "train_aux/e2mc/entropy" in run["metrics"]
    probe = _linear(ckpt, args, images, tmp_path, "continued")
    continued = _backbone(torch.load(ckpt, map_location="cpu")["state_dict"])
    assert _backbone(probe).keys() == continued.keys()  # LayerScale, registers: nothing dropped
    assert all(torch.equal(_backbone(probe)[k], v) for k, v in continued.items())
    _knn(ckpt.parent, images, tmp_path, knn_cli_args)


@pytest.mark.parametrize("registers", [0, 4], ids=["plain", "reg4"])
def test_converted_dinov2_is_the_release_in_solos_linear_and_knn_launchers(
    registers, images, tmp_path, knn_cli_args
):
    from omegaconf import OmegaConf
    from solo.methods import METHODS
    from solo.methods.base import BaseMethod

    ref, path = _release(tmp_path, registers)
    out = tmp_path / "converted"
    cli(["convert", path, "--out", str(out)], cwd=tmp_path, src=host_checkout())
    (ckpt,) = out.glob("*.ckpt")
    args = json.loads((out / "args.json").read_text())
    assert args["method"] == "dino"
    assert args["backbone"]["kwargs"] == load_checkpoint(path).architecture.backbone_kwargs(SIDE)

    probe = _backbone(_linear(ckpt, args, images, tmp_path, "converted"))
    vit = BaseMethod._BACKBONES["vit_small"](method="dino", **args["backbone"]["kwargs"])
    vit.load_state_dict(probe)  # strict: the probe's ViT has every tensor of the release's
    _assert_release_function(vit, ref)

    _knn(out, images, tmp_path, knn_cli_args)
    # main_knn.py: METHODS[args["method"]].load_from_checkpoint(ckpt, strict=False, cfg=args)
    model = METHODS[args["method"]].load_from_checkpoint(ckpt, strict=False,
                                                          cfg=OmegaConf.create(args))  # fmt: skip
    _assert_release_function(model.backbone, ref)
