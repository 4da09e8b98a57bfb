"""The GPU check: every CUDA path of the plugin proven in one run of a few minutes, on a node
without network (``scripts/gpu_check.sh OUT_DIR``; ``--cpu`` for the dry run on any machine).

    gpu_check.sh -> python -m e2mc_plugin.gpucheck [--cpu] --out OUT_DIR
      runner.py     environment first, then each part in its own process with its own time
                    limit (parts.py); a part that fails, crashes or runs out of time is a row
                    of the report, and the next part runs
      report.py     OUT_DIR/gpu_check.json and OUT_DIR/gpu_check.md, rewritten after each part
      (a) exactness.py    every aux loss under bf16 / fp16 autocast against float64 on the CPU
      (b) syncs.py        wrapped solo-learn steps, every host sync seen (sync_events.py)
                          and judged against the documented cadence (cadence.py)
      (c) step_cost.py    bench/bench_gpu_step.py: each criterion's and the wrapper's share
      (d) launcher.py     e2mc-plugin pretrain at bf16-mixed, then kNN on its checkpoint

Nothing here is imported by the rest of the plugin; the modules that need torch, solo-learn or
Lightning import them themselves, so the runner and the kit (kit.py: manifest, README, offline
install; stdlib only) stay light. result.py: what a part receives and returns.
"""
