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
A receiver normally needs neither: it converts in aiortc's decoder thread, as each frame is
decoded (:mod:`.receiver`), so the event loop never pays for it and no extra hop is made.

A consumer picks the pixel format it works in (:data:`PIXEL_FORMATS`): one conversion per
frame, straight from the decoder's ``yuv420p`` to what the consumer uses (``bgr24`` for
OpenCV, ``gray``, the ``yuv420p`` planes as one (H*3/2, W) array, or the decoded
``av.VideoFrame`` itself with no conversion at all).
"""

from __future__ import annotations

import fractions
from typing import TYPE_CHECKING, Any, TypeAlias

import av
import numpy as np

from reactor_proto.errors import LocalProtocolError

if TYPE_CHECKING:
    import numpy.typing as npt

RgbArray: TypeAlias = "npt.NDArray[np.uint8]"

#: what a frame consumer may ask for; "frame" is the decoded ``av.VideoFrame`` unconverted
PIXEL_FORMATS: tuple[str, ...] = ("rgb24", "bgr24", "gray", "yuv420p", "frame")
DEFAULT_PIXEL_FORMAT = "rgb24"


class PixelFormatError(LocalProtocolError):
    """A pixel format the frame path does not offer (see :data:`PIXEL_FORMATS`)."""


def check_pixel_format(value: object, *, field: str = "pixel_format") -> str:
    """``value`` if it is one of :data:`PIXEL_FORMATS`, else :class:`PixelFormatError`."""
    if not isinstance(value, str) or value not in PIXEL_FORMATS:
        raise PixelFormatError(f"{field} must be one of {PIXEL_FORMATS}, got {value!r}")
    return value


#: libswscale threads per conversion.  Its default (0: one per core) splits every frame
#: into slices for a thread pool; at these sizes waking the pool costs more CPU than it
#: saves (2 cores, yuv420p -> rgb24: 640x360 0.20-0.26 -> 0.16 ms per frame, 1280x720
#: about even) and the wall time hardly moves (+0.09 ms at 1280x720, -0.02 ms at 640x360).
SWS_THREADS = 1


def convert_frame(frame: av.VideoFrame, pixel_format: str) -> Any:
    """``frame`` in ``pixel_format`` (checked by :func:`check_pixel_format` beforehand): a
    new ``uint8`` array, or ``frame`` itself for ``"frame"``."""
    if pixel_format == "frame":
        return frame
    return frame.to_ndarray(format=pixel_format, threads=SWS_THREADS)

#: frames with at least this many pixels are converted in a worker thread
OFF_LOOP_MIN_PIXELS = 500_000


def convert_off_loop(width: int, height: int) -> bool:
    """Whether converting a ``width`` x ``height`` frame is cheaper off the event loop."""
    return width * height >= OFF_LOOP_MIN_PIXELS


def frame_to_rgb(frame: av.VideoFrame) -> RgbArray:
    """An (H, W, 3) ``uint8`` RGB copy of ``frame``."""
    array = frame.to_ndarray(format="rgb24", threads=SWS_THREADS)
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
