"""The two hot v1 messages without protobuf's classes: model messages and commands (issue 23).

A runtime sends a model message per state change, a client a command per user action; both
are an envelope around ``{type, data}`` whose ``data`` is a Struct (docs/protocol §6.8.4,
§6.8.5).  Going through the generated classes cost 1.5x what the same message costs as v0
JSON, almost all of it in converting the body.  So these two shapes are written and read
here, directly as bytes (:mod:`.structwire` for the body):

* a :class:`DataServerMessage` carrying a :class:`ModelMessage`, and
* a :class:`DataClientMessage` carrying a :class:`Command` without file arguments.

The bytes written are the ones protobuf writes for the same message (fields in number
order, proto3 defaults left out, an empty body left out; the body's members in dict order,
see :mod:`.structwire`).  Reading accepts only that canonical layout, with a known
``kind``; anything else, and every other message, returns None and the codec decodes it
with protobuf as before, so what is accepted, what it decodes to and every error are
unchanged.
"""

from __future__ import annotations

from typing import Any, Final

from reactor_proto.wire_v1.enums import MessageKind
from reactor_proto.wire_v1.envelopes import PAYLOAD_FIELDS, DataClientMessage, DataServerMessage
from reactor_proto.wire_v1.payloads import Command, ModelMessage
from reactor_proto.wire_v1.proto import envelopes_pb2
from reactor_proto.wire_v1.structwire import (
    Unhandled,
    encode_struct,
    read_varint,
    struct_at,
    varint,
)

__all__ = ["decode", "encode"]

#: the envelope -> the payload class handled here
_PAYLOADS: Final[dict[type, type]] = {DataServerMessage: ModelMessage,
                                      DataClientMessage: Command}


def _payload_tag(envelope: type, payload: type) -> int:
    """The tag byte of the oneof member that carries ``payload`` (length-delimited)."""
    pb = getattr(envelopes_pb2, envelope.__name__)
    number: int = pb.DESCRIPTOR.fields_by_name[PAYLOAD_FIELDS[envelope][payload]].number
    tag = number << 3 | 2
    if tag >= 0x80:  # both are field 10 today; a one-byte tag is what the code below reads
        raise AssertionError(f"{envelope.__name__}: payload tag {tag} needs two bytes")
    return tag


_TAGS: Final = {envelope: bytes((_payload_tag(envelope, payload),))
                for envelope, payload in _PAYLOADS.items()}
_KINDS: Final = {int(kind): kind for kind in MessageKind}
#: the envelope's kind field (proto3 leaves UNSPECIFIED out)
_KIND_FIELDS: Final = {kind: bytes((0x10, kind)) if kind else b"" for kind in MessageKind}
_SMALL: Final = tuple(bytes((n,)) for n in range(0x80))
#: the kind field and the payload's tag, per envelope and kind
_PREFIXES: Final = {(envelope, kind): _KIND_FIELDS[kind] + _TAGS[envelope]
                    for envelope in _PAYLOADS for kind in MessageKind}
_new = object.__new__


def _slot_setter(cls: type, name: str) -> Any:
    """The setter of the (attrs, slotted) field ``name``: the instances are built without
    their ``__init__``, as the codec does (their converters would only copy what is
    already a fresh dict), and a slot's own setter is the cheapest way in."""
    slot = cls.__dict__[name]
    if type(slot).__name__ != "member_descriptor":
        raise AssertionError(f"{cls.__name__}.{name} is not a slot")
    return slot.__set__


_PAYLOAD_SLOTS: Final = {
    ModelMessage: (_slot_setter(ModelMessage, "type"), _slot_setter(ModelMessage, "data"), None),
    Command: (_slot_setter(Command, "type"), _slot_setter(Command, "data"),
              _slot_setter(Command, "uploads")),
}
_ENVELOPE_SLOTS: Final = {
    envelope: tuple(_slot_setter(envelope, name) for name in ("request_id", "kind", "payload"))
    for envelope in _PAYLOADS
}


# ---- encoding -------------------------------------------------------------------------------


def _head(tag: bytes, size: int) -> bytes:
    """A length-delimited field's tag and length; proto3 leaves an empty field out."""
    if not size:
        return b""
    return tag + (_SMALL[size] if size < 0x80 else varint(size))


