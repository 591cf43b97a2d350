"""Audio on a peer: PCM to and from Opus, the outgoing packet track and its pause gate,
and the reader of a received audio track.

PCM is interleaved ``int16`` shaped ``(samples, channels)``.  Outgoing audio is encoded
here (:class:`OpusPacketizer`) and aiortc sends the packets as they are; incoming audio is
decoded by aiortc (48 kHz stereo) and resampled here to the format the consumer declared.
"""

from __future__ import annotations

import contextlib
import fractions
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import av
import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from reactor_proto.runtime.audio import AudioFormat

from .mailbox import LatestWinsMailbox
from .tracks import PausableTrack

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    OpusPacket = av.Packet[Any]
else:
    OpusPacket = av.Packet  # generic only in the stubs
Pcm = npt.NDArray[np.int16]
"""Interleaved ``int16`` PCM shaped ``(samples, channels)``."""
PcmCallback = Callable[[Pcm], None]
#: packets an outgoing audio track holds for its sender (100 ms at 20 ms); oldest dropped
QUEUE_FRAMES = 5
OPUS_RATE = 48_000
OPUS_TIME_BASE = fractions.Fraction(1, OPUS_RATE)
#: libopus complexity (0-10) of the runtime's encoder; see :class:`OpusPacketizer`
COMPLEXITY = 0


def layout_of(channels: int) -> str:
    return "mono" if channels == 1 else "stereo"


def pcm_to_frame(pcm: Pcm, sample_rate: int, pts: int) -> av.AudioFrame:
    """An aiortc-ready ``s16`` frame of ``pcm`` with ``pts`` in samples at ``sample_rate``."""
    samples, channels = pcm.shape
    # a new frame filled by one copy: cheaper than from_ndarray's checks and conversions
    frame = av.AudioFrame(format="s16", layout=layout_of(channels), samples=samples)
    # the array itself (any buffer does; the stubs say bytes): one copy, none to bytes first
    frame.planes[0].update(np.ascontiguousarray(pcm, dtype=np.int16))  # type: ignore[arg-type]
    frame.sample_rate = sample_rate
    frame.pts = pts
    frame.time_base = (OPUS_TIME_BASE if sample_rate == OPUS_RATE
                       else fractions.Fraction(1, sample_rate))
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


class OpusPacketizer:
    """PCM frames to Opus packets (one per frame, of the format's ``frame_ms``) stamped on
    the 48 kHz RTP clock.

    The runtime encodes each frame once, on its audio thread, for every listener: aiortc
    only packs pre-encoded packets (no per-peer encode, no hop to its executor on the
    loop).  A gap in the input ``pts`` (a park, skipped frames) carries over to the
    packets, so the RTP timestamps keep real time."""

    def __init__(self, fmt: AudioFormat, *, bit_rate: int = 64_000) -> None:
        self.format = fmt
        codec = av.CodecContext.create("libopus", "w")
        codec.bit_rate = bit_rate * fmt.channels
        codec.format = "s16"
        codec.layout = layout_of(fmt.channels)
        codec.sample_rate = OPUS_RATE
        codec.time_base = OPUS_TIME_BASE
        # one packet per frame of the track's clock.  CELT only ("lowdelay": no SILK, no
        # speech/music analysis, 2.5 ms of codec delay instead of 6.5) at complexity 0:
        # about half the CPU per frame of libopus' defaults (hybrid, complexity 10) and a
        # fifth less than complexity 5, for the same fidelity at this bit rate (measured
        # at 48 kHz mono, 20 ms frames, SNR of the decoded signal: a sine 47.7 dB at 0, 5
        # and 10; a chord with noise 21.5 / 21.6 / 22.4 dB; a sweep 40.4 / 40.5 / 38.1 dB)
        codec.options = {"frame_duration": str(fmt.frame_ms), "application": "lowdelay",
                         "compression_level": str(COMPLEXITY)}
        self._codec = codec
        self._packet_samples = OPUS_RATE * fmt.frame_ms // 1000
        # a 48 kHz model's frames go straight in; any other rate is resampled
        self._resampler = None if fmt.sample_rate == OPUS_RATE else av.AudioResampler(
            format="s16", layout=layout_of(fmt.channels), rate=OPUS_RATE,
            frame_size=self._packet_samples)
        self._expected: int | None = None
        self._pts = 0
        self._encoded = 0
        self.packets = 0

    def encode(self, pcm: Pcm, pts: int) -> list[OpusPacket]:
        """The packets of one frame (``pts`` in samples at the format's rate)."""
        if pts != self._expected:
            self._pts = pts * OPUS_RATE // self.format.sample_rate
        self._expected = pts + len(pcm)
        frame = pcm_to_frame(pcm, self.format.sample_rate, pts)
        frames = [frame] if self._resampler is None else self._resampler.resample(frame)
        packets: list[OpusPacket] = []
        for part in frames:
            part.pts = self._encoded  # time_base is OPUS_TIME_BASE already
            self._encoded += part.samples
            for packet in self._codec.encode(part):
                packet.pts = self._pts
                packet.time_base = OPUS_TIME_BASE
                self._pts += self._packet_samples
                packets.append(packet)
        self.packets += len(packets)
        return packets


