"""Audio on a peer: PCM to and from aiortc frames, the outgoing queue track and its pause
gate, and the reader of a received audio track.

PCM is interleaved ``int16`` shaped ``(samples, channels)``.  aiortc encodes and decodes
Opus itself: frames handed to it may have any rate and layout (its encoder resamples to
48 kHz stereo), and what it decodes is 48 kHz stereo, resampled here to the format the
consumer declared.
"""

from __future__ import annotations

import contextlib
import fractions
import logging
from collections.abc import Callable

import anyio
import av
import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from reactor_proto.runtime.audio import AudioFormat

from .mailbox import LatestWinsMailbox
from .tracks import PausableTrack

logger = logging.getLogger(__name__)

Pcm = npt.NDArray[np.int16]
"""Interleaved ``int16`` PCM shaped ``(samples, channels)``."""
PcmCallback = Callable[[Pcm], None]
#: frames an outgoing audio track holds for its encoder (100 ms at 20 ms); oldest dropped
QUEUE_FRAMES = 5


def layout_of(channels: int) -> str:
    return "mono" if channels == 1 else "stereo"


def pcm_to_frame(pcm: Pcm, sample_rate: int, pts: int) -> av.AudioFrame:
    """An aiortc-ready ``s16`` frame of ``pcm`` with ``pts`` in samples at ``sample_rate``."""
    channels = pcm.shape[1]
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm).reshape(1, -1),
                                       format="s16", layout=layout_of(channels))
    frame.sample_rate = sample_rate
    frame.pts = pts
    frame.time_base = fractions.Fraction(1, sample_rate)
    return frame


class PcmConverter:
    """Decoded frames (any rate, layout or sample format) to PCM of one format."""

    def __init__(self, fmt: AudioFormat) -> None:
        self.format = fmt
        self._resampler = av.AudioResampler(format="s16", layout=layout_of(fmt.channels),
                                             rate=fmt.sample_rate)

    def convert(self, frame: av.AudioFrame) -> Pcm:
        # pts of decoded frames are not needed here and confuse the resampler after loss
        frame.pts = None
        parts: list[Pcm] = [np.asarray(f.to_ndarray(), dtype=np.int16)
                            .reshape(-1, self.format.channels)
                            for f in self._resampler.resample(frame)]
        if not parts:
            return np.zeros((0, self.format.channels), dtype=np.int16)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


class QueuedAudioTrack(MediaStreamTrack):
    """An outgoing audio track fed frames by :meth:`offer` (any thread, never blocks): the
    producer paces, ``recv`` waits for the next frame.  At most :data:`QUEUE_FRAMES` wait;
    beyond that the oldest is dropped (counted in :attr:`frames_dropped`)."""

    kind = "audio"

    def __init__(self, sample_rate: int, *, capacity: int = QUEUE_FRAMES) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self._frames: LatestWinsMailbox[tuple[Pcm, int]] = LatestWinsMailbox(capacity)
        self.frames_sent = 0
        self.flowing = False
        #: called once when the track stops (the runtime unsubscribes it there)
        self.on_stop: Callable[[QueuedAudioTrack], None] | None = None

    @property
    def frames_dropped(self) -> int:
        return self._frames.dropped

    def offer(self, pcm: Pcm, pts: int) -> None:
        self._frames.put((pcm, pts))

    def discard_pending(self) -> None:
        with contextlib.suppress(anyio.WouldBlock, anyio.EndOfStream):
            while True:
                self._frames.get_nowait()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        try:
            pcm, pts = await self._frames.get()
        except anyio.EndOfStream:
            raise MediaStreamError from None
        self.frames_sent += 1
        return pcm_to_frame(pcm, self.sample_rate, pts)

    def stop(self) -> None:
        self._frames.close()
        on_stop, self.on_stop = self.on_stop, None
        if on_stop is not None:
            on_stop(self)
        super().stop()


class PausableAudioTrack(PausableTrack):
    """:class:`PausableTrack` for audio: sends nothing while paused."""

    async def recv(self) -> av.AudioFrame:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        while True:
            await self._resumed.wait()
            frame = await self.source.recv()
            if self._resumed.is_set():
                assert isinstance(frame, av.AudioFrame)
                return frame


class AudioInput:
    """A received audio track of a peer: decoded frames converted to the declared format
    and handed to ``callback`` (on the peer's loop) while enabled."""

    def __init__(self, name: str, fmt: AudioFormat) -> None:
        self.name = name
        self.enabled = True
        self.callback: PcmCallback | None = None
        self.frames_received = 0
        self.samples_delivered = 0
        self._converter = PcmConverter(fmt)

    async def run(self, track: MediaStreamTrack) -> None:
        """Read ``track`` until it ends; a failing callback is logged, never fatal."""
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.frames_received += 1
                callback = self.callback
                if not self.enabled or callback is None or not isinstance(frame, av.AudioFrame):
                    continue
                pcm = self._converter.convert(frame)
                self.samples_delivered += len(pcm)
                try:
                    callback(pcm)
                except Exception:
                    logger.exception("audio callback of %r failed", self.name)
