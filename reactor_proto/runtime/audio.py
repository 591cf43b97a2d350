"""Audio policy of the runtime: when a frame of a model's audio is due, what becomes of
what the model returned, and how much received audio waits for the model (sans-IO).

The adapter owns the samples (numpy arrays, aiortc frames); this module only sees their
counts and a description of each chunk a model returned, and decides:

* :class:`AudioClock`: the deadline and ``pts`` (samples on the audio clock, counted from an
  ``epoch`` the video clock shares, so a receiver can line the two up) of every frame.  A
  producer more than ``max_lag`` late jumps to the present (the skipped frames are counted)
  instead of bursting to catch up.
* :class:`AudioConformer`: every frame sent is exactly ``frame_samples`` long whatever the
  model does.  A chunk that is too short is topped up by asking again (at most
  ``max_calls`` times per frame) and then padded with silence; one too long is kept up to
  ``max_buffered`` samples and the rest dropped; a chunk of the wrong dtype or shape or
  with NaN/infinite samples is refused.  Every case is counted in :class:`AudioStats`.
* :class:`AudioInbox`: received audio waits for the model in a buffer of at most
  ``capacity`` samples; what does not fit pushes the oldest samples out (counted).

Nothing here blocks, and nothing grows without bound: a misbehaving model costs at most a
few calls per 20 ms frame and never stalls the video produced beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import attrs

from ..errors import LocalProtocolError

#: Opus over RTP always runs on a 48 kHz clock (RFC 7587 §4.1)
AUDIO_CLOCK_RATE = 48_000
#: the rates a model may declare (those the official SDKs accept for audio)
SUPPORTED_RATES: tuple[int, ...] = (8000, 16000, 24000, 32000, 44100, 48000)
#: frame (and Opus packet) durations: 20 ms by default; longer frames cost fewer packets
#: and wake-ups per second, for that much more latency
FRAME_MS: tuple[int, ...] = (10, 20, 40, 60)
#: dtypes the adapter converts (floats in [-1, 1] are scaled); everything else is refused
FLOAT_DTYPES: tuple[str, ...] = ("float32", "float64")
PCM_DTYPE = "int16"

# why a chunk was refused (keys of AudioStats.refused)
DTYPE = "dtype"
SHAPE = "shape"
NON_FINITE = "non_finite"
ERROR = "error"
NONE = "none"


def _rate(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value not in SUPPORTED_RATES:
        raise LocalProtocolError(f"audio {attribute.name}: {value!r} is not one of "
                                 f"{', '.join(map(str, SUPPORTED_RATES))}")


def _channels(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value not in (1, 2):
        raise LocalProtocolError(f"audio channels: expected 1 or 2, got {value!r}")


def _frame_ms(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value not in FRAME_MS:
        raise LocalProtocolError(f"audio frame_ms: expected one of "
                                 f"{', '.join(map(str, FRAME_MS))}, got {value!r}")


@attrs.frozen(kw_only=True)
class AudioFormat:
    """PCM as a model produces or receives it: interleaved ``int16`` ``(samples, channels)``."""

    sample_rate: int = attrs.field(default=AUDIO_CLOCK_RATE, validator=_rate)
    channels: int = attrs.field(default=1, validator=_channels)
    frame_ms: int = attrs.field(default=20, validator=_frame_ms)

    @property
    def frame_samples(self) -> int:
        """Samples per channel in one frame (960 at 48 kHz and 20 ms; 441 at 44.1/10)."""
        return self.sample_rate * self.frame_ms // 1000

    @property
    def frame_period(self) -> float:
        return self.frame_samples / self.sample_rate


# ---- pacing -------------------------------------------------------------------------------


class AudioClock:
    """Frame deadlines on the audio clock.  ``pts`` counts samples since ``epoch``, so a
    park (nobody listening) or a skip leaves a gap in time, as real time passed."""

    def __init__(self, fmt: AudioFormat, *, epoch: float, max_lag: float = 0.1) -> None:
        if not max_lag > 0:
            raise LocalProtocolError(f"AudioClock.max_lag must be > 0: {max_lag!r}")
        self.format = fmt
        self.epoch = epoch
        self.max_lag = max_lag
        self._index: int | None = None
        self.frames = 0
        self.skipped_frames = 0
        self.restarts = 0

    def _index_at(self, now: float) -> int:
        # the first frame boundary at or after ``now``
        return max(0, math.ceil((now - self.epoch) / self.format.frame_period - 1e-9))

    def deadline(self, now: float) -> float:
        """When the next frame is due; (re)starts the schedule after a park."""
        if self._index is None:
            self._index = self._index_at(now)
            self.restarts += 1
        return self.epoch + self._index * self.format.frame_period

    def take(self, now: float) -> int:
        """The ``pts`` of the frame due now; advances the schedule, skipping ahead (counted)
        when the producer fell more than ``max_lag`` behind."""
        due = self.deadline(now)
        assert self._index is not None
        if now - due > self.max_lag:
            current = self._index_at(now) - 1
            self.skipped_frames += current - self._index
            self._index = current
        pts = self._index * self.format.frame_samples
        self._index += 1
        self.frames += 1
        return pts

    def park(self) -> None:
        """Nobody consumes: the next :meth:`deadline` restarts from its ``now``."""
        self._index = None


# ---- conforming what a model returned -----------------------------------------------------


@attrs.frozen(kw_only=True)
class ChunkInfo:
    """What the adapter observed about one chunk a model returned."""

    dtype: str
    shape: tuple[int, ...]
    #: False when a float chunk holds NaN or an infinity (int16 is always finite)
    finite: bool = True


@attrs.frozen(kw_only=True)
class ChunkVerdict:
    """What to do with a chunk: append its first ``keep`` samples (converting floats to
    int16 first when ``convert``), drop the ``drop`` after them; ``refused`` names why
    the whole chunk was refused."""

    keep: int = 0
    drop: int = 0
    convert: bool = False
    refused: str | None = None


@attrs.frozen(kw_only=True)
class FrameCut:
    """One outgoing frame: ``take`` buffered samples followed by ``pad`` samples of silence."""

    take: int
    pad: int


@attrs.frozen(kw_only=True)
class AudioStats:
    frames: int = 0
    chunks: int = 0
    #: frames that needed silence at the end (the model gave too little in time)
    underruns: int = 0
    padded_samples: int = 0
    #: samples past the buffer bound, dropped (the model gave too much)
    dropped_samples: int = 0
    #: refused chunks by reason (dtype, shape, non_finite, error, none)
    refused: Mapping[str, int] = attrs.field(factory=dict)


class AudioConformer:
    """Turns whatever a model returns into exact frames; see the module docstring."""

    def __init__(self, fmt: AudioFormat, *, max_calls: int = 4,
                 max_buffered: int | None = None) -> None:
        frame = fmt.frame_samples
        limit = 5 * frame if max_buffered is None else max_buffered
        if max_calls < 1 or limit < frame:
            raise LocalProtocolError(
                f"AudioConformer: max_calls >= 1 and max_buffered >= {frame} required, got "
                f"{max_calls!r} and {limit!r}")
        self.format = fmt
        self.max_calls = max_calls
        self.max_buffered = limit
        self.buffered = 0
        self._frames = self._chunks = self._underruns = 0
        self._padded = self._dropped = 0
        self._refused: dict[str, int] = {}

    def wants_chunk(self, calls: int) -> bool:
        """Whether to ask the model (again) before cutting the frame: less than a frame
        is buffered and this frame has not used up its ``max_calls``."""
        return self.buffered < self.format.frame_samples and calls < self.max_calls

    def _refuse(self, reason: str) -> ChunkVerdict:
        self._refused[reason] = self._refused.get(reason, 0) + 1
        return ChunkVerdict(refused=reason)

    def failed(self) -> ChunkVerdict:
        """The model raised instead of returning a chunk."""
        self._chunks += 1
        return self._refuse(ERROR)

    def judge(self, chunk: ChunkInfo | None) -> ChunkVerdict:
        """The verdict on one returned chunk (``None``: the model returned nothing)."""
        self._chunks += 1
        if chunk is None:
            return self._refuse(NONE)
        if chunk.dtype != PCM_DTYPE and chunk.dtype not in FLOAT_DTYPES:
            return self._refuse(DTYPE)
        channels = self.format.channels
        shape = chunk.shape
        if not (shape[1:] == (channels,) or (channels == 1 and len(shape) == 1)):
            return self._refuse(SHAPE)
        if not chunk.finite:
            return self._refuse(NON_FINITE)
        samples = shape[0]
        keep = min(samples, self.max_buffered - self.buffered)
        self.buffered += keep
        self._dropped += samples - keep
        return ChunkVerdict(keep=keep, drop=samples - keep,
                            convert=chunk.dtype != PCM_DTYPE)

    def cut(self) -> FrameCut:
        """The next frame: what is buffered (up to a frame), topped up with silence."""
        frame = self.format.frame_samples
        take = min(self.buffered, frame)
        self.buffered -= take
        pad = frame - take
        self._frames += 1
        if pad:
            self._underruns += 1
            self._padded += pad
        return FrameCut(take=take, pad=pad)

    def flush(self) -> int:
        """Forget what is buffered (the track parked: it would be stale); the count."""
        dropped, self.buffered = self.buffered, 0
        return dropped

    @property
    def stats(self) -> AudioStats:
        return AudioStats(frames=self._frames, chunks=self._chunks, underruns=self._underruns,
                          padded_samples=self._padded, dropped_samples=self._dropped,
                          refused=dict(self._refused))


# ---- received audio waiting for the model -------------------------------------------------


class AudioInbox:
    """The bound on received audio not yet read by the model (drop the oldest)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise LocalProtocolError(f"AudioInbox.capacity must be >= 1: {capacity!r}")
        self.capacity = capacity
        self.buffered = 0
        self.received = 0
        self.dropped = 0

    def admit(self, samples: int) -> int:
        """``samples`` arrived; returns how many of the oldest buffered (the arrival's
        own head included, when it alone is over capacity) to drop so it fits."""
        if samples < 0:
            raise LocalProtocolError(f"AudioInbox.admit: negative count {samples!r}")
        self.received += samples
        over = max(0, self.buffered + samples - self.capacity)
        self.buffered += samples - over
        self.dropped += over
        return over

    def take(self, wanted: int | None = None) -> int:
        """How many samples the model reads now (all of them when ``wanted`` is None)."""
        count = self.buffered if wanted is None else max(0, min(wanted, self.buffered))
        self.buffered -= count
        return count

    def clear(self) -> int:
        """The publisher went away: forget what waits; the count dropped."""
        dropped, self.buffered = self.buffered, 0
        self.dropped += dropped
        return dropped
