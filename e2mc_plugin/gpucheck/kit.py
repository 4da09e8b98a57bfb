"""The GPU kit (``.gpu-kit/``): its manifest, its README, its check and its offline install.

``make gpu-kit`` (``scripts/build_gpu_kit.sh``) puts the wheels and solo-learn main's source in
the folder, then ``python -m e2mc_plugin.gpucheck.kit write KIT REPO`` adds:

- ``kit.json``: each file's SHA-256, the wheels (name, version, why), solo-learn's source and
  commit, and :func:`tree_hash` of the tree the plugin's wheel was built from;
- ``README.md``: what the kit holds and why (the reasons are the comments of
  ``requirements/gpu-kit.txt``, the one place they are written).

On the node, ``python -m e2mc_plugin.gpucheck.kit install KIT SITE`` checks every file against
``kit.json`` and unpacks the wheels into ``SITE`` (put on ``PYTHONPATH``): a pure wheel
(``Root-Is-Purelib: true``) installs by unpacking it, ``*.data/purelib`` moved to the root (the
wheel format, PEP 427), so neither pip, a compiler nor the network is needed.

Stdlib only: it runs before anything of the kit is importable.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import re
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

MANIFEST = "kit.json"
README = "README.md"
WHEELS = "wheels"
SOLO = "solo-learn"
REQUIREMENTS = Path("requirements") / "gpu-kit.txt"
#: what the plugin's wheel is built from (the files that change its behaviour or resources)
TREE_PARTS = ("e2mc_plugin", "hydra_plugins", "configs", "patches")
TREE_FILES = ("setup.cfg", "setup.py", "pyproject.toml")
TREE_SUFFIXES = (".py", ".yaml", ".yml", ".md", ".patch", ".sh", ".typed", ".txt")
PURE_TAGS = ("py3-none-any", "py2.py3-none-any")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree_hash(repo: Path) -> str:
    """SHA-256 over the relative paths and contents of the plugin's sources in ``repo``
    (:data:`TREE_PARTS`, :data:`TREE_FILES`; caches and other suffixes ignored)."""
    h = hashlib.sha256()
    files = [repo / f for f in TREE_FILES if (repo / f).is_file()]
    for part in TREE_PARTS:
        files += [
            p
            for p in (repo / part).rglob("*")
            if p.is_file() and p.suffix in TREE_SUFFIXES and "__pycache__" not in p.parts
        ]
    for p in sorted(files, key=lambda p: p.relative_to(repo).as_posix()):
        h.update(p.relative_to(repo).as_posix().encode() + b"\0")
        h.update(sha256(p).encode() + b"\n")
    return h.hexdigest()


def reasons(requirements: Path) -> Dict[str, str]:
    """``{normalized name: why}`` from ``name==version  # why`` lines."""
    out = {}
    for line in requirements.read_text().splitlines():
        m = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*==\s*\S+\s*#\s*(.+)", line)
        if m:
            out[normalize(m.group(1))] = m.group(2).strip()
    return out


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_name(path: Path) -> Tuple[str, str, str]:
    """``(normalized name, version, tag)`` of a wheel file name (PEP 427)."""
    parts = path.name[: -len(".whl")].split("-")
    return normalize(parts[0]), parts[1], "-".join(parts[-3:])


