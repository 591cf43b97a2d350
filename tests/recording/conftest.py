"""Synthetic frames for the recorder tests: frame ``n`` shows its counter as two grey levels
(low and high nibble), which survive H.264 at any quality we use."""

from __future__ import annotations

import fractions
import io
from typing import Any

import av
import numpy as np

TIME_BASE = fractions.Fraction(1, 90_000)
FPS = 30
WIDTH, HEIGHT = 320, 180


def counter_frame(n: int, *, width: int = WIDTH, height: int = HEIGHT,
                  pts_seconds: float | None = None) -> av.VideoFrame:
    array = np.empty((height, width, 3), np.uint8)
    array[:, : width // 2] = (n % 16) * 16 + 8
    array[:, width // 2:] = (n // 16 % 16) * 16 + 8
    frame = av.VideoFrame.from_ndarray(array, format="rgb24")
    frame.pts = round((n / FPS if pts_seconds is None else pts_seconds) / TIME_BASE)
    frame.time_base = TIME_BASE
    return frame


def read_counter(frame: av.VideoFrame) -> int:
    gray = frame.to_ndarray(format="gray")
    height, width = gray.shape
    low = float(gray[height // 4: 3 * height // 4, width // 8: 3 * width // 8].mean())
    high = float(gray[height // 4: 3 * height // 4, 5 * width // 8: 7 * width // 8].mean())
    return round((high - 8) / 16) * 16 + round((low - 8) / 16)


def decode(data: bytes | str) -> list[tuple[float, int]]:
    """(time in seconds, counter) of every frame of an MP4 (bytes or a path)."""
    source: Any = io.BytesIO(data) if isinstance(data, bytes) else data
    with av.open(source) as container:
        return [(float(frame.time or 0.0), read_counter(frame))
                for frame in container.decode(video=0)]
