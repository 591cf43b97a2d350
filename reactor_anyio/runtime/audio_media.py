"""Audio production for the local runtime: one producer thread per audio output track.

The thread wakes on the audio clock (:class:`~reactor_proto.runtime.audio.AudioClock`,
20 ms frames), asks the model for PCM with ``produce_audio(track, now)`` and lets the core's
:class:`~reactor_proto.runtime.audio.AudioConformer` decide what becomes of each chunk; this
module only performs the verdicts on the arrays.  Each exact frame is encoded to Opus once,
on this thread, and the packets go to every flowing subscriber's :class:`QueuedAudioTrack`
(a bounded queue; aiortc only packs them into RTP on the loop).  Video runs on its own
threads: a slow or broken audio model never holds a video frame back, and no audio frame
waits for video.

Like video, the thread runs only while a subscriber flows (its output resumed), and its
``pts`` are samples since the hub's epoch, the origin the video ``pts`` share.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from reactor_anyio.webrtc.audio_source import (
    QUEUE_FRAMES,
    OpusPacket,
    OpusPacketizer,
    Pcm,
    QueuedAudioTrack,
)
from reactor_proto.runtime.audio import (
    AudioClock,
    AudioConformer,
    AudioFormat,
    AudioStats,
    ChunkInfo,
    ChunkVerdict,
)

from .fanout import ProducerFanout

logger = logging.getLogger(__name__)

#: a producer thread with no consumer for this long ends
IDLE_GRACE = 0.5
#: the producer wakes once per this much audio (whole frames; at least one) and sends it
#: as one burst of packets: each wake-up (of this thread and of the event loop) costs far
#: more than the frame's work in it, so 20 ms frames cost a third of the wake-ups, for up
#: to 40 ms more latency (the batch's first frame waits for its last)
BATCH_MS = 60
#: a producer this late (seconds, after its batch's last frame was due) skips ahead
MAX_LAG = 0.1

ProduceAudio = Callable[[str, float], Any]
Clock = Callable[[], float]


def describe(chunk: object) -> ChunkInfo | None:
    """What the core needs to know about a returned chunk (``None`` for nothing)."""
    if chunk is None:
        return None
    if not isinstance(chunk, np.ndarray):
        return ChunkInfo(dtype=type(chunk).__name__, shape=())
    dtype = chunk.dtype
    finite = True
    if dtype.kind == "f":
        finite = bool(np.isfinite(chunk).all())
    name = _DTYPE_NAMES.get(dtype)
    if name is None:  # str(dtype) runs Python code in numpy: once per dtype, not per frame
        name = _DTYPE_NAMES[dtype] = str(dtype)
    return ChunkInfo(dtype=name, shape=tuple(chunk.shape), finite=finite)


_DTYPE_NAMES: dict[np.dtype[Any], str] = {}


def perform(chunk: np.ndarray[Any, Any], verdict: ChunkVerdict, channels: int) -> Pcm:
    """The samples the verdict keeps, as ``int16 (samples, channels)``."""
    kept = chunk[:verdict.keep].reshape(verdict.keep, channels)
    if verdict.convert:
        scaled: Pcm = (np.clip(kept, -1.0, 1.0) * 32767.0).astype(np.int16)
        return scaled
    same: Pcm = np.ascontiguousarray(kept, dtype=np.int16)
    return same


class PcmBuffer:
    """The samples the conformer counts in ``buffered``, as arrays."""

    def __init__(self, channels: int) -> None:
        self._channels = channels
        self._parts: list[Pcm] = []

    def append(self, pcm: Pcm) -> None:
        if len(pcm):
            self._parts.append(pcm)

    def take(self, count: int, pad: int) -> Pcm:
        parts = self._parts
        if not pad and parts and len(parts[0]) == count:  # the usual case: one whole chunk
            # copied: the recorder keeps the frame, and a model may reuse its array
            whole: Pcm = parts.pop(0).copy()
            return whole
        out = np.zeros((count + pad, self._channels), dtype=np.int16)
        filled = 0
        while filled < count:
            part = self._parts[0]
            used = min(len(part), count - filled)
            out[filled:filled + used] = part[:used]
            filled += used
            if used == len(part):
                self._parts.pop(0)
            else:
                self._parts[0] = part[used:]
        return out

    def clear(self) -> None:
        self._parts.clear()


class AudioFanout(ProducerFanout[QueuedAudioTrack]):
    """The producer thread of one audio output and the connections subscribed to it."""

    thread_prefix = "reactor-audio"

    def __init__(self, track: str, produce: ProduceAudio, fmt: AudioFormat, *,
                 clock: Clock = time.monotonic, epoch: float | None = None,
                 batch_ms: int = BATCH_MS) -> None:
        super().__init__(track)
        self.format = fmt
        #: frames produced, encoded and sent per wake-up
        self.batch = max(1, batch_ms // fmt.frame_ms)
        self.clock = clock
        self._produce = produce
        # a batch's first frame is taken (batch - 1) frames late by design: the tolerance
        # before skipping ahead counts from the batch's last frame, as it did per frame
        self._audio_clock = AudioClock(fmt, epoch=clock() if epoch is None else epoch,
                                       max_lag=MAX_LAG + (self.batch - 1) * fmt.frame_period)
        self._conformer = AudioConformer(fmt)
        self._buffer = PcmBuffer(fmt.channels)
        self._opus = OpusPacketizer(fmt)
        #: called on the audio thread with every frame sent and its pts (a recorder's tap)
        self.tap: Callable[[Pcm, int], None] | None = None

    @property
    def stats(self) -> AudioStats:
        return self._conformer.stats

    @property
    def skipped_frames(self) -> int:
        return self._audio_clock.skipped_frames

    # ---- subscribers (called on the event loop) -----------------------------------------

    def _new_subscriber(self) -> QueuedAudioTrack:
        # room for two batches, so a loop a batch behind loses nothing
        track = QueuedAudioTrack(capacity=max(QUEUE_FRAMES, 2 * self.batch))
        track.on_stop = self.unsubscribe
        return track

    def _flowing(self) -> list[QueuedAudioTrack]:
        """The flowing subscribers, after a short grace when there are none; [] ends the
        thread (``set_flowing`` starts a new one)."""
        with self._condition:
            if not self._stopping and not any(s.flowing for s in self._subscribers):
                self._condition.wait(IDLE_GRACE)
            targets = [s for s in self._subscribers if s.flowing]
            if self._stopping or not targets:
                self._thread = None
                return []
            return targets

    def _run(self) -> None:
        self._audio_clock.park()
        self._conformer.flush()
        self._buffer.clear()
        period = self.format.frame_period
        while self._flowing():
            # wake when the batch's last frame is due: every frame of it is then due (the
            # model has had the input of the whole batch), none ahead of its time
            due = self._audio_clock.deadline(self.clock()) + (self.batch - 1) * period
            delay = due - self.clock()
            if delay > 0:
                with self._condition:
                    if self._condition.wait_for(lambda: self._stopping, delay):
                        self._thread = None
                        return
            packets = self._produce_batch()
            with self._condition:
                targets = [s for s in self._subscribers if s.flowing]
            for subscriber in targets:
                subscriber.offer(packets)  # the whole batch at once: one wake-up of the loop

    def _produce_batch(self) -> list[OpusPacket]:
        """The frames due now (at most :attr:`batch`), each tapped and encoded once."""
        packets: list[OpusPacket] = []
        for _ in range(self.batch):
            now = self.clock()
            due = self._audio_clock.deadline(now)
            if due > now:
                break
            pts = self._audio_clock.take(now)
            pcm = self._next_frame(due)
            self.frames_produced += 1
            tap = self.tap
            if tap is not None:
                tap(pcm, pts)
            packets += self._opus.encode(pcm, pts)  # once, whoever listens
        return packets

    def _next_frame(self, now: float) -> Pcm:
        """Ask the model until a frame is buffered (bounded), then cut it."""
        conformer, channels = self._conformer, self.format.channels
        calls = 0
        while conformer.wants_chunk(calls):
            calls += 1
            try:
                chunk = self._produce(self.track, now)
            except Exception:
                conformer.failed()
                self.errors += 1
                if self.errors <= 3 or self.errors % 100 == 0:
                    logger.exception("produce_audio(%r) failed (%d so far)", self.track,
                                     self.errors)
                break
            verdict = conformer.judge(describe(chunk))
            if verdict.refused is not None:
                if sum(conformer.stats.refused.values()) <= 3:
                    logger.warning("produce_audio(%r): chunk refused (%s)", self.track,
                                   verdict.refused)
                break
            if not verdict.keep:
                break
            self._buffer.append(perform(chunk, verdict, channels))
            now += verdict.keep / self.format.sample_rate
        cut = conformer.cut()
        return self._buffer.take(cut.take, cut.pad)
