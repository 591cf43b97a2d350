"""A produced frame converted once for everything that encodes it.

Every encoder of a runtime's output track wants ``yuv420p``: aiortc's VP8/H.264 encoders
convert any other format themselves, and so does the recorder's H.264 encoder.  Handing each
of them the model's RGB array made every viewer's encoder and the recorder convert the same
frame again (about 0.26 ms each at 640x360, plus 0.1 ms to copy the RGB array into a frame).
Instead the producer thread converts once (:func:`to_yuv420`) into one contiguous buffer,
and each consumer wraps that buffer in an ``av.VideoFrame`` of its own (:func:`video_frame`,
no copy), so it may set the frame's ``pts`` without racing the others; nobody writes to the
buffer.  A frame with an odd side has no exact ``yuv420p`` buffer of that size and stays RGB.
"""

from __future__ import annotations

from typing import Any

import av
import numpy as np

from reactor_anyio.webrtc.convert import RgbArray

#: what the fan-out hands its consumers: a ``yuv420p`` buffer of shape (H*3/2, W) (rows of Y,
#: then U, then V), or an RGB array (H, W, 3) when a side is odd
Picture = np.ndarray[Any, Any]


def to_yuv420(array: RgbArray) -> Picture:
    """``array`` (RGB, H x W x 3) as one ``yuv420p`` buffer; itself when a side is odd."""
    height, width = array.shape[:2]
    if height % 2 or width % 2:
        return array
    rgb = av.VideoFrame.from_numpy_buffer(np.ascontiguousarray(array), format="rgb24")
    yuv: Picture = rgb.reformat(format="yuv420p").to_ndarray()
    return yuv


def video_frame(picture: Picture) -> av.VideoFrame:
    """A new frame over ``picture`` (a :func:`to_yuv420` result, or an RGB array)."""
    if picture.ndim == 2:
        if (picture.shape[0] * 2 // 3) % 4 == 0:  # wrapped without a copy
            return av.VideoFrame.from_numpy_buffer(picture, format="yuv420p")
        # PyAV 18.1.0 wraps a buffer whose height is 2 mod 4 as a frame 2 rows short (fixed in
        # 18.1.1; we accept av>=12): copy then, which every version gets right
        return av.VideoFrame.from_ndarray(picture, format="yuv420p")
    return av.VideoFrame.from_ndarray(picture, format="rgb24")
