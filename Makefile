# The two fresh-machine commands: `make demo` (main job) and `make test` (test suite).
# Both create the environments they need (scripts/bootstrap_env.sh; idempotent, fast when unchanged).
# This checkout's environments: scripts/host.sh 1.0.2|1.0.6 --path (layout: scripts/env.sh).
.PHONY: env demo test test-slow test-portable check-wheel bench bench-gpu gpu-kit lint
HOST = bash scripts/host.sh
LINT_PATHS = e2mc_plugin hydra_plugins tests bench examples setup.py

env:
	bash scripts/bootstrap_env.sh all

demo:
	bash scripts/run_demo.sh $(ARGS)

test:
	bash scripts/run_tests.sh ci

test-slow:
	bash scripts/run_tests.sh slow

# the fast suite with torch's scalar CPU kernels (ATEN_CPU_CAPABILITY=default): another CPU's
# float32 rounding on this one; E2MC_TEST_PATHS="tests/solo tests/lightning" narrows it
test-portable:
	bash scripts/run_tests.sh portable

# install like a user: wheel -> fresh venv -> e2mc-plugin list + one recipe step (CI runs it)
check-wheel: env
	bash scripts/check_wheel.sh

bench: env
	$(HOST) 1.0.2 python bench/bench_criteria.py --threads 2
	$(HOST) 1.0.2 python bench/bench_wrapper_overhead.py

# On a GPU machine: each aux loss inside a ResNet-50 / VICReg-8192 step, raw and through solo-learn.
bench-gpu: env
	$(HOST) 1.0.6 python bench/bench_gpu_step.py

# Where the package registries are reachable: .gpu-kit/ for a GPU node without network
# (then, on the node: scripts/gpu_check.sh OUT_DIR; README "On a GPU node without network").
gpu-kit:
	bash scripts/build_gpu_kit.sh

lint: env
	$(HOST) 1.0.2 ruff check $(LINT_PATHS)
	$(HOST) 1.0.2 ruff format --check $(LINT_PATHS)
