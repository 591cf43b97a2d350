"""Incoming audio: each named remote audio track is read into an :class:`AudioFrameQueue`.

Unlike video (latest wins), every audio frame matters, so frames queue in order; the queue
is bounded by the core's :class:`~reactor_proto.client.audio.DropOldestBuffer` (a consumer
that falls behind loses the *oldest* audio, counted) and aiortc's own unbounded queue never
grows, because the pull task reads the track whether anyone listens or not.

The queue (the *sink*) belongs to whoever consumes it: the client creates one per track and
hands it to the peer with :meth:`AudioInputs.set_audio_sink`; ``put`` runs on the aiortc
loop, ``get`` is awaited under asyncio or trio on any thread (the trio bridge's case).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import anyio
import attrs
import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from reactor_proto.client.audio import DEFAULT_RECEIVE_FRAMES, DropOldestBuffer, media_time_us

from .mailbox import _waker

if TYPE_CHECKING:
    from numpy.typing import NDArray

PcmArray: TypeAlias = "NDArray[np.int16]"
#: frames aiortc's audio jitter buffer holds back before releasing one (aiortc's own: 4)
AUDIO_PREFETCH = 2


@attrs.frozen(kw_only=True, eq=False)
class ReceivedAudio:
    """One decoded frame: ``pcm`` int16 ``(samples, channels)``, its rate, and its media
    time in microseconds since the track's first frame."""

    pcm: PcmArray
    sample_rate: int
    timestamp_us: int

    @property
    def num_channels(self) -> int:
        return int(self.pcm.shape[1])


def frame_to_pcm(frame: av.AudioFrame) -> PcmArray:
    """An aiortc audio frame as int16 ``(samples, channels)`` (a copy the caller owns)."""
    channels = len(frame.layout.channels)
    if frame.format.name == "s16":  # packed: one plane, interleaved
        # straight from the plane's buffer (to_ndarray stacks planes: a second copy)
        count = frame.samples * channels
        flat: PcmArray = np.frombuffer(memoryview(frame.planes[0]), dtype=np.int16,
                                       count=count)
        return flat.reshape(frame.samples, channels).copy()
    if frame.format.name == "s16p":  # planar: one row per channel
        return np.ascontiguousarray(frame.to_ndarray().T, dtype=np.int16)
    # anything else (not what aiortc's Opus decoder gives): convert with PyAV
    resampler = av.AudioResampler(format="s16", layout=frame.layout.name,
                                  rate=frame.sample_rate)
    out = [frame_to_pcm(f) for f in resampler.resample(frame)]
    return np.concatenate(out) if out else np.zeros((0, channels), np.int16)


class AudioFrameQueue:
    """Bounded, ordered, drop-oldest queue of :class:`ReceivedAudio`; ``put`` from any
    thread, never blocks; ``get`` awaited under asyncio or trio."""

    def __init__(self, capacity: int = DEFAULT_RECEIVE_FRAMES) -> None:
        self._buffer: DropOldestBuffer[ReceivedAudio] = DropOldestBuffer(capacity)
        self._lock = threading.Lock()
        self._waiters: list[Callable[[], None]] = []
        self._closed = False

    @property
    def capacity(self) -> int:
        return self._buffer.capacity

    @property
    def frames_received(self) -> int:
        return self._buffer.accepted

    @property
    def frames_delivered(self) -> int:
        return self._buffer.taken

    @property
    def frames_dropped(self) -> int:
        """Frames pushed out unread by newer ones (a consumer slower than real time)."""
        return self._buffer.dropped

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._buffer)

    def put(self, item: ReceivedAudio) -> bool:
        """Queue ``item`` (the oldest goes when full); False once closed."""
        with self._lock:
            if self._closed:
                return False
            self._buffer.put(item)
            waiters, self._waiters = self._waiters, []
        for wake in waiters:
            wake()
        return True

    def get_nowait(self) -> ReceivedAudio:
        """The oldest frame; :class:`anyio.WouldBlock` when empty, :class:`anyio.EndOfStream`
        when empty and closed."""
        with self._lock:
            item = self._buffer.take()
            if item is not None:
                return item
            if self._closed:
                raise anyio.EndOfStream
        raise anyio.WouldBlock

    async def get(self) -> ReceivedAudio:
        """Wait for the next frame; after :meth:`close`, what is held, then EndOfStream."""
        with self._lock:  # the common case, a frame already waiting: no event to make
            item = self._buffer.take()
            if item is not None:
                return item
        while True:
            event = anyio.Event()
            wake = _waker(event)
            with self._lock:
                item = self._buffer.take()
                if item is not None:
                    return item
                if self._closed:
                    raise anyio.EndOfStream
                self._waiters.append(wake)
            try:
                await event.wait()
            finally:
                with self._lock, contextlib.suppress(ValueError):
                    self._waiters.remove(wake)

    def close(self) -> None:
        """Refuse further frames and wake every reader (idempotent)."""
        with self._lock:
            self._closed = True
            waiters, self._waiters = self._waiters, []
        for wake in waiters:
            wake()


