"""When the recorder's worker thread wakes: in batches of frames, promptly for a clip.

Each wake-up costs more than the thread switch: the first frames after one encode slower
(in between, the runtime's other threads had the CPU caches).  Measured at 640x360 and 30
fps, the worker on its own CPU clock, in alternating runs: with Helios frames offered in
real time, 0.54-0.79 ms per frame in batches of 8 against 0.70-0.96 ms when the worker woke
every 0.1 s (3 frames); in two ``reactor serve`` processes streaming side by side, one of
each, 0.48-0.63 ms (median 0.50) against 0.52-0.63 ms (median 0.59).  Batches of 15 gained
nothing more.

So the worker wakes when :attr:`WorkerPacing.batch` frames are queued (half the queue at
most, so a batch never fills it), at the latest every :attr:`~WorkerPacing.period` seconds
(a slow model), and at once when a clip asks for its boundary chunk
(:meth:`WorkerPacing.wake`); while a chunk waits to be closed or written it wakes every
``close_wait`` seconds, which is what lets it repeat the last frame when frames have
stopped.  A batch delays only when frames reach the disk (8 frames: 0.27 s at 30 fps),
never a clip: a clip request wakes the worker.
"""

from __future__ import annotations

import threading

#: frames a batch holds (at most half the recorder's queue)
BATCH_FRAMES = 8
#: the longest the worker sleeps while frames come slower than a batch
PERIOD = 0.5


class WorkerPacing:
    """The worker's wake-ups (thread-safe: any thread may call :meth:`queued`/:meth:`wake`)."""

    def __init__(self, capacity: int, *, close_wait: float, batch_frames: int = BATCH_FRAMES,
                 period: float = PERIOD) -> None:
        self.batch = max(1, min(batch_frames, capacity // 2))
        self.close_wait = close_wait
        self.period = max(period, close_wait)
        self._event = threading.Event()

    def queued(self, frames: int) -> None:
        """A frame was queued and ``frames`` are waiting now: wake the worker for a batch."""
        if frames >= self.batch:
            self._event.set()

    def wake(self) -> None:
        """Wake the worker now (a clip waits, the recorder stops, a test waits for idle)."""
        self._event.set()

    def wait(self, *, urgent: bool) -> None:
        """Sleep until woken, or ``close_wait`` (``urgent``: a chunk waits) or ``period``."""
        if self._event.wait(self.close_wait if urgent else self.period):
            self._event.clear()
