"""Audio policy of the client: what PCM it accepts, how much it buffers, what it drops.

Pure bookkeeping over sample and frame *counts*: the adapters own the arrays (numpy, PyAV)
and perform what these objects decide, so the rules are the same under asyncio and trio and
are property-tested without a network.

* :func:`check_format` / :func:`check_layout` validate a push before anything is queued and
  raise :class:`AudioFormatError` naming the argument that was wrong.
* :class:`DropOldestBuffer` holds received frames: audio is not latest-wins (every frame
  matters while the consumer keeps up), but it is bounded: when full the *oldest* frame
  goes, and is counted.
* :class:`SendBudget` meters pushed samples waiting to be encoded: at most ``capacity``
  samples wait (the oldest are dropped and counted), and they leave in whole
  :func:`frame_samples` frames, one per packetisation interval.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

import attrs

from ..errors import LocalProtocolError

T = TypeVar("T")

#: Rates a pushed track may use (the ones the official SDK accepts too).
SUPPORTED_SAMPLE_RATES: tuple[int, ...] = (8000, 16000, 24000, 32000, 44100, 48000)
SUPPORTED_CHANNELS: tuple[int, ...] = (1, 2)
#: Opus on WebRTC always runs at 48 kHz: pushed audio is resampled to it.
OPUS_SAMPLE_RATE = 48_000
#: One packetisation interval (RFC 7587 default ptime).
FRAME_MS = 20
#: Received frames kept for a consumer that falls behind (1 s of 20 ms frames).
DEFAULT_RECEIVE_FRAMES = 50
#: Pushed audio that may wait to be sent, in milliseconds, before the oldest is dropped.
DEFAULT_SEND_BUFFER_MS = 2000
#: A send queue whose lowest level over this many frames (1 s) stays above
#: :data:`STANDING_SLACK_FRAMES` is trimmed down to it (:meth:`SendBudget.settle`).
STANDING_WINDOW_FRAMES = 50
STANDING_SLACK_FRAMES = 2
#: Sample types a push may carry: int16 as is, floats in [-1, 1] (scaled, clipped).
PCM_DTYPES: tuple[str, ...] = ("int16", "float32", "float64")


class AudioFormatError(LocalProtocolError):
    """A push the client cannot send: ``field`` names the argument that was wrong."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@attrs.frozen(kw_only=True)
class PcmFormat:
    sample_rate: int
    num_channels: int


@attrs.frozen(kw_only=True)
class PcmLayout:
    """A validated push: its format and how many samples per channel it carries."""

    format: PcmFormat
    samples: int
    #: the samples are floats to be scaled to int16
    scale: bool


def check_format(sample_rate: object, num_channels: object) -> PcmFormat:
    """The format of a push, or :class:`AudioFormatError` naming the bad argument."""
    if isinstance(sample_rate, bool) or sample_rate not in SUPPORTED_SAMPLE_RATES:
        raise AudioFormatError(
            f"sample_rate must be one of {SUPPORTED_SAMPLE_RATES} Hz, got {sample_rate!r}",
            field="sample_rate")
    if isinstance(num_channels, bool) or num_channels not in SUPPORTED_CHANNELS:
        raise AudioFormatError(
            f"num_channels must be 1 (mono) or 2 (stereo), got {num_channels!r}",
            field="num_channels")
    assert isinstance(sample_rate, int) and isinstance(num_channels, int)
    return PcmFormat(sample_rate=sample_rate, num_channels=num_channels)


def check_layout(*, dtype: str, shape: tuple[int, ...], fmt: PcmFormat,
                 finite: bool = True, field: str = "pcm") -> PcmLayout:
    """Validate a push's array: ``dtype`` one of :data:`PCM_DTYPES`; ``shape`` ``(n,)``
    interleaved or ``(n, num_channels)``; ``finite`` False when it holds NaN or infinity.
    Raises :class:`AudioFormatError` naming ``field`` and what was wrong."""
    if dtype not in PCM_DTYPES:
        raise AudioFormatError(f"{field} must be an int16 array (or float in [-1, 1]), "
                               f"got dtype {dtype}", field=field)
    channels = fmt.num_channels
    if len(shape) == 1:
        if shape[0] % channels:
            raise AudioFormatError(
                f"{field} has {shape[0]} interleaved values, not a multiple of "
                f"num_channels={channels}", field=field)
        samples = shape[0] // channels
    elif len(shape) == 2:
        if shape[1] != channels:
            raise AudioFormatError(
                f"{field} has shape {shape}: expected (samples, {channels}) for "
                f"num_channels={channels}", field=field)
        samples = shape[0]
    else:
        raise AudioFormatError(f"{field} must be 1-D interleaved or (samples, channels), got "
                               f"shape {shape}", field=field)
    if not finite:
        raise AudioFormatError(f"{field} contains NaN or infinite samples", field=field)
    return PcmLayout(format=fmt, samples=samples, scale=dtype != "int16")


def frame_samples(sample_rate: int, frame_ms: int = FRAME_MS) -> int:
    """Samples per channel in one ``frame_ms`` frame (882 at 44.1 kHz, 960 at 48 kHz)."""
    return sample_rate * frame_ms // 1000


