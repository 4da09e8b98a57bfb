"""The check's first step: what runs, from where, and whether it can run the parts.

Passes when torch, torchvision, timm, Lightning, torchmetrics, omegaconf, hydra, solo-learn and
the plugin import; on a GPU run, when CUDA is available; with the kit (``$E2MC_GPU_KIT``), when
its files are intact and its packages (Lightning, torchmetrics, timm, ...) are the ones imported,
not the image's.
A kit built from another tree is a note: the parts import the plugin from this tree.
"""

from __future__ import annotations

import datetime
import importlib
import os
import platform
import sys
from pathlib import Path
from typing import Dict, List, Optional

from e2mc_plugin.gpucheck import kit
from e2mc_plugin.gpucheck.result import FAIL, PASS, Context, PartResult

KIT_ENV = "E2MC_GPU_KIT"
#: the folder scripts/gpu_check.sh unpacked the kit's wheels into
SITE_ENV = "E2MC_GPU_KIT_SITE"
MODULES = (
    ("torch", "torch"),
    ("torchvision", "torchvision"),
    ("timm", "timm"),
    ("numpy", "numpy"),
    ("lightning", "lightning"),
    ("torchmetrics", "torchmetrics"),
    ("omegaconf", "omegaconf"),
    ("hydra-core", "hydra"),
    ("solo-learn", "solo"),
    ("e2mc-plugin", "e2mc_plugin"),
)


def _origin(path: Optional[str], repo: Path, kit_dir: Optional[Path]) -> str:
    if not path:
        return "?"
    p = Path(path).resolve()
    if kit_dir is not None and (kit_dir.resolve() / kit.SOLO) in p.parents:
        return "the kit's solo-learn source"
    if repo.resolve() in p.parents:
        return "this tree"
    site = os.environ.get(SITE_ENV)
    if site and Path(site).resolve() in p.parents:
        return "the kit"
    return str(p.parent.parent if p.name == "__init__.py" else p.parent)


def _imports(repo: Path, kit_dir: Optional[Path]) -> tuple:
    rows, problems, versions = [], [], []
    for dist, module in MODULES:
        try:
            mod = importlib.import_module(module)
        except Exception as err:  # any import failure is the row's finding
            rows.append({"package": dist, "version": None, "from": f"import failed: {err}"})
            problems.append(f"{dist} does not import ({type(err).__name__}: {err})")
            continue
        version = getattr(mod, "__version__", None)
        rows.append(
            {"package": dist, "version": version, "from": _origin(mod.__file__, repo, kit_dir)}
        )
        if version:
            versions.append(f"{dist} {version}")
    return rows, problems, versions


def _device(cpu: bool) -> Dict[str, object]:
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        name = f"{props.name} ({props.total_memory / 2**30:.0f} GiB, sm_{props.major}{props.minor})"
        return {"cuda": True, "device": name, "cuda_version": torch.version.cuda}
    return {"cuda": False, "device": f"CPU ({torch.get_num_threads()} threads)"}


def _kit_facts(kit_dir: Path, repo: Path, rows: List[dict]) -> tuple:
    problems, notes = [], []
    broken, manifest = kit.check(kit_dir, repo)
    problems += [f"kit: {p}" for p in broken]
    if not manifest:
        return problems, notes
    pinned = {w["name"]: w["version"] for w in manifest["wheels"]}
    found = {r["package"]: r["version"] for r in rows}
    for name in sorted(set(pinned) & set(found)):  # each pinned package the check imports
        if found[name] != pinned[name]:
            problems.append(
                f"{name} {found.get(name)} is imported, not the kit's {pinned[name]} (the kit's "
                "folder must come first on PYTHONPATH: run scripts/gpu_check.sh)"
            )
    if not manifest.get("tree_matches", True):
        notes.append(
            f"the kit's plugin wheel was built {manifest['built']} from another state of the "
            "tree; the check imports the plugin from this tree (run make gpu-kit again to ship "
            "a current wheel)"
        )
    commit = manifest["solo_learn"]["commit"]
    for row in rows:
        if row["package"] == "solo-learn" and row["from"] == "the kit's solo-learn source":
            row["version"] = f"main @ {commit}"
    notes.append(f"kit built {manifest['built']}, solo-learn {commit}")
    return problems, notes


def run(ctx: Context) -> PartResult:
    kit_dir = Path(os.environ[KIT_ENV]) if os.environ.get(KIT_ENV) else None
    rows, problems, versions = _imports(ctx.repo, kit_dir)
    notes: List[str] = [f"Python {platform.python_version()} ({sys.executable})"]
    facts: Dict[str, object] = {}
    if not any(r["package"] == "torch" and r["version"] is None for r in rows):
        facts.update(_device(ctx.cpu))
        if not ctx.cpu and not facts["cuda"]:
            problems.append("no CUDA device: on a machine without one, run the dry run (--cpu)")
    if kit_dir is not None:
        more, kit_notes = _kit_facts(kit_dir, ctx.repo, rows)
        problems += more
        notes += kit_notes
    else:
        notes.append(f"no kit (${KIT_ENV} unset): this environment's packages as they are")
    facts["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    facts["versions"] = versions
    where = facts.get("device", "?")
    summary = "; ".join(problems) if problems else f"{where}; every package imports"
    return PartResult(
        FAIL if problems else PASS,
        summary,
        ["package", "version", "from"],
        rows,
        notes,
        facts,
    )
