"""Model messages and commands without protobuf's classes (reactor_proto.wire_v1.fastpath and
.structwire) against Google's protobuf runtime, both ways: the same bytes out, the same
message (or the same error) in."""

from __future__ import annotations

import enum
import math
import struct
from collections import OrderedDict
from functools import cmp_to_key
from typing import Any

import pytest
from google.protobuf import struct_pb2
from hypothesis import example, given
from hypothesis import strategies as st

from reactor_proto.errors import DecodeError, LocalProtocolError
from reactor_proto.wire_v1 import (
    Command,
    DataClientMessage,
    DataServerMessage,
    MessageKind,
    ModelMessage,
    UploadReference,
    decode,
    encode,
    fastpath,
    structwire,
)
from reactor_proto.wire_v1.bodies import struct_to_dict
from reactor_proto.wire_v1.codec import decode_with_protobuf, protobuf_message

LEAVES = (st.none() | st.booleans() | st.floats() | st.integers(-2**70, 2**70)
          | st.text(max_size=12) | st.text(max_size=200))
JSON = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=24)
BODIES = st.dictionaries(st.text(max_size=10) | st.text(max_size=150), JSON, max_size=8)
KINDS = st.sampled_from(MessageKind)


def _upb_order(a: str, b: str) -> int:
    """protobuf's deterministic order of map keys: their UTF-8 bytes compared over the
    shorter length, and on a tie the longer key first (so "" comes last)."""
    x, y = a.encode(), b.encode()
    common = min(len(x), len(y))
    if x[:common] != y[:common]:
        return -1 if x[:common] < y[:common] else 1
    return len(y) - len(x)


def _sorted(value: Any) -> Any:
    """The body with every object's keys in the order protobuf writes a map in when asked
    to be deterministic (otherwise it follows a hash table seeded per process)."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value, key=cmp_to_key(_upb_order))}
    if isinstance(value, list | tuple):
        return [_sorted(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """Comparable across NaN (compared by its bits) and ints (read back as doubles)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return ("NaN", struct.pack("<d", value))
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _protobuf_struct_bytes(body: dict[str, Any]) -> bytes:
    struct_ = struct_pb2.Struct()
    struct_.update(body)
    return struct_.SerializeToString(deterministic=True)


def _fits_a_double(body: Any) -> bool:
    try:
        _protobuf_struct_bytes({"x": body})
    except (OverflowError, ValueError):
        return False
    return True


# ---- the Struct body ------------------------------------------------------------------------


