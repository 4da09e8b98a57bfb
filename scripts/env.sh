# Shared by the scripts (source it): where the environments live and where the solo-learn main
# source of the 1.0.6 host comes from. Safe under `set -euo pipefail`: a missing folder, file or
# variable never makes a line here fail.
#
#   $E2MC_HOME/torch-2.14.1                 torch + torchvision, shared by every environment
#   $E2MC_HOME/deps-<host>-<hash>           a host's dependencies (no plugin), shared by every
#                                           checkout whose requirements hash the same
#   $E2MC_HOME/checkouts/<name>-<hash>/host-<host>
#                                           this checkout's environment: the plugin installed
#                                           editable (+ solo-learn main for 1.0.6), seeing the
#                                           deps venv through a .pth file; keyed by the checkout's
#                                           path, so two checkouts never share one
#   $E2MC_HOME/checkouts/<name>-<hash>/checkout, .../machine
#                                           the checkout's path and the machine (host name) that
#                                           set it up: a shared E2MC_HOME (a cluster home seen by
#                                           several nodes or containers) holds other machines'
#                                           checkouts too
#   <environment>/ (the folder), .used      the folder is held (shared flock) by every process
#                                           running on it (scripts/host.sh, and each Python process
#                                           through _e2mc_env_lock.pth); .used: its last use
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
E2MC_HOME=${E2MC_HOME:-${HOME:?is not set: set E2MC_HOME to the folder for the environments}/.cache/e2mc-plugin}
BASE=$E2MC_HOME/torch-2.14.1
# Bump when the recipe of a deps venv changes (its requirements files are hashed anyway).
DEPS_RECIPE=1

# solo-learn main, the 1.0.6 host: not on PyPI. The commit the plugin's tests pin
# (e2mc_plugin/solo/host/detect.py TESTED_COMMIT is its abbreviation).
SOLO_REPO=https://github.com/vturrisi/solo-learn
SOLO_COMMIT=9187ea39c2c3f43c455ab06664d2b019a9802954
SOLO_CLONE=$E2MC_HOME/solo-learn-src # the conventional clone location (README)
SOLO_HOW="set SOLO_LEARN_SRC to a checkout of $SOLO_REPO (tested at ${SOLO_COMMIT:0:7}) or clone it into $SOLO_CLONE"

# A source archive of solo-learn main next to the repository (CI's layout: ../shared/hosts/).
find_solo_archive() {
  local f
  for f in "$(dirname "$ROOT")"/shared/hosts/solo-learn-*.tar.gz; do
    if [ -f "$f" ]; then echo "$f"; return 0; fi
  done
  return 0
}
SOLO_ARCHIVE=${SOLO_ARCHIVE:-$(find_solo_archive)}

