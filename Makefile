# The two fresh-machine commands: `make demo` (main job) and `make test` (test suite).
# Both create the environments they need (scripts/bootstrap_env.sh; idempotent, fast when unchanged).
.PHONY: env demo test test-slow bench lint

env:
	bash scripts/bootstrap_env.sh all

demo:
	bash scripts/run_demo.sh $(ARGS)

test:
	bash scripts/run_tests.sh fast

test-slow:
	bash scripts/run_tests.sh slow

bench: env
	$(HOME)/.cache/e2mc-plugin/host-1.0.2/bin/python bench/bench_criteria.py
	$(HOME)/.cache/e2mc-plugin/host-1.0.2/bin/python bench/bench_wrapper_overhead.py
