"""Incoming video: one slot per named remote track.

A slot exists from the moment the track's name is known (offer or answer), so a frame
callback may be set before or after the track arrives (F26); each track has its own callback
and its own mailbox (F27).  Frames reach the slot's :class:`LatestWinsMailbox`, converted to
the pixel format its consumer asked for (``rgb24`` unless told otherwise, see
:data:`~.convert.PIXEL_FORMATS`).

Where the work happens (issue 20): aiortc decodes in a thread of its own and hands each frame
to the track's queue by calling ``queue.put(frame)`` *in that thread* (the coroutine it
returns is then run on the loop as a task).  The slot hooks the queue
(:func:`_hook_decoder_output`): the one conversion runs right there, in the decoder thread.
Our decoder thread (:mod:`.decode_worker`, in place of aiortc's) then calls the hook
directly, and what reaches the loop is one plain callback that counts the frame and puts the
result in the mailbox; for a consumer on another thread (the trio bridge, a *tagged* slot)
the decoder thread counts and puts the frame itself, without the loop.  So the event loop
neither converts nor runs a task per frame, and aiortc's unbounded queue is bypassed.  A track
that cannot be hooked (not aiortc's queue) is read by the pull task and converted as before
(on the loop for small frames, in a worker thread for large ones, see :mod:`.convert`).
Nothing runs per frame for memory housekeeping: the slot holds a :class:`~.heap.TrimLease`
while its track is attached.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import attrs
import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .convert import (
    DEFAULT_PIXEL_FORMAT,
    check_pixel_format,
    convert_frame,
    convert_off_loop,
)
from .decode_worker import PUT_IN_THREAD
from .decode_worker import install as _install_decode_worker
from .heap import TrimLease
from .mailbox import LatestWinsMailbox
from .stats import FpsMeter, TrackFrameStats

logger = logging.getLogger(__name__)

_install_decode_worker()  # before any receiver starts: aiortc looks it up at each start

FrameCallback = Callable[[Any], None]

#: A frame callback slower than this (seconds) is moved off the event loop.
SLOW_CALLBACK = 0.004
#: Consecutive quick calls after which an offloaded callback returns to the loop.
QUICK_STREAK = 30
#: Seconds after a track starts before the slot takes its trim lease: starting the trim
#: thread waits for the thread to run (up to ~15 ms on a loaded machine), which must not
#: land in the middle of a connect.
TRIM_LEASE_DELAY = 1.0


@attrs.frozen
class FormattedCallback:
    """A frame callback with the pixel format it consumes (checked at construction)."""

    callback: FrameCallback
    pixel_format: str = attrs.field(default=DEFAULT_PIXEL_FORMAT,
                                    validator=lambda _i, _a, v: check_pixel_format(v))

    def __call__(self, value: Any) -> None:
        self.callback(value)


def unwrap_callback(callback: FrameCallback | None) -> tuple[FrameCallback | None, str]:
    """``(plain callback, pixel format)`` of a callback that may be a :class:`FormattedCallback`."""
    if isinstance(callback, FormattedCallback):
        return callback.callback, callback.pixel_format
    return callback, DEFAULT_PIXEL_FORMAT


async def drain(track: MediaStreamTrack) -> None:
    """Read and discard ``track`` until it ends (audio, or tracks nobody mapped)."""
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()


class _DecoderHook:
    """Routes the decoded frames of an aiortc ``RemoteStreamTrack`` through ``deliver``.

    aiortc's decoder thread calls ``track._queue.put(frame)`` (private, aiortc 1.x) in its own
    thread and runs the returned coroutine on the loop; an instance attribute shadows the
    method, so the hook works whether the thread has started or not.  ``deliver`` is called
    in the decoder thread and returns the coroutine for the loop.

    The track stays usable by an application that reads it itself (``get_remote_tracks()``,
    ``on_track``: documented as raw tracks): while someone awaits ``track.recv()`` (counted by
    a wrapper), a frame also goes to aiortc's queue, so ``recv()`` returns the next frame
    instead of never.  Nobody waiting: nothing is queued, so an application that holds the
    track without reading it cannot make aiortc's unbounded queue grow.  End of stream
    (``None``) always goes to the queue, sets :attr:`ended` and ends the track.
    """

    def __init__(self, queue: asyncio.Queue[Any], track: MediaStreamTrack,
                 deliver: Callable[[av.VideoFrame], Coroutine[Any, Any, None]],
                 deliver_now: Callable[[av.VideoFrame], None]) -> None:
        self.ended = asyncio.Event()
        self.readers = 0  # application recv() calls in progress (read in the decoder thread)
        self._deliver = deliver
        self._deliver_now = deliver_now
        self._loop = asyncio.get_running_loop()
        self._track = track
        self._queue_put = queue.put
        self._track_recv = track.recv
        queue.put = self._put  # type: ignore[method-assign]
        setattr(queue, PUT_IN_THREAD, self._put_in_thread)
        track.recv = self._recv  # type: ignore[method-assign]

    def _put(self, item: Any) -> Coroutine[Any, Any, None]:
        if isinstance(item, av.VideoFrame):
            delivered = self._deliver(item)
            return self._also_queue(delivered, item) if self.readers else delivered
        return self._end(item)

    def _put_in_thread(self, frame: Any) -> None:
        """Our decoder thread (:mod:`.decode_worker`): the frame goes on without a task on
        the loop, unless the application reads the track itself (it needs aiortc's queue)."""
        if self.readers or not isinstance(frame, av.VideoFrame):
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody to deliver to
                asyncio.run_coroutine_threadsafe(self._put(frame), self._loop)
            return
        self._deliver_now(frame)

    async def _also_queue(self, delivered: Coroutine[Any, Any, None], item: Any) -> None:
        await delivered
        if self.readers:  # still waiting once on the loop
            await self._queue_put(item)

    async def _end(self, item: Any) -> None:
        self.ended.set()
        await self._queue_put(item)
        if not self.readers:  # what aiortc's recv() does on reading the end: end the track
            self._track.stop()

    async def _recv(self) -> Any:
        self.readers += 1
        try:
            return await self._track_recv()
        finally:
            self.readers -= 1


def _hook_decoder_output(track: MediaStreamTrack,
                         deliver: Callable[[av.VideoFrame], Coroutine[Any, Any, None]],
                         deliver_now: Callable[[av.VideoFrame], None]
                         ) -> _DecoderHook | None:
    """Hook ``track``'s decoder output (see :class:`_DecoderHook`); None when ``track`` is not
    aiortc's remote track class: the caller then pulls it with ``recv()``."""
    queue = getattr(track, "_queue", None)
    if not isinstance(queue, asyncio.Queue):
        return None
    return _DecoderHook(queue, track, deliver, deliver_now)


@attrs.frozen
class TaggedFrame:
    """What a tagged slot's mailbox holds (:meth:`InputSlot.tag_values`): the converted
    ``value``, the ``pixel_format`` it is in, and the decoded ``frame`` it came from, so a
    consumer on another thread can tell (and mend) a frame converted before its format
    changed."""

    value: Any
    pixel_format: str
    frame: av.VideoFrame


@attrs.frozen
class _Prepared:
    """A frame converted in the decoder thread (``value`` None: not converted)."""

    frame: av.VideoFrame
    pixel_format: str
    value: Any


class InputSlot:
    """Frames of one named remote video track."""

    def __init__(self, name: str, *, capacity: int, enabled: bool = True) -> None:
        self.name = name
        self.mailbox: LatestWinsMailbox[Any] = LatestWinsMailbox(capacity)
        self.enabled = enabled
        #: what frames are converted to (set with the callback, see :class:`FormattedCallback`)
        self.pixel_format = DEFAULT_PIXEL_FORMAT
        self.track: MediaStreamTrack | None = None
        self.frames_received = 0
        self._fps = FpsMeter()
        self._callback: FrameCallback | None = None
        self._pull_task: asyncio.Task[None] | None = None
        self._deliver_task: asyncio.Task[None] | None = None
        self._trim = TrimLease()
        self._trim_later: asyncio.TimerHandle | None = None
        #: True while the callback runs in a worker thread because it was slow.
        self.offloaded = False
        self._quick = 0  # consecutive quick calls of an offloaded callback
        self._idle = False  # the delivery task waits on an empty mailbox
        self._tagged = False  # the mailbox holds TaggedFrame (a consumer on another thread)
        self._conversions: set[asyncio.Task[None]] = set()  # frames converted on the loop

    def stats(self) -> TrackFrameStats:
        return TrackFrameStats(
            frames_received=self.frames_received,
            frames_dropped=self.mailbox.dropped,
            fps=self._fps.fps(time.monotonic()),
        )

    def attach(self, track: MediaStreamTrack) -> None:
        """Start receiving ``track`` (a later track replaces an earlier one)."""
        if self._pull_task is not None:
            self._pull_task.cancel()
        self.track = track
        if not self._trim.held and self._trim_later is None:
            self._trim_later = asyncio.get_running_loop().call_later(
                TRIM_LEASE_DELAY, self._take_trim_lease)

        loop = asyncio.get_running_loop()

        def prepare(frame: av.VideoFrame) -> _Prepared:
            # the decoder thread: convert here, off the loop, unless replaced or disabled
            if self.track is not track or not self.enabled:
                return _Prepared(frame=frame, pixel_format="", value=None)
            pixel_format = self.pixel_format
            try:
                value = convert_frame(frame, pixel_format)
            except Exception:  # pragma: no cover - a corrupt frame: the loop side retries
                value = None
            return _Prepared(frame=frame, pixel_format=pixel_format, value=value)

        def deliver(frame: av.VideoFrame) -> Coroutine[Any, Any, None]:
            return self._arrived(track, prepare(frame))  # aiortc's own decoder thread

        def deliver_now(frame: av.VideoFrame) -> None:  # ours (.decode_worker)
            prepared = prepare(frame)
            if self._tagged:  # the consumer is on another thread: the loop has no part
                self._arrived_tagged(track, prepared)
                return
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody to deliver to
                loop.call_soon_threadsafe(self._arrived_on_loop, track, prepared)

        hook = _hook_decoder_output(track, deliver, deliver_now)
        pull = self._pull(track) if hook is None else self._until_ended(track, hook)
        self._pull_task = asyncio.get_running_loop().create_task(
            pull, name=f"reactor-pull-{self.name}"
        )

    def _take_trim_lease(self) -> None:
        self._trim_later = None
        self._trim.acquire()

    def _drop_trim_lease(self) -> None:
        if self._trim_later is not None:
            self._trim_later.cancel()
            self._trim_later = None
        self._trim.release()

    async def _arrived(self, track: MediaStreamTrack, prepared: _Prepared) -> None:
        """On the loop: count a frame the decoder thread prepared and hand it on."""
        if self._count(track) and not self._hand_on_prepared(prepared):
            # converted for another format (changed meanwhile) or not at all: do it here
            await self._convert_and_put(prepared.frame)

    def _arrived_on_loop(self, track: MediaStreamTrack, prepared: _Prepared) -> None:
        """:meth:`_arrived` as a plain callback: a task only when it must convert."""
        if self._count(track) and not self._hand_on_prepared(prepared):
            self._conversions.add(task := asyncio.get_running_loop().create_task(
                self._convert_and_put(prepared.frame)))
            task.add_done_callback(self._conversions.discard)

    def _arrived_tagged(self, track: MediaStreamTrack, prepared: _Prepared) -> None:
        """In the decoder thread, for a consumer on another thread (the trio bridge): the
        mailbox is thread-safe, and the consumer converts a frame whose format is stale."""
        if self._count(track):
            self.mailbox.put(TaggedFrame(value=prepared.value,
                                         pixel_format=prepared.pixel_format,
                                         frame=prepared.frame))

    def _count(self, track: MediaStreamTrack) -> bool:
        """Count a frame of ``track``; whether it is to be handed on (the current track,
        and enabled)."""
        if self.track is not track:
            return False  # a replaced track's late frame
        self.frames_received += 1
        self._fps.tick(time.monotonic())
        return self.enabled

    def _hand_on_prepared(self, prepared: _Prepared) -> bool:
        """Hand on a frame converted in the current format; False when it is not."""
        if prepared.value is None or prepared.pixel_format != self.pixel_format:
            return False
        self._hand_on(prepared.value, prepared.pixel_format, prepared.frame)
        return True

    async def _convert_and_put(self, frame: av.VideoFrame) -> None:
        pixel_format = self.pixel_format
        if pixel_format != "frame" and convert_off_loop(frame.width, frame.height):
            loop = asyncio.get_running_loop()
            value = await loop.run_in_executor(None, convert_frame, frame, pixel_format)
        else:
            value = convert_frame(frame, pixel_format)
        self._hand_on(value, pixel_format, frame)

    def tag_values(self) -> None:
        """From now on the mailbox holds :class:`TaggedFrame`s (for a consumer on another
        thread, which changes the format with the callback and must not be handed a frame
        converted for the previous one)."""
        self._tagged = True

    async def _until_ended(self, track: MediaStreamTrack, hook: _DecoderHook) -> None:
        # A hooked track delivers through the hook; here we only learn that it ended, without
        # reading it (its recv() belongs to the application, see _DecoderHook).
        try:
            await hook.ended.wait()
        finally:
            if self.track is track:
                self._drop_trim_lease()

    async def _pull(self, track: MediaStreamTrack) -> None:
        # A track that could not be hooked: read every frame here.
        try:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                if isinstance(frame, av.VideoFrame):
                    await self._arrived(track, _Prepared(frame=frame, pixel_format="",
                                                         value=None))
        finally:
            if self.track is track:
                self._drop_trim_lease()

    def set_callback(self, callback: FrameCallback | None) -> None:
        """Deliver each frame to ``callback`` (on the loop while it is quick, in a worker
        thread once it is slow); ``None`` stops it (frames then wait in the mailbox, latest
        wins).  A :class:`FormattedCallback` also sets the pixel format frames arrive in."""
        callback, self.pixel_format = unwrap_callback(callback)
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
        # has been quick for QUICK_STREAK frames in a row.  While this task is idle, a frame
        # for a quick callback skips the mailbox (:meth:`_hand_on`).
        loop = asyncio.get_running_loop()
        self._quick = 0
        while True:
            self._idle = True
            try:
                value = await self.mailbox.get()
            except anyio.EndOfStream:
                return
            finally:
                self._idle = False
            callback = self._callback
            if callback is None:  # pragma: no cover - the task is cancelled with the callback
                return
            if self.offloaded:
                took = await loop.run_in_executor(None, self._invoke, callback, value)
                self._quick = self._quick + 1 if took < SLOW_CALLBACK / 4 else 0
                self.offloaded = self._quick < QUICK_STREAK
            else:
                self._judge(self._invoke(callback, value))

    def _judge(self, took: float) -> None:
        """After a call on the loop: a slow one moves the callback to a worker thread."""
        self.offloaded = took > SLOW_CALLBACK
        self._quick = 0

    def _hand_on(self, value: Any, pixel_format: str, frame: av.VideoFrame) -> None:
        """A new frame: straight to a quick callback when nothing is queued before it (saves
        waking the delivery task, about a tenth of our per-frame cost), else the mailbox."""
        if self._tagged:
            self.mailbox.put(TaggedFrame(value=value, pixel_format=pixel_format, frame=frame))
            return
        callback = self._callback
        if callback is not None and self._idle and not self.offloaded and not len(self.mailbox):
            self._judge(self._invoke(callback, value))
        else:
            self.mailbox.put(value)

    def _invoke(self, callback: FrameCallback, value: Any) -> float:
        """Run the callback; returns how long it took (seconds)."""
        started = time.perf_counter()
        try:
            callback(value)
        except Exception:
            logger.exception("frame callback for track %r raised", self.name)
        return time.perf_counter() - started

    async def aclose(self) -> None:
        self._drop_trim_lease()
        self.track = None
        self.mailbox.close()
        tasks = [t for t in (self._pull_task, self._deliver_task, *self._conversions)
                 if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pull_task = self._deliver_task = None
