"""``e2mc-plugin list`` names every ViT release loader with its method and layout."""

from __future__ import annotations

from e2mc_plugin.cli import main

VIT_LOADERS = {
    "dino_vit_backbone": "dino", "dino_vit_full": "dino", "mocov3_vit": "mocov3",
    "ibot_backbone": "dino", "dinov2_backbone": "dino", "mae_encoder": "-",
    "dino_vit_hf": "dino", "dinov2_hf": "dino",
}  # fmt: skip


def test_list_names_the_vit_loaders_with_their_methods(capsys):
    assert main(["list"]) == 0
    rows = {line.split()[0]: line.split()[2] for line in capsys.readouterr().out.splitlines()
            if line.startswith("  ") and "->" in line}  # fmt: skip
    assert {name: rows.get(name) for name in VIT_LOADERS} == VIT_LOADERS
