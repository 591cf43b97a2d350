"""The recorder's worker as the operating system sees it: its name and its CPU clock.

Python (before 3.14) names its threads only for itself: ``top -H``, ``perf`` and
``/proc/<pid>/task/*/comm`` show every thread of a runtime under the process's name.  The
recorder names its worker natively (Linux ``prctl(PR_SET_NAME)``, at most 15 bytes), so the
CPU recording costs a served stream can be read per thread from outside the process: bench
figure 11 reads ``/proc/<pid>/task/<tid>/stat`` of the threads called :data:`WORKER_NAME`.
Elsewhere, or when the call fails, nothing happens.
"""

from __future__ import annotations

import ctypes
import functools
import math
import sys
import threading
import time
from typing import Any

#: the worker thread's name in ``/proc/<pid>/task/<tid>/comm`` (15 bytes at most)
WORKER_NAME = "reactor-record"

_PR_SET_NAME = 15


@functools.cache
def _prctl() -> Any:
    # the interpreter's own symbols include libc's (no library search, which would run
    # ``ldconfig`` in a subprocess)
    return ctypes.CDLL(None).prctl


def name_this_thread(name: str) -> bool:
    """Give the calling thread ``name`` (cut to 15 bytes) in the OS; True when it was set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return int(_prctl()(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)) == 0
    except (OSError, AttributeError, TypeError):
        return False


def thread_cpu_seconds(thread: threading.Thread) -> float:
    """CPU seconds ``thread`` has used so far, on its own clock (nan where the platform has
    no per-thread clock, or once the thread ended)."""
    ident = thread.ident
    try:
        if ident is None or not thread.is_alive():
            return math.nan
        return time.clock_gettime(time.pthread_getcpuclockid(ident))
    except (AttributeError, OSError):
        return math.nan
