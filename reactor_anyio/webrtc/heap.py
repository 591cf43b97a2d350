"""Giving memory a process no longer uses back to the OS (issue 21): the adapter of
:mod:`reactor_proto.reclaim`.

The core's :class:`~reactor_proto.reclaim.ReclaimSchedule` decides when; this module reads
the clock, performs what it returns and holds the process's one schedule:

* :func:`session_closed` (a peer has closed, on its event loop): a timer on that loop runs
  the cycle collection and the trim the schedule asks for a couple of seconds later.  The
  collection runs on the loop because finalizers of asyncio objects expect it; a
  generation-1 collection takes about a millisecond, a full one (at most once a minute
  by default) tens of ms.
* :func:`reclaim_while_streaming` (any thread; cheap when nothing is due, so the runtime's
  producer thread calls it on every frame): a trim every ``streaming_interval`` seconds.
* :class:`PeriodicTrim`: one daemon thread per process that calls it while at least one
  frame receiver holds a :class:`TrimLease`, so the client's media path does nothing per
  frame (issue 20) and no thread outlives the sessions.

``malloc_trim(0)`` walks the heaps under the arena locks (about a millisecond per 10 MB)
and returns every free page; it exists on glibc only, elsewhere every call here is a no-op.
:func:`configure` sets the process's policy: ``ReclaimPolicy(enabled=False)`` turns all of
it off, ``ReclaimPolicy(collect=None)`` keeps the trims without the collection.
:func:`limit_arenas` is for a process we own (``reactor serve``), never a caller's.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import threading
import time
from collections.abc import Callable

from reactor_proto.reclaim import DEFAULT_POLICY, Reclaim, ReclaimPolicy, ReclaimSchedule

logger = logging.getLogger(__name__)

#: while frames flow, a trim at most this often (the default policy's)
STREAMING_INTERVAL = DEFAULT_POLICY.streaming_interval

_lock = threading.Lock()
_schedule = ReclaimSchedule()
#: the loop whose timer will run the next session reclaim (one timer per process)
_armed: asyncio.AbstractEventLoop | None = None
_trim: Callable[[int], int] | None = None
_mallopt: Callable[[int, int], int] | None = None
_looked_up = False

#: glibc's mallopt parameter for the number of malloc arenas
_M_ARENA_MAX = -8


def _lookup() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None elsewhere); also finds ``mallopt``."""
    global _trim, _mallopt, _looked_up
    if not _looked_up:
        _looked_up = True
        name = ctypes.util.find_library("c")
        try:
            libc = ctypes.CDLL(name or "libc.so.6")
        except OSError:
            return None
        found = getattr(libc, "malloc_trim", None)
        if found is not None:
            found.argtypes = [ctypes.c_size_t]
            found.restype = ctypes.c_int
            _trim = found
        mallopt = getattr(libc, "mallopt", None)
        if mallopt is not None:
            mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            mallopt.restype = ctypes.c_int
            _mallopt = mallopt
    return _trim


def trim_now() -> bool:
    """``malloc_trim(0)`` now, on this thread: True when it ran."""
    trim = _lookup()
    if trim is None:
        return False
    try:
        trim(0)
    except Exception:  # never let housekeeping break a caller
        logger.debug("malloc_trim failed", exc_info=True)
        return False
    return True


def limit_arenas(count: int = 2) -> bool:
    """Cap glibc's malloc arenas for this process (``MALLOC_ARENA_MAX``); True when set.

    glibc gives threads their own arena (up to 8 per core), and each keeps the freed chunks
    of the frames its thread handled: every executor thread that joins while streaming adds a
    few MB that no trim returns.  Two arenas shared by all threads keep that bounded.  For a
    process we own (``reactor serve``), never for a library caller's process.
    """
    _lookup()
    if _mallopt is None:
        return False
    return bool(_mallopt(_M_ARENA_MAX, count))


def configure(policy: ReclaimPolicy) -> None:
    """Set this process's reclaim policy (applies from the next event on)."""
    global _schedule
    with _lock:
        _schedule = ReclaimSchedule(policy)


def current_policy() -> ReclaimPolicy:
    return _schedule.policy


def perform(reclaim: Reclaim) -> bool:
    """Do what the schedule asked: a collection (unless the process turned its collector
    off: then its owner manages cycles) and a trim."""
    if reclaim.collect is not None and gc.isenabled():
        gc.collect(reclaim.collect)
    return trim_now()


def reclaim_while_streaming(clock: Callable[[], float] = time.monotonic) -> bool:
    """Trim when the schedule's streaming interval has passed; any thread, cheap otherwise.
    True when a trim ran."""
    with _lock:
        reclaim = _schedule.poll(clock(), streaming=True, sessions=False)
    return reclaim is not None and perform(reclaim)


def session_closed(loop: asyncio.AbstractEventLoop,
                   clock: Callable[[], float] = time.monotonic) -> None:
    """A session's peer has closed (call on ``loop``): its reclaim runs on ``loop`` when due."""
    global _armed
    with _lock:
        _schedule.session_closed(clock())
        armed = _armed
        if armed is not None and armed.is_running() and not armed.is_closed():
            return  # the timer armed on that loop serves this close too
        _armed = loop  # none yet, or its loop has stopped: its timer will never fire
    _arm(loop, clock)


def _arm(loop: asyncio.AbstractEventLoop, clock: Callable[[], float]) -> None:
    global _armed
    with _lock:
        due = _schedule.next_due()
        if due is None:
            _armed = None
            return
        delay = max(0.0, due - clock())
    loop.call_later(delay, _on_timer, loop, clock)


def _on_timer(loop: asyncio.AbstractEventLoop, clock: Callable[[], float]) -> None:
    with _lock:
        reclaim = _schedule.poll(clock())
    if reclaim is not None:
        try:
            perform(reclaim)
        except Exception:  # housekeeping never breaks the loop
            logger.debug("reclaim failed", exc_info=True)
    _arm(loop, clock)  # sessions closed meanwhile get theirs later; else the timer ends


class PeriodicTrim:
    """Trims every ``interval`` seconds in a daemon thread while leases are held."""

    def __init__(self, interval: float = STREAMING_INTERVAL,
                 trim: Callable[[], object] | None = None) -> None:
        self.interval = interval
        self._trim = trim or reclaim_while_streaming
        self._lock = threading.Lock()
        self._holders = 0
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def holders(self) -> int:
        return self._holders

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def acquire(self) -> None:
        with self._lock:
            self._holders += 1
            if self._stop is None:
                self._stop = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(self._stop,),
                                                name="reactor-heap-trim", daemon=True)
                self._thread.start()

    def release(self) -> None:
        thread = None
        with self._lock:
            if self._holders == 0:
                return
            self._holders -= 1
            if self._holders == 0 and self._stop is not None:
                self._stop.set()
                thread, self._stop, self._thread = self._thread, None, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)  # it only waits on the event: ends at once (or after a trim)

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                self._trim()
            except Exception:  # housekeeping never ends the thread
                logger.debug("periodic trim failed", exc_info=True)


#: the process's trimmer for frame receivers
STREAMING_TRIM = PeriodicTrim()


class TrimLease:
    """One receiver's hold on :data:`STREAMING_TRIM` (or another trimmer); idempotent."""

    __slots__ = ("_held", "_trimmer")

    def __init__(self, trimmer: PeriodicTrim | None = None) -> None:
        self._trimmer = trimmer or STREAMING_TRIM
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    def acquire(self) -> None:
        if not self._held:
            self._held = True
            self._trimmer.acquire()

    def release(self) -> None:
        if self._held:
            self._held = False
            self._trimmer.release()
