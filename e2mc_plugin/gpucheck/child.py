"""One part in its own process: ``python -m e2mc_plugin.gpucheck.child MODULE:FUNCTION --result
FILE --work DIR --repo DIR --limit S [--cpu]``.

Calls the part and writes its :class:`~e2mc_plugin.gpucheck.result.PartResult` as JSON; an
exception becomes an ERROR result naming it (the traceback stays in the part's log). A process
that dies without writing is reported by the runner from its exit status and log.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import traceback
from pathlib import Path
from typing import Optional, Sequence

from e2mc_plugin.gpucheck.result import ERROR, Context, PartResult


def call(target: str, ctx: Context) -> PartResult:
    """Run ``target`` (``"module:function"``); an exception becomes an ERROR result."""
    module, _, func = target.partition(":")
    try:
        result = getattr(importlib.import_module(module), func)(ctx)
        if not isinstance(result, PartResult):
            raise TypeError(f"{target} returned {type(result).__name__}, not a PartResult")
        return result
    except Exception as err:  # the part's failure is its row, not the check's end
        traceback.print_exc()
        first = (str(err).strip().splitlines() or [""])[0]
        return PartResult(ERROR, f"{type(err).__name__}: {first}"[:300])


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target")
    parser.add_argument("--result", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--limit", type=float, required=True)
    parser.add_argument("--cpu", action="store_true")
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    ctx = Context(cpu=args.cpu, work=work, repo=Path(args.repo), limit_s=args.limit)
    result = call(args.target, ctx)
    Path(args.result).write_text(json.dumps(result.to_dict(), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
