"""Fuzz the reference-image parser behind Helios' ``set_image`` (models/images.py).

Oracle: decoding succeeds with an RGB uint8 image within the limits, or raises
:class:`ImageDecodeError`.  Differential checks: the raw-bytes path and the base64 path must
agree, and Helios' ``set_image`` must answer ``image_set`` with the decoded size exactly when
decoding succeeds, and an ``error`` event otherwise.
"""

from __future__ import annotations

import base64
import contextlib
from typing import Any

import av
import numpy as np

try:  # coverage feedback for atheris even without FUZZ_INSTRUMENT_ALL
    import atheris

    _instrumented: Any = atheris.instrument_imports(include=["reactor_anyio.models"])
except ImportError:  # pragma: no cover - the fallback mutation loop needs no feedback
    _instrumented = contextlib.nullcontext()

with _instrumented:
    from reactor_anyio.models import Helios, RecordingContext
    from reactor_anyio.models.images import (
        MAX_IMAGE_PIXELS,
        ImageDecodeError,
        decode_image_b64,
        decode_image_bytes,
    )

ACCEPTED = (ImageDecodeError,)

av.logging.set_level(None)  # FFmpeg's own complaints about garbage are expected here
_CTX = RecordingContext()
_HELIOS = Helios(_CTX, width=64, height=36)


def _decode(data: bytes) -> np.ndarray | None:
    try:
        return decode_image_bytes(data)
    except ImageDecodeError:
        return None


def one_input(data: bytes) -> None:
    pixels = _decode(data)
    if pixels is not None:
        assert pixels.dtype == np.uint8
        assert pixels.ndim == 3
        assert pixels.shape[2] == 3
        assert pixels.shape[0] * pixels.shape[1] <= MAX_IMAGE_PIXELS
    text = base64.b64encode(data).decode()
    try:
        via_b64 = decode_image_b64(text)
    except ImageDecodeError:
        via_b64 = None
    assert (pixels is None) == (via_b64 is None)
    assert pixels is None or (via_b64 is not None and np.array_equal(pixels, via_b64))
    _CTX.clear()
    _HELIOS.dispatch("set_image", {"image_b64": text, "transition": "cut"})
    (event,) = [dict(m.data) for m in _CTX.sent("event")]
    if pixels is None:
        assert event["event"] == "error"
    else:
        assert event == {"event": "image_set", "width": pixels.shape[1],
                         "height": pixels.shape[0], "transition": "cut"}
        frame = _HELIOS.produce_frame("main_video", 0.0)
        assert frame.shape == (36, 64, 3)
    # The bytes as text too: arbitrary strings must be refused cleanly.
    decode_image_b64(data.decode("latin-1"))