# Where the 1.0.6 host comes from, first match wins:
#   1. $SOLO_LEARN_SRC (a checkout the user points at)
#   2. $SOLO_CLONE (the conventional clone location)
#   3. $SOLO_ARCHIVE, extracted once into $E2MC_HOME/<archive name> (outside the repository)
# Sets SOLO_LEARN_SRC (empty when none) and SOLO_MISSING (why none, with what to do).
# The user's own SOLO_LEARN_SRC, kept apart from the resolved one (exported to child scripts).
if [ -z "${E2MC_SOLO_SRC_GIVEN+x}" ]; then E2MC_SOLO_SRC_GIVEN=${SOLO_LEARN_SRC:-}; fi
export E2MC_SOLO_SRC_GIVEN
resolve_solo_src() {
  SOLO_MISSING=""
  if [ -n "$E2MC_SOLO_SRC_GIVEN" ]; then
    if [ -f "$E2MC_SOLO_SRC_GIVEN/setup.py" ]; then
      SOLO_LEARN_SRC=$(cd "$E2MC_SOLO_SRC_GIVEN" && pwd -P); return 0
    fi
    SOLO_MISSING="SOLO_LEARN_SRC=$E2MC_SOLO_SRC_GIVEN has no setup.py: point it at a checkout of $SOLO_REPO (tested at ${SOLO_COMMIT:0:7})"
    SOLO_LEARN_SRC=""; return 0
  fi
  if [ -f "$SOLO_CLONE/setup.py" ]; then SOLO_LEARN_SRC=$SOLO_CLONE; return 0; fi
  if [ -n "$SOLO_ARCHIVE" ] && [ -f "$SOLO_ARCHIVE" ]; then
    local name dest tmp
    name=$(basename "$SOLO_ARCHIVE" .tar.gz); dest=$E2MC_HOME/$name
    if [ ! -f "$dest/setup.py" ]; then
      mkdir -p "$E2MC_HOME" && tmp=$(mktemp -d "$E2MC_HOME/.extract.XXXXXX") || tmp=""
      if [ -n "$tmp" ] && tar -xzf "$SOLO_ARCHIVE" -C "$tmp" 2>/dev/null && [ -f "$tmp/$name/setup.py" ]; then
        rm -rf "$dest"; mv "$tmp/$name" "$dest"; rm -rf "$tmp"
        echo "[env] extracted $SOLO_ARCHIVE -> $dest" >&2
      else
        [ -z "$tmp" ] || rm -rf "$tmp"
        SOLO_MISSING="cannot extract $SOLO_ARCHIVE (expected $name/setup.py inside) into $E2MC_HOME: check the archive and the free space there, or $SOLO_HOW"
        SOLO_LEARN_SRC=""; return 0
      fi
    fi
    SOLO_LEARN_SRC=$dest; return 0
  fi
  SOLO_MISSING="no solo-learn main source: $SOLO_HOW"
  SOLO_LEARN_SRC=""
}
resolve_solo_src
export E2MC_HOME SOLO_LEARN_SRC

# This machine, as recorded beside each checkout's environments (E2MC_MACHINE overrides the host
# name, e.g. for containers whose host names change at every start).
MACHINE=${E2MC_MACHINE:-$(uname -n)}
# Environments of checkouts that are not here are removed after this many days without use.
PRUNE_DAYS=${E2MC_PRUNE_DAYS:-30}

# Shared locks on the folders DIR... for this shell and every program it execs (the descriptors
# are inherited): scripts/prune_envs.sh removes only what it can lock exclusively.
hold_env_locks() {  # hold_env_locks DIR...
  local dir fd
  command -v flock >/dev/null 2>&1 || return 0
  for dir in "$@"; do
    [ -d "$dir" ] || continue
    { exec {fd}<"$dir"; } 2>/dev/null || continue
    flock -s -w 60 "$fd" || true
  done
}

hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-12; }
# This checkout's environments (keyed by its resolved path).
CHECKOUT_ENVS=$E2MC_HOME/checkouts/$(basename "$ROOT")-$(printf '%s' "$ROOT" | sha256sum | cut -c1-10)
host_venv() { echo "$CHECKOUT_ENVS/host-$1"; }
# The shared dependency venv for host $1 (named by the hash of what goes into it).
deps_venv() {
  local h
  h=$( { hash_of "$ROOT/requirements/common.txt" "$ROOT/requirements/torch-pins.txt" \
    "$ROOT/requirements/host-$1.txt" "$ROOT/requirements/host-$1-no-deps.txt"; echo "$DEPS_RECIPE"; cat "$BASE/.stamp" 2>/dev/null || true; } \
    | sha256sum | cut -c1-12)
  echo "$E2MC_HOME/deps-$1-$h"
}
host_ready() { [ -f "$(host_venv "$1")/.stamp" ]; }
# Describe where the 1.0.6 host's source came from, for the summary lines.
solo_src_origin() {
  if [ -z "$SOLO_LEARN_SRC" ]; then echo "none"; return 0; fi
  if [ -d "$SOLO_LEARN_SRC/.git" ]; then echo "$SOLO_LEARN_SRC (git $(git -C "$SOLO_LEARN_SRC" rev-parse --short HEAD 2>/dev/null || echo '?'))"
  else echo "$SOLO_LEARN_SRC"; fi
}
