"""What the runtime gives a model (:class:`ModelContext`) and a recording stand-in for tests
and offline rendering (:class:`RecordingContext`).  Split from :mod:`.base`, which
re-exports the public names."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

import attrs
import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]
"""An RGB video frame: ``uint8``, shape ``(height, width, 3)``."""
Pcm = npt.NDArray[np.int16]
"""Audio: interleaved ``int16`` PCM, shape ``(samples, channels)``."""


class ModelContext(Protocol):
    """What the runtime gives a model.  Every method is thread-safe and non-blocking."""

    def send(self, type: str, data: Mapping[str, Any], *, to: str | None = None) -> None:
        """Queue an application message to one client id, or to every client."""

    def latest_input(self, track: str) -> Frame | None:
        """The most recent frame of an input track (RGB uint8), or None before the first."""

    def read_audio(self, track: str, samples: int | None = None) -> Pcm:
        """Up to ``samples`` (all, when None) of the PCM received on audio input ``track``
        since the last read, oldest first; empty when none waits."""


@attrs.frozen(kw_only=True)
class SentMessage:
    type: str
    data: Mapping[str, Any]
    to: str | None = None


class RecordingContext:
    """A :class:`ModelContext` for tests and offline rendering: records what is sent and
    serves whatever input frames were set with :meth:`set_input`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: list[SentMessage] = []
        self._inputs: dict[str, Frame] = {}
        self._audio: dict[str, list[Pcm]] = {}

    def send(self, type: str, data: Mapping[str, Any], *, to: str | None = None) -> None:
        with self._lock:
            self._sent.append(SentMessage(type=type, data=dict(data), to=to))

    def latest_input(self, track: str) -> Frame | None:
        with self._lock:
            return self._inputs.get(track)

    def set_input(self, track: str, frame: Frame | None) -> None:
        with self._lock:
            if frame is None:
                self._inputs.pop(track, None)
            else:
                self._inputs[track] = frame

    def push_audio(self, track: str, pcm: Pcm) -> None:
        """Queue received PCM for :meth:`read_audio` (unbounded: a test helper)."""
        with self._lock:
            self._audio.setdefault(track, []).append(pcm)

    def read_audio(self, track: str, samples: int | None = None) -> Pcm:
        with self._lock:
            parts = self._audio.pop(track, [])
        pcm = (np.concatenate(parts) if parts
               else np.zeros((0, 1), dtype=np.int16))
        if samples is not None and len(pcm) > samples:
            with self._lock:
                self._audio.setdefault(track, []).insert(0, pcm[samples:])
            pcm = pcm[:samples]
        return pcm

    def sent(self, type: str | None = None) -> list[SentMessage]:
        """Messages sent so far, oldest first, optionally only those of one type."""
        with self._lock:
            return [m for m in self._sent if type is None or m.type == type]

    def clear(self) -> None:
        with self._lock:
            self._sent.clear()
