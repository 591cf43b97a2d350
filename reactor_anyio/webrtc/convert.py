"""Conversions between aiortc/PyAV video frames and RGB ``uint8`` arrays of shape (H, W, 3).

Where to convert (measured on this machine, PyAV 18, yuv420p -> rgb24, 200 frames each):

=========== ================= ===================================
size        on the event loop run_in_executor (wall, incl. hop)
=========== ================= ===================================
640x360     0.07-0.12 ms      0.07-0.08 ms
1280x720    0.20-0.29 ms      0.09-0.14 ms
=========== ================= ===================================

libswscale is fast enough that below ~0.5 Mpixel the thread hop costs about as much as the
conversion, so small frames are converted on the loop and larger ones in a worker thread
(:func:`convert_off_loop`), which keeps the media loop's per-frame stall near the hop cost.
"""

from __future__ import annotations

import fractions

import av
import numpy as np
import numpy.typing as npt

from reactor_proto.errors import LocalProtocolError

RgbArray = npt.NDArray[np.uint8]

#: frames with at least this many pixels are converted in a worker thread
OFF_LOOP_MIN_PIXELS = 500_000


def convert_off_loop(width: int, height: int) -> bool:
    """Whether converting a ``width`` x ``height`` frame is cheaper off the event loop."""
    return width * height >= OFF_LOOP_MIN_PIXELS


def frame_to_rgb(frame: av.VideoFrame) -> RgbArray:
    """An (H, W, 3) ``uint8`` RGB copy of ``frame``."""
    array = frame.to_ndarray(format="rgb24")
    assert array.dtype == np.uint8
    return array  # type: ignore[return-value]


def check_rgb(array: object, *, field: str = "frame") -> RgbArray:
    """``array`` if it is an (H, W, 3) ``uint8`` array with even H and W (yuv420p needs
    them), else :class:`LocalProtocolError` naming ``field`` and the bad shape or dtype."""
    if not isinstance(array, np.ndarray):
        raise LocalProtocolError(f"{field} must be a numpy array, got {type(array).__name__}")
    if array.dtype != np.uint8:
        raise LocalProtocolError(f"{field}.dtype must be uint8, got {array.dtype}")
    if array.ndim != 3 or array.shape[2] != 3:
        raise LocalProtocolError(f"{field}.shape must be (H, W, 3), got {array.shape!r}")
    height, width = array.shape[0], array.shape[1]
    if height < 2 or width < 2 or height % 2 or width % 2:
        raise LocalProtocolError(f"{field}.shape must have even H and W >= 2, got {array.shape!r}")
    return array


def rgb_to_frame(array: RgbArray, *, pts: int, time_base: fractions.Fraction) -> av.VideoFrame:
    """A PyAV frame of ``array`` (validated by :func:`check_rgb`) stamped ``pts``/``time_base``."""
    frame = av.VideoFrame.from_ndarray(check_rgb(array), format="rgb24")
    frame.pts = pts
    frame.time_base = time_base
    return frame
