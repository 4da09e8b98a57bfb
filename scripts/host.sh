#!/usr/bin/env bash
# Run a program of this checkout's environment for a host (scripts/env.sh), e.g.
#   scripts/host.sh 1.0.2 python bench/bench_criteria.py     scripts/host.sh 1.0.2 ruff check .
#   scripts/host.sh 1.0.6 --path                             the environment's folder
# A program that is not in it (ruff and other tools of the dependencies) is taken from the
# shared dependency venv it sits on. The program holds shared locks on both while it runs
# (scripts/prune_envs.sh removes nothing locked).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
if [ $# -lt 2 ]; then echo "usage: scripts/host.sh 1.0.2|1.0.6 --path | PROGRAM [ARGS...]" >&2; exit 2; fi
version=$1; shift
venv=$(host_venv "$version")
if ! host_ready "$version"; then
  echo "[host] no environment at $venv -- run: make env (or scripts/bootstrap_env.sh $version)" >&2; exit 1
fi
if [ "$1" = --path ]; then echo "$venv"; exit 0; fi
# the program holds its environment and deps venv while it runs (a prune leaves them alone)
deps=$(cat "$venv/.deps")
hold_env_locks "$venv" "$deps"
if ! host_ready "$version"; then  # removed while this waited for the lock
  echo "[host] no environment at $venv -- run: make env (or scripts/bootstrap_env.sh $version)" >&2; exit 1
fi
touch "$venv/.used" 2>/dev/null || true  # its last use (the prune's age rule)
prog=$1; shift
for dir in "$venv/bin" "$deps/bin"; do
  if [ -x "$dir/$prog" ]; then exec "$dir/$prog" "$@"; fi
done
echo "[host] no program '$prog' in $venv/bin or its dependency venv -- try: scripts/host.sh $version python -m $prog" >&2
exit 127
