# Shared by the scripts: where the environments live and which host venvs exist.
# Usage: source scripts/env.sh
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
E2MC_HOME=${E2MC_HOME:-$HOME/.cache/e2mc-plugin}
# The solo-learn main source archive that CI and fresh machines build the 1.0.6 host from
# (no network needed); users normally clone the repository instead.
SOLO_ARCHIVE=${SOLO_ARCHIVE:-$(ls "$ROOT"/../shared/hosts/solo-learn-*.tar.gz 2>/dev/null | head -1)}

# Where the 1.0.6 host comes from, first match wins:
#   1. $SOLO_LEARN_SRC (a checkout the user points at)
#   2. $E2MC_HOME/solo-learn-src (the conventional clone location, see README)
#   3. the archive above, extracted once into $E2MC_HOME/<archive name> (outside the repository)
resolve_solo_src() {
  if [ -n "${SOLO_LEARN_SRC:-}" ]; then return 0; fi
  if [ -f "$E2MC_HOME/solo-learn-src/setup.py" ]; then SOLO_LEARN_SRC=$E2MC_HOME/solo-learn-src; return 0; fi
  [ -n "$SOLO_ARCHIVE" ] && [ -f "$SOLO_ARCHIVE" ] || return 0
  local name; name=$(basename "$SOLO_ARCHIVE" .tar.gz)
  local dest=$E2MC_HOME/$name
  if [ ! -f "$dest/setup.py" ]; then
    mkdir -p "$E2MC_HOME"
    local tmp; tmp=$(mktemp -d "$E2MC_HOME/.extract.XXXXXX")
    tar -xzf "$SOLO_ARCHIVE" -C "$tmp" || { rm -rf "$tmp"; echo "cannot extract $SOLO_ARCHIVE" >&2; return 1; }
    rm -rf "$dest"; mv "$tmp/$name" "$dest"; rm -rf "$tmp"
    echo "[env] extracted $SOLO_ARCHIVE -> $dest" >&2
  fi
  SOLO_LEARN_SRC=$dest
}
resolve_solo_src
export E2MC_HOME SOLO_LEARN_SRC=${SOLO_LEARN_SRC:-}
host_venv() { echo "$E2MC_HOME/host-$1"; }
host_ready() { [ -f "$(host_venv "$1")/.stamp" ]; }
# Describe where the 1.0.6 host's source came from, for the summary lines.
solo_src_origin() {
  if [ -z "$SOLO_LEARN_SRC" ]; then echo "none"; return; fi
  if [ -d "$SOLO_LEARN_SRC/.git" ]; then echo "$SOLO_LEARN_SRC (git $(cd "$SOLO_LEARN_SRC" && git rev-parse --short HEAD 2>/dev/null))"
  else echo "$SOLO_LEARN_SRC"; fi
}
