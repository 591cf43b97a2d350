"""Decoding reference images and resizing frames, with numpy and PyAV only (no PIL).

:func:`decode_image_b64` is a parser of remote input (the ``image_b64`` argument of Helios'
``set_image``), so it is strict and bounded: base64 is validated, only PNG and JPEG are
accepted (sniffed by magic bytes and decoded with an explicitly chosen decoder, so FFmpeg
never probes formats), and the dimensions are read from the file header and checked *before*
the decoder allocates anything.  Every failure is an :class:`ImageDecodeError`.
"""

from __future__ import annotations

import base64
import binascii
import functools
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from reactor_proto.errors import DecodeError

from .base import Frame

MAX_IMAGE_BYTES = 16 * 1024 * 1024
MAX_IMAGE_SIDE = 8192
MAX_IMAGE_PIXELS = 4096 * 4096

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
# JPEG start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_DATA_URL_MARK = ";base64,"


class ImageDecodeError(DecodeError):
    """An image argument is not a decodable base64 PNG/JPEG within the limits."""


def _fail(field: str, reason: str, value: object = None) -> ImageDecodeError:
    return ImageDecodeError(f"{field}: {reason}", field=field, value=value)


def _png_size(data: bytes, field: str) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise _fail(field, "PNG has no IHDR header")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _jpeg_size(data: bytes, field: str) -> tuple[int, int]:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise _fail(field, f"JPEG marker expected at byte {pos}", data[pos])
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            break  # end of image or start of scan before any frame header
        length = int.from_bytes(data[pos + 2: pos + 4], "big")
        if length < 2:
            raise _fail(field, f"JPEG segment length {length} at byte {pos}", length)
        if marker in _JPEG_SOF:
            if pos + 9 > len(data) or length < 7:
                break
            height = int.from_bytes(data[pos + 5: pos + 7], "big")
            width = int.from_bytes(data[pos + 7: pos + 9], "big")
            return width, height
        pos += 2 + length
    raise _fail(field, "JPEG has no frame header")


def image_size(data: bytes, *, field: str = "image") -> tuple[str, int, int]:
    """(codec, width, height) from the header of a PNG or JPEG file."""
    if data.startswith(PNG_MAGIC):
        codec, (width, height) = "png", _png_size(data, field)
    elif data.startswith(JPEG_MAGIC):
        codec, (width, height) = "mjpeg", _jpeg_size(data, field)
    else:
        raise _fail(field, f"not a PNG or JPEG image (starts with {data[:8]!r})", data[:8])
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE) or (
            width * height > MAX_IMAGE_PIXELS):
        raise _fail(field, f"image size {width}x{height} is outside the limits "
                           f"({MAX_IMAGE_SIDE} per side, {MAX_IMAGE_PIXELS} pixels)",
                    (width, height))
    return codec, width, height


def decode_image_bytes(data: bytes, *, field: str = "image") -> Frame:
    """Decode a PNG or JPEG file to an RGB ``uint8`` array shaped (height, width, 3)."""
    if len(data) > MAX_IMAGE_BYTES:
        raise _fail(field, f"{len(data)} bytes exceeds the limit of {MAX_IMAGE_BYTES}", len(data))
    codec, width, height = image_size(data, field=field)
    try:
        decoder: Any = av.CodecContext.create(codec, "r")
        frames = decoder.decode(av.Packet(data)) or decoder.decode(None)
    except (av.error.FFmpegError, ValueError) as exc:
        raise _fail(field, f"cannot decode the {codec} image ({exc})") from None
    if not frames:  # pragma: no cover - FFmpeg raises instead; kept as a guard
        raise _fail(field, f"the {codec} image holds no complete picture")
    frame = frames[0]
    if (frame.width, frame.height) != (width, height):
        raise _fail(field, f"decoded size {frame.width}x{frame.height} differs from the "
                           f"header's {width}x{height}", (frame.width, frame.height))
    pixels: Frame = frame.to_ndarray(format="rgb24")
    return pixels


def decode_image_b64(text: str, *, field: str = "image_b64") -> Frame:
    """Decode base64 text (optionally a ``data:image/...;base64,`` URL) holding PNG/JPEG."""
    if text.startswith("data:") and _DATA_URL_MARK in text[:100]:
        text = text.split(_DATA_URL_MARK, 1)[1]
    if len(text) > (MAX_IMAGE_BYTES // 3 + 1) * 4 + 1024:
        raise _fail(field, f"{len(text)} characters exceeds the image size limit", len(text))
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _fail(field, f"not valid base64 ({exc})", text[:40]) from None
    return decode_image_bytes(data, field=field)


@functools.lru_cache(maxsize=32)
def _nearest_index(source: int, target: int) -> npt.NDArray[np.intp]:
    return (np.arange(target, dtype=np.intp) * source) // target


def resize_nearest(frame: Frame, height: int, width: int, *, mirror: bool = False) -> Frame:
    """Nearest-neighbour resize to (height, width); ``mirror`` flips left-right for free."""
    rows = _nearest_index(frame.shape[0], height)
    cols = _nearest_index(frame.shape[1], width)
    if mirror:
        cols = cols[::-1]
    if frame.shape[:2] == (height, width) and not mirror:
        return frame.copy()
    resized: Frame = frame.take(rows, axis=0).take(cols, axis=1)
    return resized


def as_rgb(frame: npt.NDArray[np.generic]) -> Frame | None:
    """Coerce grey, grey+channel, RGB or RGBA arrays of any real dtype to RGB ``uint8``.

    Returns None for arrays that are not images at all (wrong rank, empty, 2 channels).
    """
    if frame.ndim == 2:
        frame = frame[:, :, None]
    if frame.ndim != 3 or frame.shape[0] == 0 or frame.shape[1] == 0:
        return None
    channels = frame.shape[2]
    if channels == 1:
        frame = np.repeat(frame, 3, axis=2)
    elif channels == 4:
        frame = frame[:, :, :3]
    elif channels != 3:
        return None
    if frame.dtype != np.uint8:
        if not np.issubdtype(frame.dtype, np.number) or np.issubdtype(frame.dtype,
                                                                      np.complexfloating):
            return None
        frame = np.clip(np.nan_to_num(frame), 0, 255).astype(np.uint8)
    rgb: Frame = np.ascontiguousarray(frame)
    return rgb
