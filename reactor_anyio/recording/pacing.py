"""When the recorder's worker thread wakes: in batches of frames, promptly for a clip.

Waking the worker costs more than the thread switch: between two wake-ups the other threads
of a runtime (rendering, colour conversion, the viewers' VP8 encoders) push x264's state out
of the CPU caches, so the first frame of every batch encodes slower.  Measured at 640x360
and 30 fps (Helios frames offered in real time, the worker on its own CPU clock): 0.67 ms
per frame when the worker woke every 0.1 s (3 frames a batch), 0.55 ms at 8 frames a batch,
0.53-0.58 ms at 15 (bench figure 11 reads the served runtime's recorder thread the same way).

So the worker wakes when :attr:`WorkerPacing.batch` frames are queued (half the queue at
most, so a batch never fills it), at the latest every :attr:`~WorkerPacing.period` seconds
(a slow model), and at once when a clip asks for its boundary chunk (:meth:`wake`); while a
chunk waits to be closed or written it wakes every ``close_wait`` seconds, which is what
lets it repeat the last frame when frames have stopped.  A batch delays only when frames
reach the disk (8 frames: 0.27 s at 30 fps), never a clip: a clip request wakes the worker.
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
