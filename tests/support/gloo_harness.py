"""Multi-process gloo runs for tests, without ``mp.spawn`` and without a TCP store.

Every rank is a plain ``python WORKER RANK WORLD INIT_FILE [ARGS...]`` subprocess. The ranks meet
through a ``file://`` store (no server thread, no port), and :func:`rank_session` ends with a
barrier before ``destroy_process_group``, so no rank tears the group down while another still
talks to it. A rank then leaves through ``os._exit`` with its verdict: gloo's and DDP's C++
threads can otherwise abort the interpreter's final teardown (``terminate called without an
active exception``, SIGABRT after the work succeeded, seen in about 1 run in 7 with mp.spawn and
with plain processes alike). The parent joins every rank, kills all of them on a timeout, and
reports each rank's exit code and output: nothing can abort the test process itself.
"""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Sequence

REPO = Path(__file__).resolve().parents[2]


@dataclass
class RankResult:
    rank: int
    returncode: int
    output: str


def run_ranks(
    worker: Path, world: int, args: Sequence[str] = (), *, timeout: float = 120.0
) -> List[RankResult]:
    """Start ``world`` ranks of ``worker`` and wait for all of them (kill all on timeout)."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=path)
    with tempfile.TemporaryDirectory(prefix="gloo-") as tmp:
        store = Path(tmp) / "store"
        procs = [
            subprocess.Popen(
                [sys.executable, str(worker), str(rank), str(world), str(store), *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
            )
            for rank in range(world)
        ]
        results = []
        try:
            for rank, proc in enumerate(procs):
                out, _ = proc.communicate(timeout=timeout)
                results.append(RankResult(rank, proc.returncode, out))
        except subprocess.TimeoutExpired:
            for proc in procs:
                proc.kill()
            outs = [p.communicate()[0] for p in procs]
            raise AssertionError(
                f"gloo ranks of {worker.name} timed out after {timeout}s:\n" + "\n".join(outs)
            ) from None
    return results


def assert_all_ok(results: Sequence[RankResult], marker: str = "RANK-OK") -> None:
    """Every rank exited 0 and printed ``marker``."""
    bad = [r for r in results if r.returncode != 0 or marker not in r.output]
    assert not bad, "\n".join(f"--- rank {r.rank} (rc {r.returncode})\n{r.output}" for r in bad)


def parse_rank_argv(argv: Sequence[str]):
    """``(rank, world, store_path, extra_args)`` from a worker's ``sys.argv``."""
    return int(argv[1]), int(argv[2]), argv[3], list(argv[4:])


@contextlib.contextmanager
def rank_session(rank: int, world: int, store: str) -> Iterator[None]:
    """A gloo process group for the body; an orderly teardown (barrier, then destroy) even when
    the body raises (the error still propagates and the rank exits non-zero)."""
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    ok = False
    try:
        yield
        ok = True
    finally:
        if ok:
            dist.barrier()
        dist.destroy_process_group()
        gc.collect()
    print(f"RANK-OK {rank}", flush=True)


def run_worker(body: Callable[[int, int, List[str]], None], argv: Sequence[str]) -> None:
    """A worker's ``__main__``: ``body(rank, world, extra_args)`` inside :func:`rank_session`,
    then ``os._exit`` with 0 (success) or 1 (a traceback was printed), never returning."""
    rank, world, store, extra = parse_rank_argv(argv)
    code = 1
    try:
        with rank_session(rank, world, store):
            body(rank, world, extra)
        code = 0
    except BaseException:  # noqa: B036 - report anything, then exit with the verdict
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def assert_close_f64(a, b, what: str) -> None:
    """The workers' float64 comparison (rtol 1e-9, atol 1e-12), naming what differs and by how
    much: a plain AssertionError that the rank prints before exiting 1."""
    import torch

    if not torch.allclose(a, b, rtol=1e-9, atol=1e-12):
        raise AssertionError(f"{what}: max abs diff {float((a - b).abs().max())}")
