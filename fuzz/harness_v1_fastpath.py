"""Fuzz the hand-written v1 reader of model messages and commands
(``reactor_proto.wire_v1.fastpath`` and ``.structwire``) against Google's protobuf runtime.

Input: byte 0 picks what the rest is read as (bit 0: ``DataServerMessage`` or
``DataClientMessage``; bit 1: a whole envelope, or a bare ``google.protobuf.Struct``).

Oracle: ``decode`` returns or raises ``DecodeError``.  Differential checks: whenever the
fast reader accepts the bytes, protobuf accepts them too and reads the same message (the
same body, NaN-aware, ints as doubles); whenever protobuf refuses them, ``decode`` raises
protobuf's own error (same text, same field); what is accepted re-encodes on the fast path
to bytes that decode back to the same message.
"""

from __future__ import annotations

import math
import struct
from typing import Any

from google.protobuf import message as pb_message
from google.protobuf import struct_pb2

from reactor_proto.errors import DecodeError
from reactor_proto.wire_v1 import DataClientMessage, DataServerMessage, decode, encode
from reactor_proto.wire_v1.bodies import struct_to_dict
from reactor_proto.wire_v1.codec import decode_with_protobuf
from reactor_proto.wire_v1.fastpath import decode as fast_decode
from reactor_proto.wire_v1.structwire import Unhandled, decode_struct

ACCEPTED = (DecodeError,)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return ("NaN", struct.pack("<d", value))
    return value


def _struct(body: bytes) -> None:
    try:
        ours = decode_struct(body)
    except Unhandled:
        return
    reference = struct_pb2.Struct()
    try:
        reference.ParseFromString(body)
    except pb_message.DecodeError as exc:
        raise AssertionError(f"accepted what protobuf refuses: {exc}") from exc
    assert _plain(ours) == _plain(struct_to_dict(reference))


def _message(cls: type, body: bytes) -> None:
    fast = fast_decode(body, cls)
    refusal: DecodeError | None = None
    try:
        reference: Any = decode_with_protobuf(body, cls)
    except DecodeError as exc:
        refusal = exc
    if refusal is not None:
        assert fast is None, "the fast reader accepted what protobuf refuses"
        ours: DecodeError | None = None
        try:
            decode(body, cls)
        except DecodeError as exc:
            ours = exc
        assert ours is not None, "decode accepted what protobuf refuses"
        assert (str(ours), ours.field) == (str(refusal), refusal.field)
        raise ours
    if fast is None:
        return
    assert (fast.request_id, fast.kind) == (reference.request_id, reference.kind)
    assert type(fast.payload) is type(reference.payload)
    assert fast.payload.type == reference.payload.type
    assert _plain(fast.payload.data) == _plain(reference.payload.data)
    again = fast_decode(encode(fast), cls)
    assert again is not None
    assert _plain(again.payload.data) == _plain(fast.payload.data)


def one_input(data: bytes) -> None:
    if not data:
        return
    selector, body = data[0], data[1:]
    cls = DataClientMessage if selector & 1 else DataServerMessage
    if selector & 2:
        _struct(body)
    else:
        _message(cls, body)
