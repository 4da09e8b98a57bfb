#!/usr/bin/env bash
# Create the environments if needed, then run `e2mc-plugin demo` on the newest host present
# (this checkout's environment, scripts/env.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ROOT/scripts/bootstrap_env.sh" all
resolve_solo_src  # the set-up may have fetched solo-learn main
version=1.0.2
if [ -n "$SOLO_LEARN_SRC" ] && host_ready 1.0.6; then version=1.0.6; fi
echo "[demo] solo-learn host $version ($(host_venv $version))" >&2
exec "$(host_venv $version)/bin/e2mc-plugin" demo "$@"
