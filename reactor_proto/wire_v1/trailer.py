"""The frame-metadata trailer (docs/protocol §6.8.8).

When both ends declared ``a=x-reactor-frame-metadata:1``, the sender appends to each
*encoded video frame* ``M || u32_le(len(M)) || "RXMT"``, where ``M`` is a protobuf
``FrameMetadata``.  The receiver strips it before decoding.  A frame without the magic, or
whose length runs past the start, or whose ``M`` does not decode, is passed on unchanged.
"""

from __future__ import annotations

from reactor_proto.errors import DecodeError
from reactor_proto.wire_v1.codec import decode, encode
from reactor_proto.wire_v1.payloads import FrameMetadata

MAGIC = b"RXMT"
_FOOTER = 8  # u32 length + magic
MAX_METADATA_BYTES = 64 * 1024  # far above any real trailer; a guard, not a protocol limit


def append_trailer(encoded_frame: bytes, metadata: FrameMetadata) -> bytes:
    body = encode(metadata)
    return b"".join((encoded_frame, body, len(body).to_bytes(4, "little"), MAGIC))


def strip_trailer(frame: bytes) -> tuple[bytes, FrameMetadata | None]:
    """``(encoded frame, metadata)``; ``(frame, None)`` when there is no valid trailer."""
    if len(frame) < _FOOTER or frame[-4:] != MAGIC:
        return frame, None
    size = int.from_bytes(frame[-8:-4], "little")
    start = len(frame) - _FOOTER - size
    if start < 0 or size > MAX_METADATA_BYTES:
        return frame, None
    try:
        metadata = decode(frame[start:len(frame) - _FOOTER], FrameMetadata)
    except DecodeError:
        return frame, None
    return frame[:start], metadata
