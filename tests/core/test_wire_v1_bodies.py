"""JSON bodies <-> google.protobuf.Struct (reactor_proto.wire_v1.bodies): the fast walk
builds exactly the Struct protobuf's own ``Struct.update`` builds, and reads it back."""

from __future__ import annotations

import enum
from collections import OrderedDict
from typing import Any

import pytest
from google.protobuf import struct_pb2
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.errors import DecodeError, LocalProtocolError
from reactor_proto.wire_v1 import (
    Command,
    DataClientMessage,
    DataServerMessage,
    MessageKind,
    ModelMessage,
    decode,
    encode,
)
from reactor_proto.wire_v1.bodies import put_fields, struct_to_dict

JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers(-2**53, 2**53)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20)
BODIES = st.dictionaries(st.text(max_size=6), JSON, max_size=6)


def _ours(body: Any) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    put_fields(struct.fields, body)
    return struct


def _protobufs(body: Any) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(body)
    return struct


def _plain(value: Any) -> Any:
    """What a body reads back as: objects dicts, arrays lists, numbers floats."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


@given(BODIES)
def test_the_same_struct_as_protobufs_update(body: dict[str, Any]) -> None:
    assert _ours(body) == _protobufs(body)


@given(BODIES)
def test_read_back_as_plain_json(body: dict[str, Any]) -> None:
    struct = struct_pb2.Struct.FromString(_ours(body).SerializeToString())
    assert struct_to_dict(struct) == _plain(body)


class Colour(enum.IntEnum):
    RED = 1


class Name(str):
    pass


@pytest.mark.parametrize("body", [
    {"enum": Colour.RED, "name": Name("x"), "flag": True},
    {"ordered": OrderedDict(a=1, b=[OrderedDict(c=None)])},
    {"empty": {}, "none": [], "nested": {"deeper": {}}},
    {"list_of_empties": [{}, [], None, False, 0]},
])
def test_subclasses_and_empty_containers_follow_protobufs_rules(body: dict[str, Any]) -> None:
    assert _ours(body) == _protobufs(body)
    back = struct_to_dict(struct_pb2.Struct.FromString(_ours(body).SerializeToString()))
    assert back == _plain(body)


def test_protobuf_containers_are_accepted_as_values() -> None:
    inner = _protobufs({"a": 1, "b": ["x"]})
    items = struct_pb2.ListValue()
    items.extend([1, "y"])
    body = {"struct": inner, "list": items}
    assert _ours(body) == _protobufs(body)
    assert struct_to_dict(_ours(body)) == {"struct": {"a": 1.0, "b": ["x"]},
                                           "list": [1.0, "y"]}


@pytest.mark.parametrize("bad", [b"bytes", {1, 2}, object(), 1j])
def test_what_json_cannot_hold_is_refused_when_encoding(bad: Any) -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        _ours({"k": bad})
    with pytest.raises(LocalProtocolError, match=r"ModelMessage\.data"):
        encode(DataServerMessage(kind=MessageKind.NOTIFICATION,
                                 payload=ModelMessage(type="t", data={"k": [bad]})))


def test_a_non_string_key_is_refused_when_encoding() -> None:
    with pytest.raises(LocalProtocolError, match=r"Command\.data"):
        encode(DataClientMessage(request_id="1", kind=MessageKind.REQUEST,
                                 payload=Command(type="c", data={1: "x"})))  # type: ignore[dict-item]


def test_a_value_with_no_kind_reads_as_null() -> None:
    struct = struct_pb2.Struct()
    struct.fields["unset"].SetInParent()  # present in the map, no kind chosen
    struct.fields["list"].list_value.values.add()
    assert struct_to_dict(struct) == {"unset": None, "list": [None]}


def test_a_mistyped_value_inside_a_body_is_still_refused() -> None:
    """The cheaper unknown-field test must still find a wrong wire type deep in a body:
    Value.string_value (field 3) sent as a varint, inside Command.data."""
    value = bytes([0x18, 0x07])                        # field 3, varint 7
    entry = bytes([0x0A, 0x01, 0x6B, 0x12, len(value)]) + value  # key "k", value
    struct = bytes([0x0A, len(entry)]) + entry         # Struct.fields[0]
    command = bytes([0x0A, 0x01, 0x63, 0x12, len(struct)]) + struct  # type "c", data
    wire = bytes([0x10, 0x01, 0x52, len(command)]) + command  # kind=REQUEST, command
    with pytest.raises(DecodeError, match="wrong wire type") as info:
        decode(wire, DataClientMessage)
    assert str(info.value.field).startswith("DataClientMessage.command.data")
