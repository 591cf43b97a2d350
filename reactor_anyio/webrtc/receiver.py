"""Incoming video: one slot per named remote track, fed by a pull task.

The pull task reads the aiortc track continuously, so aiortc's unbounded queue never grows,
converts each frame to RGB (off the loop for large frames, see :mod:`.convert`) and puts it in
the slot's :class:`LatestWinsMailbox`.  A slot exists from the moment the track's name is
known (offer or answer), so a frame callback may be set before or after the track arrives
(F26); each track has its own callback and its own mailbox (F27).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import anyio
import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .convert import RgbArray, convert_off_loop, frame_to_rgb
from .heap import STREAMING_INTERVAL, release_free_memory
from .mailbox import LatestWinsMailbox
from .stats import FpsMeter, TrackFrameStats

logger = logging.getLogger(__name__)

FrameCallback = Callable[[RgbArray], None]

#: A frame callback slower than this (seconds) is moved off the event loop.
SLOW_CALLBACK = 0.004
#: Consecutive quick calls after which an offloaded callback returns to the loop.
QUICK_STREAK = 30


async def drain(track: MediaStreamTrack) -> None:
    """Read and discard ``track`` until it ends (audio, or tracks nobody mapped)."""
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()


class InputSlot:
    """Frames of one named remote video track."""

    def __init__(self, name: str, *, capacity: int, enabled: bool = True) -> None:
        self.name = name
        self.mailbox: LatestWinsMailbox[RgbArray] = LatestWinsMailbox(capacity)
        self.enabled = enabled
        self.track: MediaStreamTrack | None = None
        self.frames_received = 0
        self._fps = FpsMeter()
        self._callback: FrameCallback | None = None
        self._pull_task: asyncio.Task[None] | None = None
        self._deliver_task: asyncio.Task[None] | None = None
        #: True while the callback runs in a worker thread because it was slow.
        self.offloaded = False

    def stats(self) -> TrackFrameStats:
        return TrackFrameStats(
            frames_received=self.frames_received,
            frames_dropped=self.mailbox.dropped,
            fps=self._fps.fps(time.monotonic()),
        )

    def attach(self, track: MediaStreamTrack) -> None:
        """Start pulling ``track`` (a later track replaces an earlier one)."""
        if self._pull_task is not None:
            self._pull_task.cancel()
        self.track = track
        self._pull_task = asyncio.get_running_loop().create_task(
            self._pull(track), name=f"reactor-pull-{self.name}"
        )

    async def _pull(self, track: MediaStreamTrack) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.frames_received += 1
            self._fps.tick(time.monotonic())
            release_free_memory(min_interval=STREAMING_INTERVAL)  # issue 21: see heap.py
            if not self.enabled or not isinstance(frame, av.VideoFrame):
                continue
            if convert_off_loop(frame.width, frame.height):
                array = await loop.run_in_executor(None, frame_to_rgb, frame)
            else:
                array = frame_to_rgb(frame)
            self.mailbox.put(array)

    def set_callback(self, callback: FrameCallback | None) -> None:
        """Deliver each frame to ``callback`` (on the loop while it is quick, in a worker
        thread once it is slow); ``None`` stops it (frames then wait in the mailbox, latest
        wins)."""
        self._callback = callback
        if callback is None:
            if self._deliver_task is not None:
                self._deliver_task.cancel()
                self._deliver_task = None
        elif self._deliver_task is None:
            self._deliver_task = asyncio.get_running_loop().create_task(
                self._deliver(), name=f"reactor-frames-{self.name}"
            )

    async def _deliver(self) -> None:
        # A quick callback runs right here on the loop (no hand-off cost per frame).  One that
        # takes longer than SLOW_CALLBACK is moved to a worker thread, so a slow consumer can
        # never stall the loop that reads the network (the latest-wins mailbox then drops
        # frames instead of latency growing in the kernel's queues); it moves back once it
        # has been quick for QUICK_STREAK frames in a row.
        loop = asyncio.get_running_loop()
        offloaded = False
        quick = 0
        while True:
            try:
                array = await self.mailbox.get()
            except anyio.EndOfStream:
                return
            callback = self._callback
            if callback is None:  # pragma: no cover - the task is cancelled with the callback
                return
            if offloaded:
                took = await loop.run_in_executor(None, self._invoke, callback, array)
                quick = quick + 1 if took < SLOW_CALLBACK / 4 else 0
                offloaded = quick < QUICK_STREAK
            else:
                offloaded = self._invoke(callback, array) > SLOW_CALLBACK
                quick = 0
            self.offloaded = offloaded

    def _invoke(self, callback: FrameCallback, array: RgbArray) -> float:
        """Run the callback; returns how long it took (seconds)."""
        started = time.perf_counter()
        try:
            callback(array)
        except Exception:
            logger.exception("frame callback for track %r raised", self.name)
        return time.perf_counter() - started

    async def aclose(self) -> None:
        self.mailbox.close()
        tasks = [t for t in (self._pull_task, self._deliver_task) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pull_task = self._deliver_task = None
