# Shared by the scripts: where the environments live and which host venvs exist.
# Usage: source scripts/env.sh
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
E2MC_HOME=${E2MC_HOME:-$HOME/.cache/e2mc-plugin}
# A solo-learn main checkout: $SOLO_LEARN_SRC, else the conventional $E2MC_HOME/solo-learn-src.
if [ -z "${SOLO_LEARN_SRC:-}" ] && [ -f "$E2MC_HOME/solo-learn-src/setup.py" ]; then
  SOLO_LEARN_SRC=$E2MC_HOME/solo-learn-src
fi
export E2MC_HOME SOLO_LEARN_SRC=${SOLO_LEARN_SRC:-}
host_venv() { echo "$E2MC_HOME/host-$1"; }
host_ready() { [ -f "$(host_venv "$1")/.stamp" ]; }
