"""Outgoing audio: :class:`PcmAudioTrack`, an aiortc audio track fed by pushed PCM.

``push`` (any thread) validates the PCM with the core's rules
(:func:`~reactor_proto.client.audio.check_layout`), converts it to int16 stereo at 48 kHz
(PyAV's ``AudioResampler`` for other rates; Opus on WebRTC runs at 48 kHz, and aiortc's
encoder wants stereo anyway) and queues it, bounded by the core's
:class:`~reactor_proto.client.audio.SendBudget`: a burst larger than the buffer drops the
oldest samples, counted in :attr:`PcmAudioTrack.samples_dropped`, and never blocks.

``recv`` (the aiortc sender) is paced by the audio clock, one 20 ms frame per interval:
queued audio when a whole frame waits, else silence, so the RTP clock runs on and a click
pushed now leaves on the next tick.  A partial frame left waiting for one interval goes
out padded with silence (the tail of a clip is not held back).  A sender that fell behind
(a stalled loop) catches up at once; a queue that stays above two frames for a whole
second is trimmed to them (``SendBudget.settle``), so latency cannot stand.
"""

from __future__ import annotations

import asyncio
import fractions
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from reactor_proto.client.audio import (
    DEFAULT_SEND_BUFFER_MS,
    FRAME_MS,
    OPUS_SAMPLE_RATE,
    AudioFormatError,
    PcmFormat,
    SendBudget,
    check_format,
    check_layout,
)

from .audio_receive import PcmArray

SEND_CHANNELS = 2
SEND_TIME_BASE = fractions.Fraction(1, OPUS_SAMPLE_RATE)
#: a sender this late (seconds) restarts its schedule from now instead of catching up
LATE_RESTART = 1.0

Clock = Callable[[], float]


def to_int16(pcm: Any, fmt: PcmFormat, *, field: str = "pcm") -> PcmArray:
    """``pcm`` (numpy array or bytes of interleaved int16) checked and as int16
    ``(samples, channels)``; :class:`AudioFormatError` naming what was wrong."""
    if isinstance(pcm, (bytes, bytearray, memoryview)):
        raw = bytes(pcm)
        if len(raw) % 2:
            raise AudioFormatError(f"{field} has {len(raw)} bytes: int16 PCM needs an even "
                                   "count", field=field)
        array: np.ndarray[Any, Any] = np.frombuffer(raw, dtype=np.int16)
    elif isinstance(pcm, np.ndarray):
        array = pcm
    else:
        raise AudioFormatError(f"{field} must be a numpy array or bytes, got "
                               f"{type(pcm).__name__}", field=field)
    dtype = str(array.dtype)
    finite = dtype == "int16" or array.dtype.kind != "f" or bool(np.isfinite(array).all())
    layout = check_layout(dtype=dtype, shape=tuple(array.shape), fmt=fmt, finite=finite,
                          field=field)
    if layout.scale:
        array = np.clip(np.rint(array * 32767.0), -32768, 32767)
    return np.ascontiguousarray(array, dtype=np.int16).reshape(layout.samples,
                                                               fmt.num_channels)


class _Converter:
    """int16 ``(n, channels)`` at any supported rate -> int16 ``(m, 2)`` at 48 kHz."""

    def __init__(self, fmt: PcmFormat) -> None:
        self.format = fmt
        self._resampler: av.AudioResampler | None = None
        self._pts = 0
        if fmt.sample_rate != OPUS_SAMPLE_RATE:
            self._resampler = av.AudioResampler(format="s16", layout="stereo",
                                                rate=OPUS_SAMPLE_RATE)

    def convert(self, pcm: PcmArray) -> PcmArray:
        if self._resampler is None:  # already 48 kHz: only the channel count may change
            return pcm if pcm.shape[1] == SEND_CHANNELS else np.repeat(pcm, SEND_CHANNELS, 1)
        layout = "mono" if self.format.num_channels == 1 else "stereo"
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout=layout)
        frame.sample_rate = self.format.sample_rate
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, self.format.sample_rate)
        self._pts += pcm.shape[0]
        out = [f.to_ndarray().reshape(-1, SEND_CHANNELS) for f in self._resampler.resample(frame)]
        return np.concatenate(out) if out else np.zeros((0, SEND_CHANNELS), np.int16)


