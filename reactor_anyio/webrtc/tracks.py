"""Outgoing video tracks: what a peer sends, and the gate that keeps outputs paused.

All three are aiortc ``MediaStreamTrack``s whose ``recv`` runs on the aiortc loop (the sender
pulls them); pushing and producing frames may happen on any thread.

Timestamps: ``pts`` counts 1/90000 s ticks (the RTP video clock) of *real* time since the
track's first frame, so a gap (a pause, a slow encoder) shows up as a gap in RTP time and the
receiver's jitter estimate stays honest.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import threading
import time
from collections.abc import Callable

import anyio
import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from reactor_proto.errors import LocalProtocolError

from .convert import RgbArray, check_rgb, rgb_to_frame
from .mailbox import LatestWinsMailbox

logger = logging.getLogger(__name__)

VIDEO_CLOCK_RATE = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)
#: a producer with no reader for this long stops producing until it is read again
PRODUCER_IDLE_AFTER = 1.0

Clock = Callable[[], float]


def _check_fps(fps: float) -> float:
    if not 0 < fps <= 240:
        raise LocalProtocolError(f"fps must be in (0, 240]: {fps!r}")
    return float(fps)


class _Pacer:
    """Frame deadlines at ``fps``; falls back onto the clock (no burst) when late."""

    def __init__(self, fps: float, clock: Clock) -> None:
        self.period = 1.0 / fps
        self._clock = clock
        self._start: float | None = None
        self._next = 0.0
        self._last_pts = -1

    def next_due(self) -> float:
        now = self._clock()
        if self._start is None:
            self._start = now
            self._next = now
        elif now > self._next + self.period:
            # more than a frame late: restart the schedule from now instead of catching up
            self._next = now
        due = self._next
        self._next += self.period
        return due

    def pts(self, due: float) -> int:
        assert self._start is not None
        pts = max(round((due - self._start) * VIDEO_CLOCK_RATE), self._last_pts + 1)
        self._last_pts = pts
        return pts


class NdarrayVideoTrack(MediaStreamTrack):
    """A video track fed by :meth:`push` (latest wins) that repeats the last frame at ``fps``.

    ``recv`` waits for the first frame; after that it never waits for a push.
    """

    kind = "video"

    def __init__(self, *, fps: float = 30.0, clock: Clock = time.monotonic) -> None:
        super().__init__()
        self._fps = _check_fps(fps)
        self._clock = clock
        self._pacer = _Pacer(self._fps, clock)
        self._pushed: LatestWinsMailbox[RgbArray] = LatestWinsMailbox(1)
        self._current: RgbArray | None = None
        self.frames_sent = 0

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def pushes_dropped(self) -> int:
        """Pushed frames replaced by a newer push before being sent."""
        return self._pushed.dropped

    def push(self, array: RgbArray) -> None:
        """Offer a new (H, W, 3) uint8 RGB frame; any thread.  H and W must be even."""
        self._pushed.put(check_rgb(array, field="push(array)"))

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._current is None:
            try:
                self._current = await self._pushed.get()
            except anyio.EndOfStream:
                raise MediaStreamError from None
        due = self._pacer.next_due()
        delay = due - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)
        with contextlib.suppress(anyio.WouldBlock, anyio.EndOfStream):
            self._current = self._pushed.get_nowait()
        self.frames_sent += 1
        return rgb_to_frame(self._current, pts=self._pacer.pts(due), time_base=VIDEO_TIME_BASE)

    def stop(self) -> None:
        self._pushed.close()
        super().stop()


class ProducerVideoTrack(MediaStreamTrack):
    """A video track whose frames come from ``produce(now)`` called in a worker thread.

    The thread calls ``produce`` once per frame period (paced by ``clock``) while the track is
    being read, so generating and encoding overlap and neither stalls the signalling loop.
    With no reader for :data:`PRODUCER_IDLE_AFTER` seconds (e.g. the output is paused) it
    idles until the next ``recv``.  ``produce`` raising or returning a bad array is logged and
    counted in :attr:`errors`; the frame is skipped.  :meth:`stop` ends the thread after the
    current call; :meth:`aclose` also waits for it.
    """

    kind = "video"

    def __init__(
        self,
        produce: Callable[[float], RgbArray],
        *,
        fps: float = 30.0,
        clock: Clock = time.monotonic,
        name: str = "producer",
    ) -> None:
        super().__init__()
        self._produce = produce
        self._fps = _check_fps(fps)
        self._clock = clock
        self._name = name
        self._pacer = _Pacer(self._fps, clock)
        self._frames: LatestWinsMailbox[tuple[RgbArray, float]] = LatestWinsMailbox(1)
        self._stopping = threading.Event()
        self._demand = threading.Event()
        self._last_demand = 0.0
        self._thread: threading.Thread | None = None
        self._start: float | None = None
        self._last_pts = -1
        self.errors = 0
        self.frames_produced = 0

    @property
    def frames_dropped(self) -> int:
        """Produced frames replaced by a newer one before the encoder took them."""
        return self._frames.dropped

    def _run(self) -> None:
        while not self._stopping.is_set():
            if self._clock() - self._last_demand > PRODUCER_IDLE_AFTER:
                self._demand.clear()
                self._demand.wait()
                continue
            due = self._pacer.next_due()
            delay = due - self._clock()
            if delay > 0 and self._stopping.wait(delay):
                break
            try:
                array = check_rgb(self._produce(due), field=f"{self._name}.produce()")
            except Exception:
                self.errors += 1
                logger.exception("frame producer %r failed", self._name)
                continue
            self.frames_produced += 1
            self._frames.put((array, due))

    def _ensure_thread(self) -> None:
        self._last_demand = self._clock()
        self._demand.set()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"reactor-{self._name}", daemon=True
            )
            self._thread.start()

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        self._ensure_thread()
        while True:
            try:
                array, due = await self._frames.get()
            except anyio.EndOfStream:
                raise MediaStreamError from None
            # a frame held over an idle spell (a pause) is stale: wait for a fresh one
            if self._clock() - due <= PRODUCER_IDLE_AFTER:
                break
        if self._start is None:
            self._start = due
        pts = max(round((due - self._start) * VIDEO_CLOCK_RATE), self._last_pts + 1)
        self._last_pts = pts
        return rgb_to_frame(array, pts=pts, time_base=VIDEO_TIME_BASE)

    def stop(self) -> None:
        self._stopping.set()
        self._demand.set()
        self._frames.close()
        super().stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker thread; True when it is gone (or never started)."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    async def aclose(self, wait_at_most: float = 5.0) -> bool:
        """:meth:`stop`, then wait for the worker thread off the event loop."""
        self.stop()
        return await anyio.to_thread.run_sync(self.join, wait_at_most)


class PausableTrack(MediaStreamTrack):
    """Passes ``source``'s frames through while resumed; starts paused.

    While paused it sends *nothing* (``recv`` waits), rather than black frames: the encoder
    is simply not fed, so paused outputs cost no CPU or bandwidth per peer, RTCP keeps the
    transport alive, and on resume the encoder continues its stream (the first frame ever
    sent is a key frame; later ones reference frames the client already decoded), with the
    pts gap matching the real pause.  ``source`` is stopped with this track when ``owns``.
    """

    def __init__(self, source: MediaStreamTrack, *, paused: bool = True, owns: bool = True) -> None:
        super().__init__()
        self.kind = source.kind
        self.source = source
        self._owns = owns
        self._resumed = asyncio.Event()
        if not paused:
            self._resumed.set()

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    def set_paused(self, paused: bool) -> None:
        """Call on the loop that runs the track (the aiortc loop)."""
        if paused:
            self._resumed.clear()
        else:
            self._resumed.set()

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        while True:
            await self._resumed.wait()
            frame = await self.source.recv()
            # a pause that arrived while we waited for the source drops that frame
            if self._resumed.is_set():
                assert isinstance(frame, av.VideoFrame)
                return frame

    def stop(self) -> None:
        if self._owns:
            self.source.stop()
        super().stop()
