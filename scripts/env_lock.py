"""Every Python process of an environment holds it, and the dependency venv it sits on, until it
exits: prune (scripts/prune_envs.sh) never removes an environment in use.

scripts/bootstrap_env.sh copies this file into each checkout environment it builds, as
``_e2mc_env_lock.py`` beside ``_e2mc_env_lock.pth`` (``import _e2mc_env_lock``), so the
interpreter runs it at start-up, before any program: ``e2mc-plugin``, ``python -m pytest``, a
user's script, a DDP rank, a loader worker forked from them. For the environment
(``sys.prefix``, recognised by its ``.deps`` file) and the deps venv that file names, it takes a
shared ``flock`` on the folder itself (the descriptor stays open, and so the lock held, for the
life of the process and of its forked children); it touches the environment's ``.used`` (its
last use, read by the prune's age rule). It never stops an interpreter from starting: anything
that fails is skipped.
"""

import os
import sys


def _hold(folder, mark_use):
    try:
        import fcntl

        fd = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
    except (ImportError, OSError):
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:  # being removed by a prune right now
        os.close(fd)
        return
    if not mark_use:
        return
    used = os.path.join(folder, ".used")
    try:
        with open(used, "a"):
            pass
        os.utime(used)
    except OSError:
        pass


def _main():
    env = sys.prefix
    try:
        with open(os.path.join(env, ".deps")) as f:
            deps = f.read().strip()
    except OSError:  # not an environment of the set-up
        return
    _hold(env, True)
    if deps:
        _hold(deps, False)


_main()
