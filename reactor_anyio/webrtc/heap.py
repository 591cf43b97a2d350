"""Giving freed native memory back to the OS (issue 21).

The soak (``python -m bench --only soak``) found no object that outlives its session: after
a full collection no peer, transport, sender or track of a closed session is alive.  The
RSS that still grows is glibc's: every video frame allocates and frees buffers of hundreds of
KiB (RGB arrays, ``av`` frames, encoder and decoder state) on several threads, each thread
with its own malloc arena, and glibc keeps freed chunks in those arenas instead of returning
them.  After 100 sessions the runtime had grown 110 -> 127 MB, and ``malloc_trim(0)`` brought
it back to 107 MB.

:func:`release_free_memory` calls ``malloc_trim(0)`` (glibc only; elsewhere it does
nothing), at most once per ``min_interval`` seconds per process.  It walks the heaps
under the arena locks, about a millisecond per 10 MB, so it is called where a short pause is
harmless: two seconds after a peer has closed, every :data:`STREAMING_INTERVAL` seconds from
the runtime's producer thread, and, for frame receivers, by :class:`PeriodicTrim`: one daemon
thread per process that trims every :data:`STREAMING_INTERVAL` seconds while at least one
receiver holds a :class:`TrimLease`.  A receiver takes a lease a second after its track
starts (so that starting the thread never lands inside a connect) and returns it when it
closes, so the media path itself does nothing per frame (issue 20: it used to take a lock
and read the clock on every frame, and trim on the event loop), and the thread ends when the
last receiver closes (no thread outlives the sessions).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

#: two trims closer than this are one trim (many peers closing at once)
MIN_INTERVAL = 5.0
#: while frames flow, the per-frame paths trim at most this often
STREAMING_INTERVAL = 30.0

_lock = threading.Lock()
_last = float("-inf")
_trim: Callable[[int], int] | None = None
_looked_up = False


def _lookup() -> Callable[[int], int] | None:
    global _trim, _looked_up
    if not _looked_up:
        _looked_up = True
        name = ctypes.util.find_library("c")
        try:
            found = getattr(ctypes.CDLL(name or "libc.so.6"), "malloc_trim", None)
        except OSError:
            found = None
        if found is not None:
            found.argtypes = [ctypes.c_size_t]
            found.restype = ctypes.c_int
            _trim = found
    return _trim


def release_free_memory(*, min_interval: float = MIN_INTERVAL,
                        clock: Callable[[], float] = time.monotonic) -> bool:
    """Return free heap memory to the OS unless that happened in the last
    ``min_interval`` seconds; True when a trim ran.  Any thread; cheap when it skips, so
    per-frame paths call it with :data:`STREAMING_INTERVAL`."""
    global _last
    with _lock:
        now = clock()
        if now - _last < min_interval:
            return False
        _last = now
    trim = _lookup()
    if trim is None:
        return False
    try:
        trim(0)
    except Exception:  # never let housekeeping break a caller
        logger.debug("malloc_trim failed", exc_info=True)
        return False
    return True


#: glibc's mallopt parameter for the number of malloc arenas
_M_ARENA_MAX = -8


def limit_arenas(count: int = 2) -> bool:
    """Cap glibc's malloc arenas for this process (``MALLOC_ARENA_MAX``); True when set.

    glibc gives threads their own arena (up to 8 per core), and each keeps the freed chunks
    of the frames its thread handled: every executor thread that joins while streaming adds a
    few MB that no trim returns.  Two arenas shared by all threads keep that bounded.  For a
    process we own (``reactor serve``), never for a library caller's process.
    """
    name = ctypes.util.find_library("c")
    try:
        mallopt = getattr(ctypes.CDLL(name or "libc.so.6"), "mallopt", None)
    except OSError:
        return False
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, count))


class PeriodicTrim:
    """Trims every ``interval`` seconds in a daemon thread while leases are held."""

    def __init__(self, interval: float = STREAMING_INTERVAL,
                 trim: Callable[[], object] | None = None) -> None:
        self.interval = interval
        self._trim = trim or (lambda: release_free_memory(min_interval=interval))
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
