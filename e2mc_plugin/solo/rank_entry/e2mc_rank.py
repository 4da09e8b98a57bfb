"""Entry script of the processes that Lightning re-launches during ``e2mc-plugin pretrain|linear``
(``strategy=ddp``): it registers the plugin, then runs the host script named by
``$E2MC_PLUGIN_HOST_SCRIPT`` with this command line. See ``e2mc_plugin.solo.launch.relaunch``.

Kept alone in its folder: Python puts a script's folder first on ``sys.path``, and that folder
must hold no module that could shadow the host's (``config``, ``solo``...).
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or os.curdir) == _HERE:
    del sys.path[0]
# The e2mc_plugin this script belongs to (the parent's), also for an editable install whose
# import finder is not a sys.path entry.
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(_HERE)))
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

if __name__ == "__main__":
    from e2mc_plugin.solo.launch.relaunch import rank_main

    code = rank_main()
    sys.stdout.flush()
    sys.stderr.flush()
    # A rank leaves without the interpreter's final teardown: gloo / NCCL threads can abort it
    # (SIGABRT after the work succeeded), and Lightning's process observer in rank 0 then kills
    # the whole run. Checkpoints and logs are rank 0's, written before this point.
    os._exit(code)
