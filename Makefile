# The two fresh-machine commands: `make demo` (main job) and `make test` (test suite).
# Both create the environments they need (scripts/bootstrap_env.sh; idempotent, fast when unchanged).
.PHONY: env demo test test-slow check-wheel bench bench-gpu lint
E2MC_HOME ?= $(HOME)/.cache/e2mc-plugin

env:
	bash scripts/bootstrap_env.sh all

demo:
	bash scripts/run_demo.sh $(ARGS)

test:
	bash scripts/run_tests.sh ci

test-slow:
	bash scripts/run_tests.sh slow

# install like a user: wheel -> fresh venv -> e2mc-plugin list + one recipe step (CI runs it)
check-wheel: env
	bash scripts/check_wheel.sh

bench: env
	$(E2MC_HOME)/host-1.0.2/bin/python bench/bench_criteria.py --threads 2
	$(E2MC_HOME)/host-1.0.2/bin/python bench/bench_wrapper_overhead.py

# On a GPU machine: each aux loss inside a ResNet-50 / VICReg-8192 step, raw and through solo-learn.
bench-gpu: env
	$(E2MC_HOME)/host-1.0.6/bin/python bench/bench_gpu_step.py

lint: env
	$(E2MC_HOME)/host-1.0.2/bin/ruff check e2mc_plugin hydra_plugins tests bench examples setup.py
	$(E2MC_HOME)/host-1.0.2/bin/ruff format --check e2mc_plugin hydra_plugins tests bench examples setup.py
