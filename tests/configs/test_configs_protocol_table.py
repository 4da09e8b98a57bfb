"""configs/PROTOCOL.md audits every recipe: each row is checked against the composed recipe.

The markdown table is parsed (recipe glob, value, ours); every recipe it matches is composed with
hydra (with the override of a ``VALUE [KEY=OPTION]`` row, e.g. ``lr_reading=effective``) and the
value compared. ``paper.py M/L`` rows are compared with
``e2mc_plugin.aux_losses.paper.paper_aux_spec`` (the one place those coefficients live), so the
table never repeats them. Every recipe file on disk must be matched by some row.
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
from pathlib import Path
from typing import Any, List, NamedTuple

import pytest

pytest.importorskip("hydra", reason="hydra-core is not installed")
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from e2mc_plugin.aux_losses.paper import paper_aux_spec  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
TABLE = CONFIGS / "PROTOCOL.md"
VOC_CLI = "e2mc-plugin voc07-svm"


class Row(NamedTuple):
    line: int
    recipe: str
    value: str
    ours: str


def _cell(text: str) -> str:
    text = text.strip()
    return text[1:-1] if text.startswith("`") and text.endswith("`") else text


def parse_table(text: str) -> List[Row]:
    """Rows of the first markdown table whose header starts with ``| recipe | value | ours``."""
    rows, inside = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("| recipe | value | ours"):
            inside = True
            continue
        if not inside:
            continue
        if not line.startswith("|"):
            break
        if set(line) <= set("|- "):
            continue
        cells = line.strip()[1:-1].split("|")
        assert len(cells) == 6, f"PROTOCOL.md:{number}: expected 6 columns, got {len(cells)}"
        rows.append(Row(number, _cell(cells[0]), _cell(cells[1]), _cell(cells[2])))
    return rows


ROWS = parse_table(TABLE.read_text())


def _recipes() -> List[str]:
    return sorted(
        str(p.relative_to(CONFIGS))[: -len(".yaml")]
        for p in CONFIGS.rglob("*.yaml")
        if not {"augmentations", "wandb", "lr_reading"} & set(p.parts)
    )


RECIPES = _recipes()


def _matched(pattern: str) -> List[str]:
    return [r for r in RECIPES if fnmatch.fnmatchcase(r, pattern)]


_COMPOSED: dict = {}


def _compose(recipe: str, override: str = ""):
    """The recipe as ``--config-path configs/<folder> --config-name <name> [override]``."""
    if (recipe, override) not in _COMPOSED:
        folder, name = os.path.split(recipe)
        with initialize_config_dir(config_dir=str(CONFIGS / folder), version_base="1.2"):
            overrides = [override] if override else []
            _COMPOSED[(recipe, override)] = compose(config_name=name, overrides=overrides)
    return _COMPOSED[(recipe, override)]


def _chain_text(recipe: str) -> str:
    """Text of the recipe and of the sibling recipes it extends."""
    path = CONFIGS / f"{recipe}.yaml"
    text = path.read_text()
    folder = os.path.dirname(recipe)
    for entry in OmegaConf.load(path).get("defaults", []):
        if isinstance(entry, str) and entry != "_self_":
            text += _chain_text(f"{folder}/{entry}")
    return text


def _scale(cfg) -> float:
    return cfg.optimizer.batch_size * len(cfg.devices) * cfg.get("num_nodes", 1) / 256


def _crops(cfg) -> str:
    return "+".join(f"{a.num_crops}x{a.crop_size}" for a in cfg.augmentations)


def _lookup(cfg, key: str) -> Any:
    node: Any = cfg
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", key):
        if part.startswith("["):
            node = node[int(part[1:-1])]
        else:
            if OmegaConf.is_missing(node, part):
                return "???"
            node = node[part]
    return OmegaConf.to_container(node) if OmegaConf.is_config(node) else node


def _actual(recipe: str, value: str) -> Any:
    """``value`` of the composed recipe; ``VALUE [KEY=OPTION]`` composes with that override."""
    m = re.fullmatch(r"(.*?) \[(\S+=\S+)\]", value)
    value, override = (m.group(1), m.group(2)) if m else (value, "")
    cfg = _compose(recipe, override)
    derived = {
        "effective lr": lambda: cfg.optimizer.lr * _scale(cfg),
        "global batch": lambda: int(cfg.optimizer.batch_size * len(cfg.devices)),
        "effective backbone lr": lambda: cfg.e2mc_linear.backbone_lr * _scale(cfg),
        "crops": lambda: _crops(cfg),
    }
    if value in derived:
        return derived[value]()
    return _lookup(cfg, value)


def _voc_actual(value: str) -> Any:
    from e2mc_plugin.evaluation import voc07, voc07_cli

    parser = voc07_cli._parser()
    facts = {
        "folds": parser.get_default("folds"),
        "costs": list(voc07.COST_GRIDS[parser.get_default("cost_grid")]),
        "benchmark_costs": list(voc07.COST_GRIDS["benchmark"]),
        "fallback_cost": voc07.FALLBACK_COST,
        "svm": voc07._svm(1.0, 0).get_params(),
    }
    assert parser.get_default("costs") is None  # the named grid applies
    assert facts["costs"] == list(voc07.VOC07_COSTS)  # the CLI's default is the API's
    m = re.fullmatch(r"(len|min|max)\((\w+)\)", value)
    if m:
        return {"len": len, "min": min, "max": max}[m.group(1)](facts[m.group(2)])
    head, _, rest = value.partition(".")
    return facts[head][rest] if rest else facts[head]


def _expected(ours: str) -> Any:
    if ours == "???":
        return "???"
    return OmegaConf.create(f"v: {ours}").v if not ours.startswith("{") else _int_dict(ours)


def _int_dict(text: str) -> dict:
    """``{1: 2, -1: 1}`` (YAML would read the keys as ints too, but keep it explicit)."""
    out = {}
    for pair in text.strip("{}").split(","):
        k, v = pair.split(":")
        out[int(k)] = int(v)
    return out


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        try:
            return math.isclose(float(actual), float(expected), rel_tol=1e-9)
        except (TypeError, ValueError):
            return False
    if OmegaConf.is_config(expected):
        expected = OmegaConf.to_container(expected)
    return actual == expected


def _check(row: Row, recipe: str) -> None:
    where = f"PROTOCOL.md:{row.line} {recipe} {row.value}"
    if row.value == "release URL":
        assert row.ours in _chain_text(recipe), f"{where}: {row.ours} not named in the recipe"
        return
    actual = _actual(recipe, row.value)
    paper = re.fullmatch(r"paper\.py (\w+)/(\w+)", row.ours)
    if paper:
        spec = paper_aux_spec(paper.group(1), paper.group(2))
        for key, value in spec.items():
            assert _same(actual.get(key), value), f"{where}: {key}={actual.get(key)!r} != {value}"
        return
    expected = _expected(row.ours)
    assert _same(actual, expected), f"{where}: recipe has {actual!r}, table says {row.ours}"


def test_table_was_parsed():
    assert len(ROWS) > 100
    assert {r.value for r in ROWS} >= {"effective lr", "global batch", "release URL"}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"L{r.line}-{r.recipe}-{r.value}")
def test_row_holds_for_every_matched_recipe(row):
    if row.recipe == VOC_CLI:
        expected = _expected(row.ours)
        assert _same(_voc_actual(row.value), expected), f"PROTOCOL.md:{row.line}"
        return
    recipes = _matched(row.recipe)
    assert recipes, f"PROTOCOL.md:{row.line}: {row.recipe!r} matches no recipe"
    for recipe in recipes:
        _check(row, recipe)


def test_every_recipe_is_audited():
    audited = {r for row in ROWS for r in _matched(row.recipe)}
    assert set(RECIPES) - audited == set()


def test_paper_rows_cover_every_aux_recipe():
    """Each recipe with an aux loss has a ``paper.py`` row for it (coefficients never drift)."""
    for recipe in RECIPES:
        if not recipe.startswith("pretrain/"):
            continue
        aux = OmegaConf.to_container(_compose(recipe).aux_losses)
        rows = [r for r in ROWS if r.value == "aux_losses[0]" and recipe in _matched(r.recipe)]
        if aux:
            assert rows and rows[0].ours.startswith("paper.py"), recipe
        else:
            rows = [r for r in ROWS if r.value == "aux_losses" and recipe in _matched(r.recipe)]
            assert [r.ours for r in rows] == ["[]"], recipe


def test_a_drifted_value_is_caught(tmp_path):
    """The checker fails on a recipe that disagrees with its row (the point of the table)."""
    row = next(r for r in ROWS if r.value == "method_kwargs.var_loss_weight")
    bad = Row(row.line, row.recipe, row.value, "25.0")
    with pytest.raises(AssertionError, match="table says 25.0"):
        _check(bad, _matched(row.recipe)[0])
    paper_row = next(r for r in ROWS if r.ours == "paper.py swav/e2mc")
    with pytest.raises(AssertionError, match="beta"):
        _check(paper_row._replace(ours="paper.py vicreg/e2mc"), _matched(paper_row.recipe)[0])
