"""Audio beside the recorded video: the runtime's PCM into the recorder, placed on the
video's timeline.

* :class:`AudioFeed` is the tap of the model's first audio output (the audio thread calls
  it with every frame sent and its ``pts`` in samples since the media hub's epoch, the origin
  the video ``due`` times share).  It hands each frame, with its time in the video's clock
  (seconds), to the recorders attached to it, and to one extra tap (``LocalRuntime.tap_audio``).
* :class:`AudioPlacer` keeps the recorded audio contiguous: each frame goes where the video
  timeline says it belongs; within a small tolerance it follows the previous one exactly (an
  AAC track wants no jitter), a larger gap is filled with silence (bounded), and audio that
  falls behind what is already written is cut off.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

Pcm = np.ndarray[Any, Any]
Tap = Callable[[Pcm, int], None]

#: the AAC encoder holds back one frame of 1024 samples: positions start after it, so no
#: audio packet gets a negative timestamp
AAC_DELAY = 1024
#: the most silence written at once when audio has stopped (bounds the array)
MAX_PAD_SECONDS = 30.0


class AudioSink(Protocol):
    def offer_audio(self, pcm: Pcm, seconds: float) -> bool: ...


class AudioFeed:
    """One audio output's frames, to the recorders (any thread)."""

    def __init__(self, track: str, *, sample_rate: int, channels: int, epoch: float) -> None:
        self.track = track
        self.sample_rate = sample_rate
        self.channels = channels
        self.epoch = epoch
        #: a second tap (``LocalRuntime.tap_audio``) called after the recorders
        self.also: Tap | None = None
        self._sinks: list[AudioSink] = []
        self._lock = threading.Lock()

    def attach(self, sink: AudioSink) -> None:
        with self._lock:
            self._sinks.append(sink)

    def detach(self, sink: AudioSink) -> None:
        with self._lock:
            if sink in self._sinks:
                self._sinks.remove(sink)

    def __call__(self, pcm: Pcm, pts: int) -> None:
        seconds = self.epoch + pts / self.sample_rate
        with self._lock:
            sinks = list(self._sinks)
        for sink in sinks:
            sink.offer_audio(pcm, seconds)  # never blocks, never raises
        also = self.also
        if also is not None:
            also(pcm, pts)


def audio_feed(hub: Any) -> AudioFeed | None:
    """The feed of ``hub``'s (a runtime ``MediaHub``) first audio output, installed as that
    output's tap; None when the model has no audio output."""
    for name, fanout in hub.audio.items():
        epoch = min((f.epoch for f in hub.fanouts.values()), default=None)
        if epoch is None:
            return None
        feed = AudioFeed(name, sample_rate=fanout.format.sample_rate,
                         channels=fanout.format.channels, epoch=epoch)
        fanout.tap = feed
        return feed
    return None


def set_tap(hub: Any, feed: AudioFeed | None, track: str, tap: Tap | None) -> None:
    """``LocalRuntime.tap_audio``: beside the recorder's feed when it owns the slot."""
    if feed is not None and feed.track == track:
        feed.also = tap
    else:
        hub.audio[track].tap = tap


class AudioPlacer:
    """Where each frame of audio goes in the recorded track, in samples (see the module)."""

    def __init__(self, sample_rate: int, channels: int, *, max_gap: float,
                 tolerance: float = 0.06) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self.cursor: int | None = None
        self._tolerance = round(tolerance * sample_rate)
        self._max_gap = max(1, round(max_gap * sample_rate))
        self.silence_samples = 0
        self.cut_samples = 0

    def place(self, pcm: Pcm, seconds: float) -> list[tuple[Pcm, int]]:
        """The parts to encode (samples, position) for ``pcm`` that belongs at ``seconds``."""
        pcm = np.ascontiguousarray(pcm, dtype=np.int16).reshape(-1, self.channels)
        target = round(seconds * self.sample_rate)
        if self.cursor is None:
            self.cursor = max(target, AAC_DELAY)
        parts: list[tuple[Pcm, int]] = []
        drift = target - self.cursor
        if drift > self._tolerance:
            parts.extend(self.pad_to(target))
        elif drift < -self._tolerance:
            skip = -drift
            self.cut_samples += min(skip, len(pcm))
            if skip >= len(pcm):
                return parts
            pcm = pcm[skip:]
        if len(pcm):
            parts.append((pcm, self.cursor))
            self.cursor += len(pcm)
        return parts

    def pad_to(self, target: int, *, gap: bool = True) -> list[tuple[Pcm, int]]:
        """Silence from the cursor up to ``target``: at most ``max_gap`` for a ``gap`` in
        flowing audio, else (audio has stopped: catch up with the video) at most
        :data:`MAX_PAD_SECONDS`."""
        if self.cursor is None:  # no audio yet: a gap starts here, a stop from the origin
            self.cursor = max(target, AAC_DELAY) if gap else AAC_DELAY
            if gap:
                return []
        limit = self._max_gap if gap else round(MAX_PAD_SECONDS * self.sample_rate)
        count = min(target - self.cursor, limit)
        if count <= 0:
            return []
        position = self.cursor
        self.cursor += count
        self.silence_samples += count
        return [(np.zeros((count, self.channels), dtype=np.int16), position)]
