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
from .mailbox import LatestWinsMailbox
from .stats import FpsMeter, TrackFrameStats

logger = logging.getLogger(__name__)

FrameCallback = Callable[[RgbArray], None]


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
            if not self.enabled or not isinstance(frame, av.VideoFrame):
                continue
            if convert_off_loop(frame.width, frame.height):
                array = await loop.run_in_executor(None, frame_to_rgb, frame)
            else:
                array = frame_to_rgb(frame)
            self.mailbox.put(array)

    def set_callback(self, callback: FrameCallback | None) -> None:
        """Deliver each frame to ``callback``, called in a worker thread (never on the loop);
        ``None`` stops it (frames then wait in the mailbox, latest wins)."""
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
        while True:
            try:
                array = await self.mailbox.get()
            except anyio.EndOfStream:
                return
            callback = self._callback
            if callback is None:  # pragma: no cover - the task is cancelled with the callback
                return
            # The callback runs in a worker thread, one frame at a time per track: a slow
            # consumer must never stall the loop that reads the network (the latest-wins
            # mailbox then drops frames instead of latency growing in the kernel's queues).
            await asyncio.get_running_loop().run_in_executor(None, self._invoke, callback,
                                                             array)

    def _invoke(self, callback: FrameCallback, array: RgbArray) -> None:
        try:
            callback(array)
        except Exception:
            logger.exception("frame callback for track %r raised", self.name)

    async def aclose(self) -> None:
        self.mailbox.close()
        tasks = [t for t in (self._pull_task, self._deliver_task) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pull_task = self._deliver_task = None