def encode(message: Any) -> bytes | None:
    """The protobuf bytes of ``message`` if it is one of the two shapes, else None (also for
    anything protobuf would refuse: the codec then raises protobuf's error)."""
    envelope = type(message)
    cls = _PAYLOADS.get(envelope)
    if cls is None:
        return None
    payload: Any = message.payload
    kind = message.kind
    payload_type = type(payload)  # a local: `type(payload) is not cls` makes mypy narrow it
    if payload_type is not cls or type(kind) is not MessageKind:
        return None
    request_id, name, data = message.request_id, payload.type, payload.data
    if type(request_id) is not str or type(name) is not str or type(data) is not dict:
        return None
    if envelope is DataClientMessage and payload.uploads:
        return None  # file arguments: a map of messages, left to protobuf
    try:
        raw_id, raw_name = request_id.encode(), name.encode()
        body = encode_struct(data) if data else b""  # an empty body is left out
    except (Unhandled, ValueError, OverflowError):
        return None
    name_size, body_size = len(raw_name), len(body)
    if raw_id or not 0 < name_size < 0x80 or not 0x80 <= body_size < 0x4000:
        name_head, body_head = _head(b"\x0a", name_size), _head(b"\x12", body_size)
        size = len(name_head) + name_size + len(body_head) + body_size
        return b"".join((_head(b"\x0a", len(raw_id)), raw_id, _KIND_FIELDS[kind],
                         _TAGS[envelope], varint(size), name_head, raw_name, body_head, body))
    # the usual broadcast: no request id, a short type name, a body of two length bytes
    return b"%s%s\x0a%c%s\x12%c%c%s" % (
        _PREFIXES[envelope, kind], varint(name_size + body_size + 5), name_size, raw_name,
        body_size & 0x7F | 0x80, body_size >> 7, body)


# ---- decoding -------------------------------------------------------------------------------


def decode(buf: bytes, as_type: type) -> Any:
    """``buf`` decoded as ``as_type`` if it is one of the two shapes in canonical layout,
    else None (the codec then decodes it with protobuf).  Written out in one function:
    a Python call costs as much here as reading a field."""
    cls = _PAYLOADS.get(as_type)
    if cls is None:
        return None
    end = len(buf)
    try:
        request_id, pos = "", 0
        tag = buf[0]
        if tag == 0x0A:  # request_id
            size, pos = read_varint(buf, 1)
            request_id = buf[pos:pos + size].decode()
            pos += size
            tag = buf[pos]
        kind = MessageKind.UNSPECIFIED
        if tag == 0x10:
            known = _KINDS.get(buf[pos + 1])
            if known is None:
                return None  # unknown (or overlong): protobuf's path says which error
            kind, pos = known, pos + 2
            tag = buf[pos]
        if tag != _TAGS[as_type][0]:
            return None  # an acknowledgement, another payload or another layout
        size = buf[pos + 1]
        if size < 0x80:
            pos += 2
        elif buf[pos + 2] < 0x80:  # two length bytes, written out: a call costs more
            size, pos = size & 0x7F | buf[pos + 2] << 7, pos + 3
        else:
            size, pos = read_varint(buf, pos + 1)
        if pos + size != end:
            return None
        name = ""
        if pos < end and buf[pos] == 0x0A:  # the payload's type
            size, pos = read_varint(buf, pos + 1)
            name = buf[pos:pos + size].decode()
            pos += size
        data: dict[str, Any] = {}
        if pos < end:
            if buf[pos] != 0x12:
                return None  # file arguments, or fields out of order
            size = buf[pos + 1]
            if size < 0x80:
                pos += 2
            elif buf[pos + 2] < 0x80:
                size, pos = size & 0x7F | buf[pos + 2] << 7, pos + 3
            else:
                size, pos = read_varint(buf, pos + 1)
            if pos + size != end:
                return None
            data = struct_at(buf, pos, end)
        elif pos > end:
            return None
    except (Unhandled, IndexError, UnicodeDecodeError):
        return None
    payload: Any = _new(cls)
    set_type, set_data, set_uploads = _PAYLOAD_SLOTS[cls]
    set_type(payload, name)
    set_data(payload, data)
    if set_uploads is not None:
        set_uploads(payload, {})
    envelope: Any = _new(as_type)
    set_id, set_kind, set_payload = _ENVELOPE_SLOTS[as_type]
    set_id(envelope, request_id)
    set_kind(envelope, kind)
    set_payload(envelope, payload)
    return envelope
