#!/usr/bin/env bash
# Remove, under E2MC_HOME, what is provably unused (run by bootstrap_env.sh after a set-up, and
# by its --dry-run, which lists every removal the real run would make):
#
#   a checkout's environment (checkouts/<key>/host-<v>)  when its checkout folder is not here AND
#       either it was set up on this machine (the host name recorded beside it: on a shared
#       E2MC_HOME another machine's checkout is not "gone" because this one cannot see it) or it
#       has not been used for E2MC_PRUNE_DAYS days (default 30; an environment records each use);
#   a dependency venv (deps-<v>-<hash>)                  that no remaining environment names.
#
# Never anything in use: a running program holds a shared lock on its environment's folder and on
# its deps venv's (scripts/host.sh, and every Python process of an environment through
# _e2mc_env_lock.pth); a removal runs under that lock taken exclusively and skips what it cannot
# lock, saying so. Without the `flock` command nothing can be checked, and nothing is removed.
#
#   scripts/prune_envs.sh [--dry-run] [--uses VERSION=DEPS]... [all|1.0.2|1.0.6]
#   all|1.0.2|1.0.6   only that host's environments and deps venvs (default: all)
#   --uses V=DEPS     the deps venv this checkout's host-V environment names after the set-up
#                     (in a dry run it is not built yet): kept, and counted instead of the
#                     environment's current .deps
#   --dry-run         print "would remove ..." for each removal; remove nothing
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
log() { printf '[bootstrap] %s\n' "$*" >&2; }

DRY=0
SCOPE=all
declare -A USES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --uses) USES[${2%%=*}]=${2#*=}; shift ;;
    all | 1.0.2 | 1.0.6) SCOPE=$1 ;;
    *) log "prune: unknown argument '$1'"; exit 2 ;;
  esac
  shift
done
in_scope() { [ "$SCOPE" = all ] || [ "$SCOPE" = "$1" ]; }
say() { if [ $DRY = 1 ]; then log "would remove $*"; else log "removed $*"; fi; }

if ! command -v flock >/dev/null 2>&1; then
  log "note: no 'flock' command: cannot tell which environments are in use, so none is removed (install util-linux)"
  exit 0
fi

# Remove DIR (a dry run only tests it) unless a running process holds it: an exclusive flock on
# the folder for the removal. 1 when kept.
remove_unused() {
  local code=0
  if [ $DRY = 1 ]; then flock -E 75 -x -n "$1" true || code=$?
  else flock -E 75 -x -n "$1" rm -rf "$1" || code=$?; fi
  [ $code = 0 ] && return 0
  [ $code = 75 ] || log "could not remove $1 (exit status $code)"
  return 1
}
recently_used() {  # recently_used CHECKOUT_DIR: any record of it newer than PRUNE_DAYS days
  [ -n "$(find "$1" -maxdepth 2 \( -name .used -o -name .stamp -o -name checkout -o -name machine \) \
    -mmin -$((PRUNE_DAYS * 1440)) -print -quit 2>/dev/null)" ]
}

# --- checkouts whose folder is not here ------------------------------------------------------
declare -A GONE=()  # environments removed (or, in a dry run, that would be)
for d in "$E2MC_HOME"/checkouts/*/; do
  d=${d%/}
  [ -f "$d/checkout" ] || continue
  root=$(cat "$d/checkout")
  [ -f "$root/setup.cfg" ] && continue
  machine=$(cat "$d/machine" 2>/dev/null || true)
  if [ "$machine" = "$MACHINE" ]; then
    why="that checkout no longer exists on this machine ($MACHINE)"
  elif ! recently_used "$d"; then
    why="not used for $PRUNE_DAYS days; set up on ${machine:-an unrecorded machine}, its checkout is not here"
  else
    continue  # another machine's checkout, in use lately: not provably gone
  fi
  removed=() kept=()
  for env in "$d"/host-*; do
    [ -d "$env" ] && in_scope "${env##*/host-}" || continue
    if remove_unused "$env"; then removed+=("${env##*/}"); GONE[$env]=1; else kept+=("$env"); fi
  done
  [ ${#removed[@]} -gt 0 ] && say "the environments of $root (${removed[*]}): $why"
  for env in "${kept[@]}"; do log "kept $env ($root): in use by a running process"; done
  # the folder itself once no environment is left in it
  left=0
  for env in "$d"/host-*; do [ -d "$env" ] && [ -z "${GONE[$env]:-}" ] && left=1; done
  if [ $left = 0 ] && [ $DRY = 0 ]; then rm -rf "$d"; fi
done

# --- dependency venvs no environment names -----------------------------------------------------
names() {  # names DEPS: a remaining environment (or --uses) names it
  local f env v
  for v in "${!USES[@]}"; do [ "${USES[$v]}" = "$1" ] && return 0; done
  for f in "$E2MC_HOME"/checkouts/*/host-*/.deps; do
    [ -f "$f" ] || continue
    env=${f%/.deps}
    [ -n "${GONE[$env]:-}" ] && continue
    # this checkout's environments: what they will name after the set-up (--uses)
    v=${env##*/host-}
    [ "${env%/*}" = "$CHECKOUT_ENVS" ] && [ -n "${USES[$v]:-}" ] && continue
    # read by grep itself: `cat ... | grep -q` under pipefail once removed a venv in use
    grep -qsxF "$1" "$f" && return 0
  done
  return 1
}
for d in "$E2MC_HOME"/deps-*/; do
  [ -d "$d" ] || continue
  d=${d%/}
  v=${d##*/deps-}; v=${v%-*}
  in_scope "$v" || continue
  names "$d" && continue
  if remove_unused "$d"; then say "$d (no environment uses it any more)"
  else log "kept $d: in use by a running process"; fi
done

for d in "$E2MC_HOME"/host-1.0.2 "$E2MC_HOME"/host-1.0.6; do
  if [ -d "$d" ]; then
    log "note: $d (the previous layout, one environment for all checkouts) is no longer used; remove it to free its space"
  fi
done
exit 0
