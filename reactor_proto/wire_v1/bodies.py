"""JSON bodies <-> ``google.protobuf.Struct`` (docs/protocol §6.8.5), fast.

A command's arguments and a model message's body travel as a Struct, and converting them
is most of what encoding or decoding such a message costs (issue 23: v1 must cost no more
than v0 JSON).  protobuf's own ``Struct.update`` tests every value against a chain of
isinstance checks and makes a Python call per value; these walk a body once, handle the
exact types of JSON values inline, and fall back to the rules of ``Struct.update`` for
anything else (subclasses such as ``IntEnum``, Struct and ListValue instances), so the bytes
are the same as protobuf's.  Numbers come back as ``float``: Struct holds only doubles.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from google.protobuf import struct_pb2

__all__ = ["put_fields", "struct_to_dict"]

_STRING = "string_value"
_NUMBER = "number_value"
_BOOL = "bool_value"
_STRUCT = "struct_value"
_LIST = "list_value"
_which = struct_pb2.Value.WhichOneof  # unbound: no bound method made per value


def _put_value(target: struct_pb2.Value, item: Any) -> None:
    kind = type(item)
    if kind is str:
        target.string_value = item
    elif kind is float or kind is int:
        target.number_value = item
    elif kind is bool:
        target.bool_value = item
    elif kind is dict:
        body = target.struct_value
        body.SetInParent()  # an empty object is still an object, not an unset Value
        put_fields(body.fields, item)
    elif item is None:
        target.null_value = struct_pb2.NULL_VALUE
    elif kind is list or kind is tuple:
        items = target.list_value
        items.SetInParent()
        add = items.values.add
        for element in item:
            _put_value(add(), element)
    else:
        _put_other(target, item)


def _put_other(target: struct_pb2.Value, item: Any) -> None:
    """Subclasses and protobuf containers, by the rules of protobuf's ``Struct.update`` (no
    bool here: ``bool`` cannot be subclassed, so :func:`_put_value` has seen them all)."""
    if isinstance(item, str):
        target.string_value = item
    elif isinstance(item, int | float):
        target.number_value = item
    elif isinstance(item, dict | struct_pb2.Struct):
        target.struct_value.Clear()
        target.struct_value.update(cast(dict[str, Any], item))
    elif isinstance(item, list | tuple | struct_pb2.ListValue):
        target.list_value.Clear()
        target.list_value.extend(item)
    else:
        raise ValueError(f"a JSON body cannot hold {type(item).__name__}")


def put_fields(fields: Any, body: Mapping[str, Any]) -> None:
    """Add ``body``'s members to a Struct's ``fields`` map (``TypeError``/``ValueError`` on a
    key or value JSON cannot hold)."""
    for key, item in body.items():
        target = fields[key]
        kind = type(item)  # the flat cases inline: one Python call per body, not per value
        if kind is str:
            target.string_value = item
        elif kind is float or kind is int:
            target.number_value = item
        elif kind is bool:
            target.bool_value = item
        else:
            _put_value(target, item)


def _value_to_python(value: struct_pb2.Value) -> Any:
    which = _which(value, "kind")  # most frequent kinds first
    if which == _STRING:
        return value.string_value
    if which == _NUMBER:
        return value.number_value
    if which == _BOOL:
        return value.bool_value
    if which == _STRUCT:
        return struct_to_dict(value.struct_value)
    if which == _LIST:
        return [_value_to_python(item) for item in value.list_value.values]
    return None  # null_value, or a Value with no kind set: read as null, like a missing one


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as a plain dict (nested objects dicts, lists lists, numbers floats)."""
    fields = struct.fields
    get = fields.__getitem__
    out: dict[str, Any] = {}
    for key in fields:  # indexing by key is ~2x faster than .items() on upb maps
        value = get(key)
        which = _which(value, "kind")
        if which == _STRING:
            out[key] = value.string_value
        elif which == _NUMBER:
            out[key] = value.number_value
        elif which == _BOOL:
            out[key] = value.bool_value
        else:
            out[key] = _value_to_python(value)
    return out
