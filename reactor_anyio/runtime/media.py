"""Frame production for the local runtime: one producer per output track, fanned out.

Each output track of the model gets one :class:`OutputFanout`: a worker thread calls
``model.produce_frame(track, now)`` at the model instance's ``frame_rate`` and hands every
frame to each subscribed connection's :class:`FanoutTrack` (a latest-wins mailbox of one), so
generating a frame costs the same for one viewer as for ten, and neither generation nor
encoding (aiortc encodes in its executor) ever runs on the signalling loop.

Policy: frames advance the model only while at least one connection *consumes* the track,
i.e. has its output resumed (``SetOutputFlow(paused=False)``).  With nobody watching the
producer thread parks, so a stateful model such as Helios (which counts frames in
``produce_frame``) does not race ahead of its viewers, and an idle runtime costs no CPU.
"""

from __future__ import annotations

import contextlib
import fractions
import logging
import time
from collections.abc import Callable, Iterable, Mapping

import anyio
import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from reactor_anyio.webrtc import LatestWinsMailbox
from reactor_anyio.webrtc.audio_source import QueuedAudioTrack
from reactor_anyio.webrtc.convert import RgbArray, check_rgb
from reactor_anyio.webrtc.heap import reclaim_while_streaming
from reactor_proto.runtime.audio import AudioFormat

from .audio_media import AudioFanout, ProduceAudio
from .fanout import ProducerFanout
from .picture import Picture, to_yuv420, video_frame

logger = logging.getLogger(__name__)

VIDEO_CLOCK_RATE = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)
#: a producer thread with no consumer for this long ends
IDLE_GRACE = 0.5
#: a frame older than this when the encoder asks for it (held over a pause) is skipped
STALE_AFTER = 0.5

Produce = Callable[[str, float], RgbArray]
#: what the recordings get of each produced frame: (track, picture, due)
Record = Callable[[str, Picture, float], None]
Clock = Callable[[], float]


class FanoutTrack(MediaStreamTrack):
    """One connection's view of an output track: the frames its fan-out produced while this
    subscriber was flowing, latest wins.  ``pts`` is the production time on the fan-out's
    clock, so a pause shows up as a gap in RTP time."""

    kind = "video"

    def __init__(self, fanout: OutputFanout) -> None:
        super().__init__()
        self._fanout = fanout
        self._frames: LatestWinsMailbox[tuple[Picture, float]] = LatestWinsMailbox(1)
        self._last_pts = -1
        self.flowing = False
        self.frames_sent = 0

    def offer(self, picture: Picture, due: float) -> None:
        """Called from the producer thread; never blocks.  ``picture``: see
        :mod:`.picture` (converted once by the fan-out, or an RGB array)."""
        self._frames.put((picture, due))

    def discard_pending(self) -> None:
        with contextlib.suppress(anyio.WouldBlock, anyio.EndOfStream):
            self._frames.get_nowait()

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        while True:
            try:
                picture, due = await self._frames.get()
            except anyio.EndOfStream:
                raise MediaStreamError from None
            if self._fanout.clock() - due <= STALE_AFTER:
                break
        pts = max(round((due - self._fanout.epoch) * VIDEO_CLOCK_RATE), self._last_pts + 1)
        self._last_pts = pts
        frame = video_frame(picture)
        frame.pts = pts
        frame.time_base = VIDEO_TIME_BASE
        self.frames_sent += 1
        return frame

    def stop(self) -> None:
        self._frames.close()
        self._fanout.unsubscribe(self)
        super().stop()