def media_time_us(pts: int, sample_rate: int, first_pts: int) -> int:
    """Microseconds of media time since the track's first frame (RTP clock, so a gap in
    the stream shows as a jump)."""
    return (pts - first_pts) * 1_000_000 // sample_rate


class DropOldestBuffer(Generic[T]):
    """At most ``capacity`` items; putting into a full buffer drops the oldest (counted).

    Accounting: ``accepted == taken + dropped + len(self)`` at all times."""

    def __init__(self, capacity: int = DEFAULT_RECEIVE_FRAMES) -> None:
        if capacity < 1:
            raise LocalProtocolError(f"audio buffer capacity must be >= 1: {capacity!r}")
        self.capacity = capacity
        self._items: deque[T] = deque()
        self.accepted = 0
        self.taken = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> int:
        """Store ``item``; returns how many old items it pushed out (0 or 1)."""
        dropped = 0
        if len(self._items) >= self.capacity:
            self._items.popleft()
            dropped = 1
        self._items.append(item)
        self.accepted += 1
        self.dropped += dropped
        return dropped

    def take(self) -> T | None:
        """The oldest item, or ``None`` when empty."""
        if not self._items:
            return None
        self.taken += 1
        return self._items.popleft()

    def discard_all(self) -> int:
        """Drop everything held (counted); returns how many."""
        count = len(self._items)
        self._items.clear()
        self.dropped += count
        return count


@attrs.frozen(kw_only=True)
class Admission:
    """What to do with a push: drop ``drop_queued`` samples from the head of the queue, then
    skip the first ``skip_incoming`` samples of the push and queue the rest."""

    drop_queued: int
    skip_incoming: int


class SendBudget:
    """Samples (per channel, at the send rate) waiting to be encoded, bounded.

    The adapter keeps the arrays; this decides.  :meth:`admit` makes room for a push by
    dropping the oldest waiting samples (and, for a push longer than the whole budget, the
    push's own oldest ones); :meth:`take_frame` says whether a whole frame is ready.
    Accounting: ``pushed == sent + dropped + queued``."""

    def __init__(self, *, sample_rate: int = OPUS_SAMPLE_RATE,
                 capacity_ms: int = DEFAULT_SEND_BUFFER_MS, frame_ms: int = FRAME_MS,
                 window_frames: int = STANDING_WINDOW_FRAMES,
                 slack_frames: int = STANDING_SLACK_FRAMES) -> None:
        if capacity_ms < frame_ms:
            raise AudioFormatError(f"buffer_ms must be at least one frame ({frame_ms} ms), "
                                   f"got {capacity_ms!r}", field="buffer_ms")
        self.frame = frame_samples(sample_rate, frame_ms)
        self.capacity = sample_rate * capacity_ms // 1000
        self.window_frames = max(1, window_frames)
        self.slack = max(0, slack_frames) * self.frame
        self.queued = 0
        self.pushed = 0
        self.sent = 0
        self.dropped = 0
        #: of ``dropped``: samples trimmed from a standing queue (see :meth:`settle`)
        self.trimmed = 0
        self._window_ticks = 0
        self._window_min: int | None = None

    def settle(self) -> int:
        """Call once per frame interval, before :meth:`take_frame`; returns how many of the
        oldest waiting samples to drop.

        A queue that never empties is latency and nothing else: if pushes got ahead of the
        sender (they started before it did, or the sender stalled), everything pushed since
        is late by that much, for good.  So when the *smallest* level over a whole window
        stays above ``slack``, the excess goes.  A bursty producer (a 500 ms chunk every
        500 ms) empties the queue inside each window and loses nothing."""
        level = self.queued if self._window_min is None else min(self._window_min, self.queued)
        self._window_min = level
        self._window_ticks += 1
        if self._window_ticks < self.window_frames:
            return 0
        self._window_ticks, self._window_min = 0, None
        excess = max(0, level - self.slack)
        self.queued -= excess
        self.dropped += excess
        self.trimmed += excess
        return excess

    def admit(self, incoming: int) -> Admission:
        if incoming < 0:
            raise LocalProtocolError(f"admit(incoming) must be >= 0: {incoming!r}")
        skip = max(0, incoming - self.capacity)
        keep = incoming - skip
        drop = max(0, self.queued + keep - self.capacity)
        self.pushed += incoming
        self.dropped += skip + drop
        self.queued += keep - drop
        return Admission(drop_queued=drop, skip_incoming=skip)

    def take_frame(self) -> bool:
        """True (and the frame leaves the queue) when a whole frame is waiting."""
        if self.queued < self.frame:
            return False
        self.queued -= self.frame
        self.sent += self.frame
        return True

    def take_partial(self) -> int:
        """Let a partial frame go (the adapter pads it with silence); returns its size."""
        count, self.queued = self.queued, 0
        self.sent += count
        return count

    def clear(self) -> int:
        """Drop whatever waits (counted); returns how many samples."""
        count, self.queued = self.queued, 0
        self.dropped += count
        return count

