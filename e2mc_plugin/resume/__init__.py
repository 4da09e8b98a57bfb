"""What a run needs to stop and resume exactly, whatever the host (torch and the standard
library only; the Lightning-facing hooks live in :mod:`e2mc_plugin.lightning` and
:mod:`e2mc_plugin.solo.launch`)::

    random_state.py   the random states of every process, saved in each checkpoint and restored
                      at the first epoch start after a resume (ResumeRandomState)
    stop_signal.py    SIGTERM / SIGUSR1 noted by a handler and acted on at a safe point
                      (StopSignals), the exit status and the one line a stopped run prints
    complete.py       the newest complete checkpoint among candidates: truncated or damaged
                      files are skipped with one line naming them
"""
