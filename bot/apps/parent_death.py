"""Child processes that die with the process that started them: ``popen_dying_with_parent`` starts a
child with a parent-death signal (Linux ``prctl(PR_SET_PDEATHSIG)``), so a supervisor, ``make
cluster`` or a test run killed even by SIGKILL (no handler, no ``finally``) leaves no server holding
its ports. Used by the supervisor's servers (``bot.apps.supervisor``) and the loopback PostgreSQL,
Redis and nginx (``bot.cluster.local``)."""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@functools.cache
def _spawner() -> ThreadPoolExecutor:
    """The one long-lived thread that forks every child: Linux sends the parent-death signal when the
    *thread* that forked it ends (the supervisor's watcher, and tests/e2e/test_faults.py, restart
    servers from other threads)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="supportbot-spawner")


def popen_dying_with_parent(cmd: list[str], *, death_signal: int = signal.SIGTERM,
                            **kwargs: Any) -> subprocess.Popen:
    """``subprocess.Popen(cmd, **kwargs)`` whose child gets ``death_signal`` when this process dies
    (set after ``user=`` takes effect, which would clear it; it survives ``exec``)."""
    prctl, parent = ctypes.CDLL(None).prctl, os.getpid()  # looked up before the fork

    def die_with_parent() -> None:
        prctl(PR_SET_PDEATHSIG, int(death_signal), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was set
            os.kill(os.getpid(), death_signal)

    return _spawner().submit(lambda: subprocess.Popen(cmd, preexec_fn=die_with_parent, **kwargs)).result()