def shorten_jitter_buffer(receiver: Any, prefetch: int = AUDIO_PREFETCH) -> bool:
    """Let aiortc's audio jitter buffer release a frame once ``prefetch`` later ones have
    arrived, instead of its fixed 4 (about 80 ms of latency per hop; libwebrtc adapts its
    own to the measured jitter, a few tens of ms on a LAN).  aiortc has no setting for it:
    this reaches into its receiver, and does nothing (False) when the attribute is gone."""
    buffer = getattr(receiver, "_RTCRtpReceiver__jitter_buffer", None)
    if buffer is None or not isinstance(getattr(buffer, "_prefetch", None), int):
        return False
    buffer._prefetch = prefetch
    return True


class AudioReceiveSlot:
    """One named remote audio track: its pull task and (maybe) its sink."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sink: AudioFrameQueue | None = None
        self.frames_read = 0
        self._first_pts: int | None = None

    async def pull(self, track: MediaStreamTrack) -> None:
        """Read ``track`` until it ends, handing each frame to the current sink."""
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.frames_read += 1
                sink = self.sink
                if sink is None or not isinstance(frame, av.AudioFrame):
                    continue
                pts = int(frame.pts or 0)
                if self._first_pts is None:
                    self._first_pts = pts
                sink.put(ReceivedAudio(pcm=frame_to_pcm(frame), sample_rate=frame.sample_rate,
                                       timestamp_us=media_time_us(pts, frame.sample_rate,
                                                                  self._first_pts)))


class AudioInputs:
    """Audio half of a peer (a mixin of :class:`~.peer_base.PeerBase`): one
    :class:`AudioReceiveSlot` per named remote audio track."""

    _pc: Any

    if TYPE_CHECKING:
        def _spawn(self, coro: Any, name: str) -> None: ...
        def _check_open(self) -> None: ...

    def _audio_input_table(self) -> dict[str, AudioReceiveSlot]:
        table: dict[str, AudioReceiveSlot] | None = self.__dict__.get("_audio_slots")
        if table is None:
            table = self.__dict__["_audio_slots"] = {}
        return table

    def set_audio_sink(self, name: str, sink: AudioFrameQueue | None) -> None:
        """Queue the frames of remote audio track ``name`` into ``sink`` (``None``: read and
        discard them).  May be called before the track arrives."""
        self._check_open()
        table = self._audio_input_table()
        slot = table.get(name) or table.setdefault(name, AudioReceiveSlot(name))
        slot.sink = sink

    def _attach_audio(self, name: str, track: MediaStreamTrack) -> None:
        """Start reading remote audio ``track`` (called on the aiortc loop)."""
        for transceiver in self._pc.getTransceivers():
            if transceiver.receiver.track is track:
                shorten_jitter_buffer(transceiver.receiver)
        table = self._audio_input_table()
        slot = table.get(name) or table.setdefault(name, AudioReceiveSlot(name))
        self._spawn(slot.pull(track), name=f"reactor-audio-{name}")

