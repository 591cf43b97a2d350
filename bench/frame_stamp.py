"""The time stamp the frame-path figure (:mod:`bench.frame_path`) writes into the pixels:
32 bits of the render time as black/white blocks in two complementary rows (a block the
codec smeared is read as ambiguous, never as a wrong bit), and the Helios model that stamps
every frame it produces.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import numpy.typing as npt

from reactor_anyio.models.base import Frame, ModelContext
from reactor_anyio.models.helios import Helios

STAMP_BITS = 32
STAMP_MODULUS = 1 << STAMP_BITS

RgbArray = npt.NDArray[np.uint8]


# ---- the time stamp in the pixels --------------------------------------------------------------


def block_size(width: int) -> int:
    """Blocks are whole macroblocks (multiples of 8 px) and the strip fits the width."""
    return max(8, (width // (STAMP_BITS + 8)) // 8 * 8)


def now_us() -> int:
    return int(time.monotonic() * 1_000_000) % STAMP_MODULUS


def write_stamp(frame: RgbArray, value: int) -> None:
    """Write ``value`` (32 bits) into the top two block rows of ``frame``, in place."""
    size = block_size(frame.shape[1])
    for bit in range(STAMP_BITS):
        on = (value >> (STAMP_BITS - 1 - bit)) & 1
        x = bit * size
        frame[0:size, x:x + size] = 255 if on else 0
        frame[size:2 * size, x:x + size] = 0 if on else 255


def read_stamp(frame: RgbArray) -> int | None:
    """The stamp, or None when a block is ambiguous (the two rows disagree)."""
    size = block_size(frame.shape[1])
    margin = size // 4  # read block centres only: codecs smear the edges
    width = STAMP_BITS * size

    def row_bits(top: int) -> npt.NDArray[np.bool_]:
        band = frame[top + margin:top + size - margin, :width, 1]
        blocks = band.reshape(band.shape[0], STAMP_BITS, size)[:, :, margin:size - margin]
        result: npt.NDArray[np.bool_] = blocks.mean(axis=(0, 2)) > 128
        return result

    first, second = row_bits(0), row_bits(size)
    if bool(np.any(first == second)):
        return None
    value = 0
    for on in first:
        value = (value << 1) | int(on)
    return value


def age_ms(stamp: int, now: int) -> float:
    return ((now - stamp) % STAMP_MODULUS) / 1000


class StampedHelios(Helios):
    """Helios with the render time stamped into every frame (see the module docstring)."""

    name = "helios"

    def __init__(self, ctx: ModelContext, **options: Any) -> None:
        super().__init__(ctx, **options)

    def produce_frame(self, track: str, now: float) -> Frame:
        frame = super().produce_frame(track, now)
        if not frame.flags.writeable:
            frame = frame.copy()
        write_stamp(frame, now_us())
        return frame