class OutputFanout(ProducerFanout[FanoutTrack]):
    """The producer thread of one output track and the connections subscribed to it."""

    def __init__(self, track: str, produce: Produce, frame_rate: Callable[[], float], *,
                 clock: Clock = time.monotonic, record: Record | None = None) -> None:
        super().__init__(track)
        self._record = record
        self.clock = clock
        self.epoch = clock()
        self._produce = produce
        self._frame_rate = frame_rate

    def _new_subscriber(self) -> FanoutTrack:
        return FanoutTrack(self)

    # ---- the producer thread ------------------------------------------------------------

    def _wait_for_consumers(self) -> bool:
        """True while a subscriber flows.  With none left (for a short grace, so a quick
        pause/resume does not churn threads) the thread ends; ``set_flowing`` starts a new
        one when a consumer comes back.  False when stopping."""
        with self._condition:
            if not self._stopping and not any(s.flowing for s in self._subscribers):
                self._condition.wait(IDLE_GRACE)
            if self._stopping or not any(s.flowing for s in self._subscribers):
                self._thread = None
                return False
            return True

    def _run(self) -> None:
        due: float | None = None
        while self._wait_for_consumers():
            period = 1.0 / max(self._frame_rate(), 1e-3)
            now = self.clock()
            # after a park, or more than a frame late: restart the schedule (no burst)
            due = now if due is None or now > due + period else due
            delay = due - now
            if delay > 0:
                with self._condition:
                    if self._condition.wait_for(lambda: self._stopping, delay):
                        self._thread = None
                        return
            try:
                array = check_rgb(self._produce(self.track, due),
                                  field=f"produce_frame({self.track!r})")
                # one conversion to yuv420p for every viewer's encoder and the recorder
                picture = to_yuv420(array)
            except Exception:
                self.errors += 1
                if self.errors <= 3 or self.errors % 100 == 0:
                    logger.exception("produce_frame(%r) failed (%d so far)", self.track,
                                     self.errors)
                due += period
                continue
            self.frames_produced += 1
            # per-frame buffers fragment glibc's arenas: hand the free ones back (heap.py)
            reclaim_while_streaming()
            with self._condition:
                targets = [s for s in self._subscribers if s.flowing]
            if self._record is not None:
                self._record(self.track, picture, due)
            for subscriber in targets:
                subscriber.offer(picture, due)
            due = due + period if targets else None


#: one connection's subscription to an output track
OutputTrack = FanoutTrack | QueuedAudioTrack


class MediaHub:
    """Every output fan-out of the served model: video in :attr:`fanouts`, audio (one
    :class:`~.audio_media.AudioFanout` per track, on its own thread) in :attr:`audio`.
    Both clocks count from the hub's epoch, so their ``pts`` line up."""

    def __init__(self, tracks: Iterable[str], produce: Produce,
                 frame_rate: Callable[[], float], *, clock: Clock = time.monotonic,
                 audio: Mapping[str, AudioFormat] | None = None,
                 produce_audio: ProduceAudio | None = None, record: Record | None = None
                 ) -> None:
        self.fanouts = {name: OutputFanout(name, produce, frame_rate, clock=clock,
                                           record=record)
                        for name in tracks}
        epoch = min((f.epoch for f in self.fanouts.values()), default=clock())
        self.audio: dict[str, AudioFanout] = {}
        if audio and produce_audio is not None:
            self.audio = {name: AudioFanout(name, produce_audio, fmt, clock=clock, epoch=epoch)
                          for name, fmt in audio.items()}

    def fanout(self, track: str) -> OutputFanout | AudioFanout | None:
        """The fan-out of output ``track`` (video or audio), None when nothing feeds it."""
        return self.fanouts.get(track) or self.audio.get(track)

    def set_flowing(self, track: str, output: OutputTrack, flowing: bool) -> None:
        """Start or stop feeding one subscriber ``output`` of ``track``."""
        video, audio = self.fanouts.get(track), self.audio.get(track)
        if video is not None and isinstance(output, FanoutTrack):
            video.set_flowing(output, flowing)
        elif audio is not None and isinstance(output, QueuedAudioTrack):
            audio.set_flowing(output, flowing)

    def frames_produced(self, track: str) -> int:
        fanout = self.fanout(track)
        if fanout is None:
            raise KeyError(track)
        return fanout.frames_produced

    def stop(self) -> None:
        for fanout in self._all():
            fanout.stop()

    def join(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(f.join(max(0.0, deadline - time.monotonic())) for f in self._all())

    def _all(self) -> list[OutputFanout | AudioFanout]:
        return [*self.fanouts.values(), *self.audio.values()]
