"""JSON bodies <-> the wire bytes of ``google.protobuf.Struct``, without protobuf (issue 23).

A command's arguments and a model message's body travel as a Struct (docs/protocol §6.8.5).
Going through Google's runtime costs a Python-level step per value each way (building the
Struct's map, then reading it back through upb wrappers), which made a model message 1.5x
dearer on v1 than on v0 JSON.  This module writes and reads those bytes directly, from and
to plain dicts, for the two hot messages only (:mod:`.fastpath`); every other message keeps
the generated classes.

The layout is the one protobuf itself writes, so the bytes are the library's bytes:

* ``Struct``: one field 1 (length-delimited map entry) per member, each entry its key
  (field 1, string) then its value (field 2, ``Value``), both always written;
* ``Value``: exactly one member of the ``kind`` oneof -- ``null_value`` (1, varint 0),
  ``number_value`` (2, a little-endian IEEE double), ``string_value`` (3),
  ``bool_value`` (4, varint 0 or 1), ``struct_value`` (5), ``list_value`` (6);
* ``ListValue``: one field 1 (a ``Value``) per element.

Map entries are written in the dict's order.  (protobuf's own order is that of its hash
table, seeded per process, so no fixed order could match it; with its deterministic option
it sorts the keys, and for a body whose keys are in sorted order the bytes are identical --
tests check exactly that.)  Decoding keeps the wire's order, so a body's member order
survives the trip.

Anything else -- a value of a type JSON does not have, a non-string key, a string that is
not valid UTF-8, and on decoding any byte that is not the canonical layout above (unknown
or repeated fields, other wire types, overlong tags, an empty ``Value``, more nesting than
:data:`MAX_NESTING`) -- raises :class:`Unhandled`; the caller then goes through protobuf, so
acceptance, the result and every error stay protobuf's.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["MAX_NESTING", "Unhandled", "decode_struct", "encode_struct", "read_varint",
           "struct_at", "varint"]

MAX_NESTING: Final = 24
"""Containers nested deeper than this are left to protobuf.  Its parser stops at 100
message levels and a nested object costs three (Struct, map entry, Value), so every depth
accepted here is one protobuf accepts too."""

_pack_number: Final = struct.Struct("<Bd").pack  # a Value's number tag (0x11) and double
_unpack_double: Final = struct.Struct("<d").unpack_from
_SMALL: Final = tuple(bytes((n,)) for n in range(128))  # one-byte varints


class Unhandled(Exception):
    """Not the canonical layout, or not a plain JSON value: use protobuf instead."""


def varint(value: int) -> bytes:
    """The base-128 varint of a non-negative ``value`` (lengths, tags, enum numbers)."""
    if value < 0x80:
        return _SMALL[value]
    if value < 0x4000:  # two bytes: bodies up to 16 KiB, the usual case past one byte
        return bytes((value & 0x7F | 0x80, value >> 7))
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """A length or enum varint at ``buf[pos]`` and the position after it.  Lengths here
    never need more than five bytes; longer ones are left to protobuf.  ``IndexError``
    past the end: the callers treat it as :class:`Unhandled`."""
    value = buf[pos]
    if value < 0x80:
        return value, pos + 1
    byte = buf[pos + 1]
    if byte < 0x80:
        return value & 0x7F | byte << 7, pos + 2
    value = value & 0x7F | (byte & 0x7F) << 7
    pos += 2
    shift = 14
    while shift < 35:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise Unhandled


# ---- encoding -------------------------------------------------------------------------------


def _list_bytes(items: list[Any] | tuple[Any, ...], depth: int) -> bytes:
    parts = []
    for item in items:
        value = _value_bytes(item, depth)
        size = len(value)
        parts.append(b"\x0a" + (_SMALL[size] if size < 0x80 else varint(size)) + value)
    return b"".join(parts)


def _value_bytes(item: Any, depth: int) -> bytes:
    """One ``Value``'s bytes (without its own tag and length)."""
    kind = type(item)
    if kind is str:
        text: bytes = item.encode()
        size = len(text)
        return b"\x1a" + (_SMALL[size] if size < 0x80 else varint(size)) + text
    if kind is float or kind is int:
        return _pack_number(0x11, item)  # ints are rounded to a double, as protobuf does
    if kind is bool:
        return b"\x20\x01" if item else b"\x20\x00"
    if item is None:
        return b"\x08\x00"
    if depth >= MAX_NESTING:
        raise Unhandled
    if kind is dict:
        inner = _struct_bytes(item, depth + 1)
        tag = b"\x2a"
    elif kind is list or kind is tuple:
        inner = _list_bytes(item, depth + 1)
        tag = b"\x32"
    else:  # subclasses (IntEnum, OrderedDict, str subclasses), protobuf containers, junk
        raise Unhandled
    size = len(inner)
    return tag + (_SMALL[size] if size < 0x80 else varint(size)) + inner