class PcmAudioTrack(MediaStreamTrack):
    """An audio track fed by :meth:`push`; see the module docstring."""

    kind = "audio"

    def __init__(self, *, buffer_ms: int = DEFAULT_SEND_BUFFER_MS,
                 clock: Clock = time.monotonic) -> None:
        super().__init__()
        self._budget = SendBudget(sample_rate=OPUS_SAMPLE_RATE, capacity_ms=buffer_ms)
        self._chunks: deque[PcmArray] = deque()
        self._lock = threading.Lock()  # guards _chunks and _budget (push vs recv)
        self._push_lock = threading.Lock()  # one converter user at a time
        self._converter: _Converter | None = None
        self._clock = clock
        self._start: float | None = None
        self._index = 0
        self._partial_waits = 0
        self.frames_sent = 0
        self.silent_frames = 0

    # ---- counters (stats) --------------------------------------------------------------

    @property
    def samples_pushed(self) -> int:
        """Samples per channel pushed, counted at 48 kHz (after resampling)."""
        return self._budget.pushed

    @property
    def samples_dropped(self) -> int:
        """Pushed samples (at 48 kHz) dropped because the buffer was full."""
        return self._budget.dropped

    @property
    def samples_trimmed(self) -> int:
        """Of :attr:`samples_dropped`: trimmed from a standing queue (pushes ahead of the
        sender for a whole second), which would otherwise be latency for good."""
        return self._budget.trimmed

    @property
    def samples_queued(self) -> int:
        return self._budget.queued

    # ---- pushing (any thread) ------------------------------------------------------------

    def push(self, pcm: Any, *, sample_rate: int = OPUS_SAMPLE_RATE,
             num_channels: int = 1) -> None:
        """Queue interleaved PCM: int16 (or float in [-1, 1]) numpy ``(n,)`` /
        ``(n, num_channels)`` or int16 bytes, at any supported rate."""
        fmt = check_format(sample_rate, num_channels)
        array = to_int16(pcm, fmt)
        with self._push_lock:
            converter = self._converter
            if converter is None or converter.format != fmt:
                converter = self._converter = _Converter(fmt)
            stereo = converter.convert(array)
        self._enqueue(stereo)

    def _enqueue(self, stereo: PcmArray) -> None:
        with self._lock:
            admission = self._budget.admit(int(stereo.shape[0]))
            drop = admission.drop_queued
            while drop:
                head = self._chunks[0]
                if head.shape[0] <= drop:
                    drop -= head.shape[0]
                    self._chunks.popleft()
                else:
                    self._chunks[0] = head[drop:]
                    drop = 0
            kept = stereo[admission.skip_incoming:]
            if kept.shape[0]:
                self._chunks.append(kept)

    def _next_pcm(self) -> PcmArray | None:
        """One 20 ms frame of queued audio, or None (silence) when there is none."""
        with self._lock:
            standing = self._budget.settle()
            if standing:
                self._pop(standing)
            if self._budget.take_frame():
                self._partial_waits = 0
                return self._pop(self._budget.frame)
            if self._budget.queued and self._partial_waits >= 1:
                count = self._budget.take_partial()
                self._partial_waits = 0
                pcm = self._pop(count)
                pad = np.zeros((self._budget.frame - count, SEND_CHANNELS), np.int16)
                return np.concatenate([pcm, pad])
            self._partial_waits = self._partial_waits + 1 if self._budget.queued else 0
            return None

    def _pop(self, count: int) -> PcmArray:
        parts: list[PcmArray] = []
        while count:
            head = self._chunks[0]
            if head.shape[0] <= count:
                parts.append(self._chunks.popleft())
                count -= head.shape[0]
            else:
                parts.append(head[:count])
                self._chunks[0] = head[count:]
                count = 0
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    # ---- sending (the aiortc loop) -------------------------------------------------------

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        period = FRAME_MS / 1000
        now = self._clock()
        # Behind schedule (a stalled loop), frames go out at once until caught up: time lost
        # here would otherwise stay in the queue as latency.  Far behind, start over.
        if self._start is None or now - (self._start + self._index * period) > LATE_RESTART:
            self._start, self._index = now, 0
        else:
            delay = self._start + self._index * period - now
            if delay > 0:
                await asyncio.sleep(delay)
        pcm = self._next_pcm()
        if pcm is None:
            pcm = np.zeros((self._budget.frame, SEND_CHANNELS), np.int16)
            self.silent_frames += 1
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = OPUS_SAMPLE_RATE
        frame.time_base = SEND_TIME_BASE
        frame.pts = self.frames_sent * self._budget.frame
        self._index += 1
        self.frames_sent += 1
        return frame

    def stop(self) -> None:
        with self._lock:
            self._budget.clear()
            self._chunks.clear()
        super().stop()
