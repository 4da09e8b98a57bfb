#!/usr/bin/env bash
# Remove what no checkout uses any more, under E2MC_HOME (run by bootstrap_env.sh after a set-up):
# the environments of a checkout whose folder is gone, then every deps venv that no remaining
# checkout environment names in its .deps file. Notes (never removes) the previous layout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
log() { printf '[bootstrap] %s\n' "$*" >&2; }

for d in "$E2MC_HOME"/checkouts/*/; do
  [ -f "$d/checkout" ] || continue
  root=$(cat "$d/checkout")
  [ -f "$root/setup.cfg" ] && continue
  rm -rf "$d"
  log "removed the environments of $root (that checkout no longer exists)"
done
for d in "$E2MC_HOME"/deps-*/; do
  [ -d "$d" ] || continue
  d=${d%/}
  # grep reads the files itself: `cat ... | grep -q` under pipefail failed whenever grep quit
  # early and cat got SIGPIPE, and a deps venv in use was removed
  if grep -qsxF "$d" "$E2MC_HOME"/checkouts/*/host-*/.deps; then continue; fi
  rm -rf "$d"
  log "removed $d (no checkout uses it any more)"
done
for d in "$E2MC_HOME"/host-1.0.2 "$E2MC_HOME"/host-1.0.6; do
  if [ -d "$d" ]; then
    log "note: $d (the previous layout, one environment for all checkouts) is no longer used; remove it to free its space"
  fi
done
exit 0
