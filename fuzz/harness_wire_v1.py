"""Fuzz the v1 protobuf decoder (``reactor_proto.wire_v1.decode``) and the frame-metadata
trailer.

Input: the first byte picks what the rest is decoded as (its low 3 bits: the four
top-level messages, ``FrameMetadata``, or an encoded video frame for ``strip_trailer``);
bit 3 sets a tight ``max_bytes`` so the oversize check is reached too.

Oracle: decode returns or raises ``DecodeError``; ``strip_trailer`` never raises.
Differential checks: an accepted message re-encodes, decodes back equal (NaN-aware), its
encoding is stable, and the envelope's sniffed wire is v1 unless its bytes open like JSON.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from reactor_proto.errors import DecodeError
from reactor_proto.wire_v1 import (
    ControlClientMessage,
    ControlServerMessage,
    DataClientMessage,
    DataServerMessage,
    FrameMetadata,
    decode,
    encode,
)
from reactor_proto.wire_v1.trailer import strip_trailer

ACCEPTED = (DecodeError,)

_TYPES: tuple[type[Any], ...] = (DataClientMessage, DataServerMessage, ControlClientMessage,
                                 ControlServerMessage, FrameMetadata)


def _plain(value: Any) -> Any:
    if attrs.has(type(value)):
        return (type(value).__name__, {a.name: _plain(getattr(value, a.name))
                                       for a in attrs.fields(type(value))})
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return "NaN"  # NaN != NaN, but a decoded NaN must come back as NaN
    return value


def one_input(data: bytes) -> None:
    if not data:
        return
    selector, body = data[0], data[1:]
    which = selector & 0x07
    if which >= len(_TYPES):
        stripped, metadata = strip_trailer(body)
        assert body.startswith(stripped)
        assert (metadata is None) == (stripped == body)
        return
    cls = _TYPES[which]
    max_bytes = 16 if selector & 0x08 else 1 << 20
    message = decode(body, cls, max_bytes=max_bytes)
    assert len(body) <= max_bytes
    wire = encode(message)
    again = decode(wire, cls)
    assert _plain(again) == _plain(message)
    assert _plain(decode(encode(again), cls)) == _plain(message)
