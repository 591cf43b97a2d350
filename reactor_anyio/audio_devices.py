"""Sound devices: play a received audio track (:class:`Speaker`), capture one to send
(:class:`Microphone`); 1.13.0's ``reactor_sdk.audio_devices`` names and behaviour.

The client itself never opens a sound device: received audio goes to your handlers and
sent audio comes from ``push_frame``.  These two classes are the glue for an application
that wants real hardware, through PortAudio with the optional ``sounddevice`` package
(``pip install "reactor-sansio[audio-devices]"``; on Debian PortAudio is ``libportaudio2``)::

    from reactor_anyio.audio_devices import Microphone, Speaker

    speaker_track = reactor.tracks.with_direction("recvonly").with_kind("audio").one()
    mic = await reactor.track("mic").publish()
    with Speaker(speaker_track), Microphone(mic):
        await anyio.sleep(30)

The module is not imported by ``reactor_anyio`` and imports ``sounddevice`` only when a
device is used: without it, ``start()`` raises ``ModuleNotFoundError`` saying what to
install (asking for sound and getting silence would be the worse failure).
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from reactor_proto.client.audio import check_format
from reactor_proto.errors import InvalidStateError

if TYPE_CHECKING:
    from .client.tracks import Track

logger = logging.getLogger(__name__)

#: int16 PCM, the only sample format on the wire
SAMPLE_BYTES = 2
#: audio waiting to be played at most: more means the device is behind, and the oldest
#: goes (latency you would hear as delay is worse than a skip)
MAX_BUFFER_MS = 300
#: collected before playback starts, and again after the buffer ran dry: the device asks
#: for audio as soon as it opens, and playing on at the edge of an empty buffer turns
#: every bit of jitter into a click
PREROLL_MS = 60
#: audio per capture block (what one push carries)
CAPTURE_BLOCK_MS = 10


def _sounddevice() -> Any:
    """``sounddevice``, or a ModuleNotFoundError naming what to install."""
    try:
        import sounddevice  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "reactor_anyio.audio_devices needs the optional 'sounddevice' package (and "
            "PortAudio): pip install \"reactor-sansio[audio-devices]\"; on Debian also "
            "apt-get install libportaudio2") from exc
    except OSError as exc:  # sounddevice is there, the PortAudio library is not
        raise ModuleNotFoundError(f"sounddevice could not load PortAudio ({exc}): on "
                                  "Debian, apt-get install libportaudio2") from exc
    return sounddevice


def _pcm_bytes(pcm: Any) -> bytes:
    if isinstance(pcm, bytes | bytearray | memoryview):
        return bytes(pcm)
    array = np.asarray(pcm)
    if array.dtype != np.int16:
        raise TypeError(f"Speaker.submit: expected int16 PCM, got {array.dtype}")
    return np.ascontiguousarray(array, dtype="<i2").tobytes()


class Speaker:
    """Plays a recvonly audio track (or what you :meth:`submit`) on an output device.

    With a track it registers itself as the track's frame handler on :meth:`start`; without
    one you feed it.  The device opens on the first PCM, whose rate and channel count it
    takes; PCM in another format afterwards is ignored (logged).  Between arrival and the
    device sits a jitter buffer: :data:`PREROLL_MS` collected before playing (and after an
    under-run), at most :data:`MAX_BUFFER_MS` waiting (the oldest is dropped beyond it,
    counted in :attr:`dropped_ms`).  ``device`` is ``sounddevice``'s: an index or part of
    a name; None for the default.
    """

    def __init__(self, track: Track | None = None, *, device: int | str | None = None) -> None:
        self._track = track
        self._device = device
        # one FIFO of bytes: the device takes blocks of its own size, which never line up
        # with the chunks that arrive, and a byte FIFO has no remainder to put back
        self._fifo = bytearray()
        self._fifo_lock = threading.Lock()  # taken on PortAudio's thread: never held long
        # the open/close sequence; separate, since opening calls into PortAudio, whose
        # thread may already be waiting for the FIFO lock in a first callback
        self._life_lock = threading.Lock()
        self._stream: Any = None
        self._format: tuple[int, int] | None = None
        self._frame_bytes = 0
        self._max_bytes = 0
        self._preroll_bytes = 0
        self._playing = False
        self._dropped_bytes = 0
        self._under_runs = 0
        self._closed = False

    # ---- lifecycle -----------------------------------------------------------------

    def start(self) -> Speaker:
        """Attach to the track, if one was given; returns the speaker.  Raises here when
        ``sounddevice`` or PortAudio is missing, not later on a media thread."""
        _sounddevice()
        if self._track is not None:
            self._track.on_frame(self._on_frame)
        return self

    def stop(self) -> None:
        """Detach and close the device; safe to call again."""
        with self._life_lock:
            self._closed = True
            stream, self._stream = self._stream, None
        if self._track is not None:
            self._track.off_frame()
        if stream is not None:  # outside the lock: closing waits for PortAudio's thread
            try:
                stream.stop()
                stream.close()
            except Exception:
                logger.debug("closing the output device failed", exc_info=True)
        if self._dropped_bytes or self._under_runs:
            logger.info("speaker: %d ms dropped, %d under-run(s)", self.dropped_ms,
                        self._under_runs)

    def __enter__(self) -> Speaker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ---- counters ------------------------------------------------------------------

    @property
    def dropped_ms(self) -> int:
        """Audio thrown away because the device fell behind, in milliseconds."""
        if self._format is None:
            return 0
        return self._dropped_bytes * 1000 // (self._format[0] * self._frame_bytes)

    @property
    def under_runs(self) -> int:
        """How often the buffer ran dry while playing (silence filled the gap)."""
        return self._under_runs

    # ---- feeding -------------------------------------------------------------------

    def _on_frame(self, frame: Any, sample_rate: int, num_channels: int) -> None:
        self.submit(frame, sample_rate, num_channels)

    def submit(self, pcm: Any, sample_rate: int, channels: int) -> None:
        """Queue interleaved int16 PCM (bytes, or an ``(n,)`` / ``(n, channels)`` array)
        for playback; the first call opens the device.  Never blocks for long."""
        fmt = check_format(sample_rate, channels)
        data = _pcm_bytes(pcm)
        with self._life_lock:
            if self._closed:
                return
            if self._format is None:
                self._open(fmt.sample_rate, fmt.num_channels)
                if self._stream is None:
                    return
            elif self._format != (fmt.sample_rate, fmt.num_channels):
                logger.warning("speaker: ignoring %s Hz x %s audio, the device plays %s",
                               sample_rate, channels, self._format)
                return
        with self._fifo_lock:
            self._fifo += data
            excess = len(self._fifo) - self._max_bytes
            if excess > 0:  # the device is behind: keep the newest
                excess += (-excess) % self._frame_bytes
                del self._fifo[:excess]
                self._dropped_bytes += excess

    # ---- the device ----------------------------------------------------------------

    def _open(self, sample_rate: int, channels: int) -> None:
        sd = _sounddevice()
        self._format = (sample_rate, channels)
        self._frame_bytes = channels * SAMPLE_BYTES
        self._max_bytes = sample_rate * MAX_BUFFER_MS // 1000 * self._frame_bytes
        self._preroll_bytes = sample_rate * PREROLL_MS // 1000 * self._frame_bytes
        try:
            stream = sd.RawOutputStream(samplerate=sample_rate, channels=channels,
                                        dtype="int16", device=self._device,
                                        callback=self._fill)
            stream.start()
        except Exception:
            # no device, or one that refuses the format: the session is not ours to end
            logger.warning("speaker: could not open the output device", exc_info=True)
            self._closed = True
            return
        self._stream = stream
        logger.info("speaker: playing %d Hz x %d", sample_rate, channels)

    def _fill(self, out: Any, frames: int, _time: Any, status: Any) -> None:
        """The device's next block (PortAudio's thread, on a deadline)."""
        if status:
            logger.debug("speaker: %s", status)
        wanted = frames * self._frame_bytes
        with self._fifo_lock:
            if not self._playing and len(self._fifo) < self._preroll_bytes:
                block = bytes(wanted)
            elif len(self._fifo) < wanted:  # ran dry: play what is left, then re-preroll
                self._playing = False
                self._under_runs += 1
                block = bytes(self._fifo) + bytes(wanted - len(self._fifo))
                self._fifo.clear()
            else:
                self._playing = True
                block = bytes(self._fifo[:wanted])
                del self._fifo[:wanted]
        out[:] = block


class Microphone:
    """Captures an input device into a published sendonly audio track.

    Capture runs on PortAudio's thread and pushes each :data:`CAPTURE_BLOCK_MS` block
    straight into the track (``push_frame`` is thread-safe), so neither side waits for the
    other.  ``sample_rate`` (8-48 kHz) and ``channels`` (1 or 2) are what the device is
    opened with; the track resamples to what it sends.  A stepped session takes audio per
    step: push it with ``push_frame`` there (``start()`` raises ``InvalidStateError``).
    """

    def __init__(self, track: Track, *, sample_rate: int = 48_000, channels: int = 1,
                 device: int | str | None = None) -> None:
        check_format(sample_rate, channels)
        self._track = track
        self._sample_rate = sample_rate
        self._channels = channels
        self._device = device
        self._stream: Any = None
        self._blocks = 0

    def start(self) -> Microphone:
        """Open the input device and start pushing; returns the microphone."""
        sd = _sounddevice()
        reactor = self._track._reactor
        if reactor.generation == "stepped":
            raise InvalidStateError(f"Microphone({self._track.name!r}): a stepped session "
                                    "takes audio per step; push it with push_frame()")
        stream = sd.RawInputStream(samplerate=self._sample_rate, channels=self._channels,
                                   dtype="int16", device=self._device,
                                   blocksize=self._sample_rate * CAPTURE_BLOCK_MS // 1000,
                                   callback=self._captured)
        stream.start()
        self._stream = stream
        logger.info("microphone: %d Hz x %d into %r", self._sample_rate, self._channels,
                    self._track.name)
        return self

    def stop(self) -> None:
        """Close the input device; safe to call again."""
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:
                logger.debug("closing the input device failed", exc_info=True)
            logger.info("microphone: closed after %d block(s)", self._blocks)

    def __enter__(self) -> Microphone:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def blocks_sent(self) -> int:
        """Capture blocks pushed so far."""
        return self._blocks

    def _captured(self, data: Any, _frames: int, _time: Any, status: Any) -> None:
        """One captured block (PortAudio's thread)."""
        if status:
            logger.debug("microphone: %s", status)
        pcm = np.frombuffer(bytes(data), dtype="<i2").reshape(-1, self._channels)
        try:
            self._track.push_frame(pcm, sample_rate=self._sample_rate,
                                   num_channels=self._channels)
        except Exception:  # the track went away (unpublished, disconnected)
            logger.debug("microphone: push failed", exc_info=True)
            return
        self._blocks += 1