def _struct_bytes(body: Mapping[str, Any], depth: int) -> bytes:
    parts = []
    for key, item in body.items():
        if type(key) is not str:
            raise Unhandled
        name = key.encode()  # a lone surrogate raises UnicodeEncodeError: protobuf's too
        key_size = len(name)
        kind = type(item)
        # the flat members of a short entry in one formatting call each: every length
        # then fits one byte (the entry's, the key's, the value's and the string's)
        if kind is str:
            text = item.encode()
            size = len(text)
            if key_size + size < 0x7A:
                parts.append(b"\x0a%c\x0a%c%s\x12%c\x1a%c%s" % (
                    key_size + size + 6, key_size, name, size + 2, size, text))
                continue
            value = b"\x1a" + varint(size) + text
        elif (kind is float or kind is int) and key_size < 0x73:
            parts.append(b"\x0a%c\x0a%c%s\x12\x09%s" % (
                key_size + 13, key_size, name, _pack_number(0x11, item)))
            continue
        elif kind is bool and key_size < 0x7A:
            parts.append(b"\x0a%c\x0a%c%s\x12\x02\x20%c" % (
                key_size + 6, key_size, name, item))  # %c of a bool: byte 0 or 1
            continue
        elif kind is dict and depth < MAX_NESTING:
            inner = _struct_bytes(item, depth + 1)
            size = len(inner)
            value = b"\x2a" + (_SMALL[size] if size < 0x80 else varint(size)) + inner
        else:
            value = _value_bytes(item, depth)
        value_size = len(value)
        entry_size = key_size + value_size + 4
        if entry_size < 0x80:
            parts.append(b"\x0a%c\x0a%c%s\x12%c%s" % (entry_size, key_size, name,
                                                       value_size, value))
            continue
        entry = b"\x0a" + varint(key_size) + name + b"\x12" + varint(value_size) + value
        parts.append(b"\x0a" + varint(len(entry)) + entry)
    return b"".join(parts)


def encode_struct(body: Mapping[str, Any]) -> bytes:
    """The bytes protobuf writes for a Struct holding ``body`` (members in dict order).

    Raises :class:`Unhandled` for anything but plain JSON: exact ``dict``/``list``/``tuple``
    containers, ``str`` keys, ``str``/``int``/``float``/``bool``/``None`` values, nesting up to
    :data:`MAX_NESTING`; and ``ValueError``/``OverflowError`` for a string that has no UTF-8
    form or an int too large for a double (protobuf refuses both)."""
    try:
        return _struct_bytes(body, 0)
    except struct.error as exc:  # what ``struct`` raises for an int past a double's range
        raise OverflowError(str(exc)) from None


# ---- decoding -------------------------------------------------------------------------------


def _exact_body(buf: bytes, pos: int, stop: int) -> int:
    """Where the body of the length-delimited field whose tag is at ``buf[pos]`` starts;
    the field must fill ``buf[pos:stop]`` exactly."""
    size = buf[pos + 1]
    if size < 0x80:
        start = pos + 2
    else:
        size, start = read_varint(buf, pos + 1)
    if start + size != stop:
        raise Unhandled
    return start


def _string(buf: bytes, pos: int, stop: int) -> str:
    """A string field whose tag is at ``buf[pos]``, filling ``buf[pos:stop]`` exactly."""
    return buf[_exact_body(buf, pos, stop):stop].decode()  # invalid UTF-8: protobuf refuses it too