class QueuedAudioTrack(MediaStreamTrack):
    """An outgoing audio track fed Opus packets by :meth:`offer` (any thread, never blocks):
    the producer paces, ``recv`` waits for the next packet and aiortc only packs it.  At
    most :data:`QUEUE_FRAMES` wait; beyond that the oldest is dropped (counted in
    :attr:`frames_dropped`)."""

    kind = "audio"

    def __init__(self, *, capacity: int = QUEUE_FRAMES) -> None:
        super().__init__()
        self._packets: LatestWinsMailbox[OpusPacket] = LatestWinsMailbox(capacity)
        self.frames_sent = 0
        self.flowing = False
        #: called once when the track stops (the runtime unsubscribes it there)
        self.on_stop: Callable[[QueuedAudioTrack], None] | None = None

    @property
    def frames_dropped(self) -> int:
        return self._packets.dropped

    def offer(self, packets: list[OpusPacket]) -> None:
        """Queue a burst of packets (any thread): the reader is woken once for all of them."""
        if packets:
            self._packets.put_many(packets)

    def discard_pending(self) -> None:
        with contextlib.suppress(anyio.WouldBlock, anyio.EndOfStream):
            while True:
                self._packets.get_nowait()

    async def recv(self) -> OpusPacket:
        if self.readyState != "live":
            raise MediaStreamError
        try:
            try:  # a batch arrives at once: its later packets need no waiting
                packet = self._packets.get_nowait()
            except anyio.WouldBlock:
                packet = await self._packets.get()
        except anyio.EndOfStream:
            raise MediaStreamError from None
        self.frames_sent += 1
        return packet

    async def recv_batch(self) -> list[OpusPacket]:
        """Every waiting packet, after waiting for the first (the runtime's RTP loop,
        :mod:`.audio_rtp`, sends a burst per wake-up)."""
        first = await self.recv()
        packets = [first, *self._packets.take_all()]
        self.frames_sent += len(packets) - 1
        return packets

    def stop(self) -> None:
        self._packets.close()
        on_stop, self.on_stop = self.on_stop, None
        if on_stop is not None:
            on_stop(self)
        super().stop()


class PausableAudioTrack(PausableTrack):
    """:class:`PausableTrack` for audio: sends nothing while paused."""

    async def recv(self) -> av.AudioFrame | OpusPacket:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        while True:
            await self._resumed.wait()
            frame = await self.source.recv()
            if self._resumed.is_set():
                assert isinstance(frame, av.AudioFrame | av.Packet)
                return frame

    async def recv_batch(self) -> list[OpusPacket]:
        """A burst of the source's packets (its ``recv_batch``) while resumed."""
        if self.readyState != "live":
            raise MediaStreamError
        while True:
            await self._resumed.wait()
            source: Any = self.source  # a QueuedAudioTrack (ServerPeer checks)
            packets: list[OpusPacket] = await source.recv_batch()
            if self._resumed.is_set():
                return packets


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