@given(BODIES)
@example({"big": 2**53 + 1, "huge": 2**63 + 12345, "neg": -2**64})
@example({"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "-0": -0.0})
@example({"é": "ünïcödé 😀", "": "", "t": True, "f": False, "n": None, "z": 0})
@example({"o": {}, "l": [], "nested": [[{"a": [None]}]], "long": "x" * 20000})
def test_struct_bytes_are_protobufs_bytes(body: dict[str, Any]) -> None:
    body = _sorted(body)
    if not _fits_a_double(body):
        return
    assert structwire.encode_struct(body) == _protobuf_struct_bytes(body)


@given(BODIES)
def test_struct_reads_back_as_protobuf_reads_it(body: dict[str, Any]) -> None:
    if not _fits_a_double(body):
        return
    raw = _protobuf_struct_bytes(body)
    ours = structwire.decode_struct(raw)
    assert _plain(ours) == _plain(struct_to_dict(struct_pb2.Struct.FromString(raw)))
    assert _plain(ours) == _plain(body)


@given(BODIES)
def test_member_order_survives_the_trip(body: dict[str, Any]) -> None:
    if not _fits_a_double(body):
        return
    back = structwire.decode_struct(structwire.encode_struct(body))
    assert list(back) == list(body)


def test_bools_nulls_and_numbers_stay_apart() -> None:
    body = {"t": True, "one": 1, "f": False, "zero": 0, "n": None, "s": "1"}
    back = structwire.decode_struct(structwire.encode_struct(body))
    assert [type(v) for v in back.values()] == [bool, float, bool, float, type(None), str]
    assert back == {"t": True, "one": 1.0, "f": False, "zero": 0.0, "n": None, "s": "1"}


class Colour(enum.IntEnum):
    RED = 1


class Name(str):
    pass


@pytest.mark.parametrize("body", [
    {"enum": Colour.RED}, {"name": Name("x")}, {"o": OrderedDict(a=1)}, {3: "int key"},
    {"bytes": b"x"}, {"set": {1}}, {"\ud800": 1}, {"x": "\udfff"}, {"big": 10**400},
    {"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]},
])
def test_what_is_not_plain_json_is_left_to_protobuf(body: dict[str, Any]) -> None:
    with pytest.raises((structwire.Unhandled, ValueError, OverflowError)):
        structwire.encode_struct(body)


# ---- whole messages -------------------------------------------------------------------------

TEXT = st.text(max_size=6) | st.text(min_size=120, max_size=300)


@st.composite
def hot_messages(draw: st.DrawFn) -> DataServerMessage | DataClientMessage:
    body = _sorted(draw(BODIES))
    if not _fits_a_double(body):
        body = {}
    envelope, payload = draw(st.sampled_from([(DataServerMessage, ModelMessage),
                                              (DataClientMessage, Command)]))
    return envelope(request_id=draw(TEXT), kind=draw(KINDS),  # type: ignore[operator]
                    payload=payload(type=draw(TEXT), data=body))


@given(hot_messages())
def test_message_bytes_are_protobufs_bytes(message: Any) -> None:
    ours = fastpath.encode(message)
    assert ours is not None
    assert ours == protobuf_message(message).SerializeToString(deterministic=True)
    assert encode(message) == ours


@given(hot_messages())
def test_message_decodes_as_protobuf_decodes_it(message: Any) -> None:
    raw = protobuf_message(message).SerializeToString()
    ours = fastpath.decode(raw, type(message))
    assert ours is not None
    reference = decode_with_protobuf(raw, type(message))
    assert type(ours) is type(reference) and type(ours.payload) is type(reference.payload)
    assert (ours.request_id, ours.kind, ours.payload.type) == (
        reference.request_id, reference.kind, reference.payload.type)
    assert _plain(ours.payload.data) == _plain(reference.payload.data)
    assert _plain(decode(raw, type(message)).payload.data) == _plain(message.payload.data)


def _same_outcome(raw: bytes, cls: type) -> None:
    """decode (fast path first) and protobuf alone agree: same message or same error."""
    refusal: DecodeError | None = None
    try:
        reference: Any = decode_with_protobuf(raw, cls)
    except DecodeError as exc:
        refusal = exc
    if refusal is not None:
        with pytest.raises(DecodeError) as ours:
            decode(raw, cls)
        assert (str(ours.value), ours.value.field) == (str(refusal), refusal.field)
        assert fastpath.decode(raw, cls) is None
        return
    fast = fastpath.decode(raw, cls)
    if fast is None:
        return  # left to protobuf: identical by construction
    assert (fast.request_id, fast.kind) == (reference.request_id, reference.kind)
    assert type(fast.payload) is type(reference.payload)
    assert fast.payload.type == reference.payload.type
    assert _plain(fast.payload.data) == _plain(reference.payload.data)
    assert getattr(fast.payload, "uploads", {}) == getattr(reference.payload, "uploads", {})


@given(hot_messages(), st.data())
def test_mutated_messages_decode_as_protobuf_decodes_them(message: Any,
                                                          data: st.DataObject) -> None:
    raw = bytearray(encode(message))
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(raw)))
        what = data.draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        if what == "flip" and where < len(raw):
            raw[where] = data.draw(st.integers(0, 255))
        elif what == "insert":
            raw[where:where] = data.draw(st.binary(min_size=1, max_size=3))
        elif what == "delete" and where < len(raw):
            del raw[where]
        elif what == "cut":
            del raw[where:]
    _same_outcome(bytes(raw), type(message))


@pytest.mark.parametrize(("raw", "why"), [
    (b"\x10\x07\x52\x00", "unknown kind"),
    (b"\x10\x03\x52\x05\x0a\x02\xff\xfe", "invalid UTF-8 in the type"),
    (b"\x52\x0b\x12\x09\x0a\x07\x0a\x01a\x12\x02\x10\x01", "Value member 2 as a varint"),
    (b"\x52\x0c\x12\x0a\x0a\x08\x0a\x01a\x12\x03\x1a\x01\xff", "invalid UTF-8 in a value"),
    (b"\x52\x0a\x12\x08\x0a\x06\x0a\x01a\x12\x01\x11", "a truncated double"),
    (b"\x52\x0b\x12\x09\x0a\x07\x0a\x01a\x12\x02\x20\x05", "bool 5: protobuf reads True"),
    (b"\x52\x0b\x12\x09\x0a\x07\x12\x02\x20\x01\x0a\x01a", "value before key"),
    (b"\x52\x0b\x12\x09\x0a\x07\x0a\x01a\x12\x02\x08\x03", "null_value 3"),
    (b"\x52\x09\x12\x07\x0a\x05\x0a\x01a\x12\x00", "a Value without kind"),
    (b"\x52\x0a\x12\x08\x1a\x06\x0a\x01a\x12\x01\x00", "an unknown field in the Struct"),
    (b"\x52\x02\x18\x01", "an unknown field in the payload"),
    (b"\x52\x00", "no type, no body"),
    (b"", "an empty message (an acknowledgement)"),
    (b"\x0a\x80\x01" + b"r" * 128 + b"\x52\x00", "a long request id"),
])
@pytest.mark.parametrize("cls", [DataServerMessage, DataClientMessage])
def test_odd_input_gets_protobufs_answer(raw: bytes, why: str, cls: type) -> None:
    _same_outcome(raw, cls)


def test_commands_with_file_arguments_go_through_protobuf() -> None:
    command = Command(type="edit", data={"strength": 0.5},
                      uploads={"image": UploadReference(upload_id="u1", name="a.png",
                                                        mime_type="image/png", size=3)})
    message = DataClientMessage(request_id="9", kind=MessageKind.REQUEST, payload=command)
    assert fastpath.encode(message) is None
    raw = encode(message)
    assert fastpath.decode(raw, DataClientMessage) is None
    assert decode(raw, DataClientMessage) == message


@pytest.mark.parametrize("depth", [structwire.MAX_NESTING, structwire.MAX_NESTING + 1, 32, 33])
def test_nesting_is_protobufs_up_to_its_limit(depth: int) -> None:
    body: dict[str, Any] = {}
    inner = body
    for _ in range(depth):
        inner["a"] = {}
        inner = inner["a"]
    message = DataServerMessage(kind=MessageKind.NOTIFICATION,
                                payload=ModelMessage(type="deep", data=body))
    raw = protobuf_message(message).SerializeToString()
    assert encode(message) == raw
    _same_outcome(raw, DataServerMessage)
    if depth <= 32:
        assert decode(raw, DataServerMessage) == message


def test_what_protobuf_refuses_to_encode_is_refused_the_same_way() -> None:
    for body in ({"x": 10**400}, {"\ud800": 1}, {3: 1}, {"x": b"bytes"}):
        message = DataServerMessage(payload=ModelMessage(type="t", data=body))
        assert fastpath.encode(message) is None
        with pytest.raises(LocalProtocolError):
            encode(message)