def _value(buf: bytes, pos: int, stop: int, depth: int) -> Any:
    """The Value filling ``buf[pos:stop]`` (``pos < stop``)."""
    tag = buf[pos]
    if tag == 0x1A:
        return _string(buf, pos, stop)
    if tag == 0x11:
        if pos + 9 != stop:
            raise Unhandled
        return _unpack_double(buf, pos + 1)[0]
    if tag == 0x20 or tag == 0x08:
        flag = buf[pos + 1]
        if pos + 2 != stop or flag > 1 or (tag == 0x08 and flag):
            raise Unhandled  # longer, another member after it, or a non-canonical number
        return None if tag == 0x08 else flag == 1
    if (tag != 0x2A and tag != 0x32) or depth >= MAX_NESTING:
        raise Unhandled
    start = _exact_body(buf, pos, stop)
    if tag == 0x2A:
        return struct_at(buf, start, stop, depth + 1)
    return _list(buf, start, stop, depth + 1)


def _list(buf: bytes, pos: int, end: int, depth: int) -> list[Any]:
    out = []
    while pos < end:
        if buf[pos] != 0x0A:
            raise Unhandled
        size = buf[pos + 1]
        if size < 0x80:
            pos += 2
        else:
            size, pos = read_varint(buf, pos + 1)
        stop = pos + size
        if stop > end or size == 0:  # an empty Value (no kind) is left to protobuf
            raise Unhandled
        out.append(_value(buf, pos, stop, depth))
        pos = stop
    return out


def _long_entry(buf: bytes, pos: int, end: int) -> tuple[int, int, int, int]:
    """Where the key, the value's tag, the value and the end of the map entry at
    ``buf[pos]`` are, for an entry of any length (varint lengths)."""
    if buf[pos] != 0x0A:
        raise Unhandled  # not a map entry: an unknown field of the Struct
    size, start = read_varint(buf, pos + 1)
    stop = start + size
    if stop > end or buf[start] != 0x0A:  # an entry opens with its key
        raise Unhandled
    key_size, key_at = read_varint(buf, start + 1)
    at = key_at + key_size
    if at + 2 >= stop or buf[at] != 0x12:  # a value follows, and is not empty
        raise Unhandled
    value_size, value_at = read_varint(buf, at + 1)
    if value_at + value_size != stop or value_size == 0:
        raise Unhandled  # the value does not end the entry, or is empty
    return key_at, at, value_at, stop


def struct_at(buf: bytes, pos: int, end: int, depth: int = 0) -> dict[str, Any]:
    """:func:`decode_struct` for callers that also treat ``IndexError`` and
    ``UnicodeDecodeError`` as :class:`Unhandled` (one call less on the hot path)."""
    out: dict[str, Any] = {}
    while pos < end:
        size = buf[pos + 1]
        if size < 0x80 and buf[pos] == 0x0A:
            # a short entry: every length inside it is one byte too, and one that is not
            # (>= 0x80) points past the entry and fails the same tests
            start = pos + 2
            stop = start + size
            key_at = start + 2
            at = key_at + buf[start + 1]
            value_at = at + 2
            value_size = stop - value_at  # the value fills the rest of the entry
            if (stop > end or value_size <= 0 or buf[start] != 0x0A or buf[at] != 0x12
                    or buf[at + 1] != value_size):
                raise Unhandled
        else:
            key_at, at, value_at, stop = _long_entry(buf, pos, end)
            value_size = stop - value_at
        key = buf[key_at:at].decode()
        tag = buf[value_at]
        if tag == 0x1A and buf[value_at + 1] == value_size - 2 and value_size < 0x82:
            out[key] = buf[value_at + 2:stop].decode()  # short strings and numbers inline
        elif tag == 0x11 and value_size == 9:
            out[key] = _unpack_double(buf, value_at + 1)[0]
        elif tag == 0x20 and value_size == 2 and buf[stop - 1] < 2:
            out[key] = buf[stop - 1] == 1
        elif tag == 0x2A and value_size < 0x82 and depth < MAX_NESTING:  # a short object
            if buf[value_at + 1] != value_size - 2:
                raise Unhandled
            out[key] = struct_at(buf, value_at + 2, stop, depth + 1)
        else:
            out[key] = _value(buf, value_at, stop, depth)
        pos = stop  # a repeated key: the last value wins, as in protobuf's map
    return out


def decode_struct(buf: bytes, start: int = 0, end: int | None = None) -> dict[str, Any]:
    """The body of the Struct encoded in ``buf[start:end]`` (numbers as floats, members in
    wire order); :class:`Unhandled` for anything but the canonical layout."""
    try:
        return struct_at(buf, start, len(buf) if end is None else end, 0)
    except (IndexError, UnicodeDecodeError):  # ran past the buffer; not UTF-8
        raise Unhandled from None