def write(kit: Path, repo: Path, solo_commit: Optional[str]) -> Dict:
    """Write ``kit.json`` and ``README.md`` into ``kit``; refuse wheels that are not pure."""
    why = reasons(repo / REQUIREMENTS)
    wheels = []
    for w in sorted((kit / WHEELS).glob("*.whl")):
        name, version, tag = wheel_name(w)
        if tag not in PURE_TAGS:
            raise SystemExit(f"kit: {w.name} is not a pure-Python wheel ({tag}); it cannot go")
        reason = why.get(name) or ("this repository's plugin" if name == "e2mc-plugin" else "")
        wheels.append({"file": w.name, "name": name, "version": version, "why": reason})
    files = {
        p.relative_to(kit).as_posix(): sha256(p)
        for p in sorted(kit.rglob("*"))
        if p.is_file() and p.name not in (MANIFEST, README) and "__pycache__" not in p.parts
    }
    manifest = {
        "built": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "tree_hash": tree_hash(repo),
        "wheels": wheels,
        "solo_learn": {"folder": SOLO, "commit": solo_commit},
        "files": files,
    }
    (kit / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    (kit / README).write_text(readme(manifest))
    return manifest


def readme(manifest: Dict) -> str:
    lines = [
        "# GPU kit: what a torch + Lightning image lacks, for a node without network",
        "",
        f"Built {manifest['built']} by `make gpu-kit`. On the node, from the repository root "
        "(this folder beside it): `scripts/gpu_check.sh OUT_DIR` (see the repository's "
        'README, "On a GPU node without network"). The node\'s own python3, torch, torchvision, '
        "numpy, scipy, scikit-learn, PyYAML and Pillow are used; nothing here needs a compiler or "
        "the network: every wheel is pure Python (py3-none-any), unpacked into a folder on "
        "PYTHONPATH, where it comes before the image's own packages.",
        "",
        "| file | why |",
        "|---|---|",
    ]
    for w in manifest["wheels"]:
        lines.append(f"| `{WHEELS}/{w['file']}` | {w['why']} |")
    commit = manifest["solo_learn"]["commit"] or "unknown commit"
    lines += [
        f"| `{SOLO}/` | solo-learn main's source ({commit}): the host, its `main_*.py` "
        "launchers and recipes (not on PyPI; MIT) |",
        f"| `{MANIFEST}` | each file's SHA-256 and the hash of the tree the plugin's wheel was "
        "built from (the check says when the tree has changed since) |",
        "",
    ]
    return "\n".join(lines)


def check(kit: Path, repo: Optional[Path] = None) -> Tuple[List[str], Dict]:
    """``(problems, manifest)``: files missing or differing from ``kit.json``; with ``repo``,
    whether the plugin's wheel was built from that tree (``manifest["tree_matches"]``)."""
    if not (kit / MANIFEST).is_file():
        return [f"{kit / MANIFEST} is missing: run make gpu-kit"], {}
    manifest = json.loads((kit / MANIFEST).read_text())
    problems = []
    for rel, digest in manifest["files"].items():
        path = kit / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
        elif sha256(path) != digest:
            problems.append(f"{rel} differs from the kit as built (truncated or edited)")
    if repo is not None:
        manifest["tree_matches"] = tree_hash(repo) == manifest["tree_hash"]
    return problems, manifest


def install(kit: Path, site: Path) -> List[str]:
    """Check the kit, then unpack each wheel into ``site``; returns the wheel files."""
    problems, manifest = check(kit)
    if problems:
        raise SystemExit("kit: " + "; ".join(problems) + " -- run make gpu-kit again")
    site.mkdir(parents=True, exist_ok=True)
    done = []
    for w in manifest["wheels"]:
        with zipfile.ZipFile(kit / WHEELS / w["file"]) as z:
            _unpack(z, site)
        done.append(w["file"])
    return done


def _unpack(z: zipfile.ZipFile, site: Path) -> None:
    info = next(n for n in z.namelist() if n.endswith(".dist-info/WHEEL"))
    if "Root-Is-Purelib: true" not in z.read(info).decode():
        raise SystemExit(f"kit: {z.filename} is not a purelib wheel")
    for member in z.infolist():
        parts = Path(member.filename).parts
        if member.is_dir() or ".." in parts:
            continue
        if parts[0].endswith(".data"):
            if parts[1] not in ("purelib", "platlib"):
                continue  # scripts / headers / data: nothing the check needs
            parts = parts[2:]
        target = site.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with z.open(member) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="write, check or install the GPU kit")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write")
    w.add_argument("kit")
    w.add_argument("repo")
    w.add_argument("--solo-commit", default=None)
    i = sub.add_parser("install")
    i.add_argument("kit")
    i.add_argument("site")
    args = parser.parse_args(argv)
    if args.command == "write":
        manifest = write(Path(args.kit), Path(args.repo), args.solo_commit)
        print("\n".join(f"  {w['file']}" for w in manifest["wheels"]))
    else:
        for name in install(Path(args.kit), Path(args.site)):
            print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
