"""Encode and decode v1 messages (docs/protocol §6.8) with Google's protobuf runtime.

The typed classes of :mod:`.payloads` and :mod:`.envelopes` are mapped onto the generated
protobuf classes by name: a payload class ``X`` is the message ``X`` of the ``.proto`` files,
and its attributes are that message's fields.  The mapping is worked out once per class
(a list of small per-field converters), so encoding walks no descriptors at run time.

Decoding is strict where a receiver could otherwise act on garbage, and lenient where
protobuf is:

* input over ``max_bytes`` is refused *before* parsing;
* truncated or corrupt protobuf, or nesting past the parser's recursion limit, is refused;
* a known field sent with the wrong wire type (which protobuf would silently keep as an
  unknown field, leaving the known one unset) is refused, naming the field;
* an envelope ``kind`` outside :class:`MessageKind` is refused (the receiver could not tell
  whether a reply is awaited);
* unknown field numbers are ignored, and unknown values of the other enums are kept as
  ``int`` (protobuf's open enums).

Every refusal is a :class:`~reactor_proto.errors.DecodeError` whose ``field`` says where.
Encoding a value protobuf cannot hold (a string in an int field, bytes inside a JSON body,
a non-string JSON key, both members of a oneof) raises
:class:`~reactor_proto.errors.LocalProtocolError` naming the field.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar, cast

import attrs
from google.protobuf import message as pb_message
from google.protobuf import struct_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.unknown_fields import UnknownFieldSet

from reactor_proto.errors import DecodeError, ErrorCode, LocalProtocolError
from reactor_proto.wire_v1 import bulk, enums, fastpath
from reactor_proto.wire_v1.bodies import put_fields, struct_to_dict
from reactor_proto.wire_v1.envelopes import PAYLOAD_FIELDS, Envelope
from reactor_proto.wire_v1.payloads import PAYLOAD_TYPES, FrameMetadata
from reactor_proto.wire_v1.proto import (
    common_pb2,
    envelopes_pb2,
    frame_metadata_pb2,
    model_pb2,
    platform_pb2,
    stats_pb2,
    step_pb2,
    track_pb2,
)

__all__ = ["DEFAULT_MAX_BYTES", "Encodable", "decode", "decode_with_protobuf", "encode",
           "protobuf_message"]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""Largest message accepted by default: the chunked-channel limit of §6.8.7 (64 MiB)."""

Encodable: TypeAlias = Envelope | FrameMetadata
T = TypeVar("T", bound=Encodable)
PbMessage: TypeAlias = pb_message.Message

_MODULES = (common_pb2, model_pb2, platform_pb2, stats_pb2, step_pb2, track_pb2,
            envelopes_pb2, frame_metadata_pb2)


def _pb_class(name: str) -> type[PbMessage]:
    for module in _MODULES:
        found = getattr(module, name, None)
        if found is not None:
            return found  # type: ignore[no-any-return]
    raise AssertionError(f"no protobuf message named {name}")


_PB_BY_CLASS: dict[type, type[PbMessage]] = {
    cls: _pb_class(cls.__name__) for cls in (*PAYLOAD_TYPES, *PAYLOAD_FIELDS)
}
_CLASS_BY_PB_NAME: dict[str, type] = {
    pb.DESCRIPTOR.full_name: cls for cls, pb in _PB_BY_CLASS.items()
}
_ENUM_BY_NAME: dict[str, type[enum.IntEnum]] = {
    cls.__name__: cls
    for cls in vars(enums).values()
    if isinstance(cls, type) and issubclass(cls, enum.IntEnum) and cls is not enum.IntEnum
}
_KINDS = {int(k): k for k in enums.MessageKind}
_STRUCT = struct_pb2.Struct.DESCRIPTOR.full_name


# ---- per-class conversion plans -------------------------------------------------------------

Setter: TypeAlias = Callable[[PbMessage, Any], None]
Getter: TypeAlias = Callable[[PbMessage], Any]


@attrs.frozen
class _FieldPlan:
    name: str
    put: Setter
    get: Getter


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _plan_field(field: FieldDescriptor) -> _FieldPlan:
    name = field.name
    message_type: Descriptor | None = field.message_type
    if message_type is not None and message_type.full_name == _STRUCT:

        def put_struct(pb: PbMessage, value: Any) -> None:
            if value:  # an empty body is left absent; it decodes as {} all the same
                put_fields(getattr(pb, name).fields, value)

        return _FieldPlan(name, put_struct, lambda pb: struct_to_dict(getattr(pb, name)))
    if message_type is not None and _is_map(field):
        value_type = message_type.fields_by_name["value"].message_type
        if value_type is None:

            def put_scalar_map(pb: PbMessage, value: Any) -> None:
                getattr(pb, name).update(value)

            return _FieldPlan(name, put_scalar_map, lambda pb: dict(getattr(pb, name)))
        item_cls = _CLASS_BY_PB_NAME[value_type.full_name]

        def put_message_map(pb: PbMessage, value: Any) -> None:
            target = getattr(pb, name)
            for key, item in value.items():
                _fill(target[key], item)

        def get_message_map(pb: PbMessage) -> Any:
            return {k: _read(item_cls, v) for k, v in getattr(pb, name).items()}

        return _FieldPlan(name, put_message_map, get_message_map)
    repeated = field.is_repeated
    if message_type is not None:
        cls = _CLASS_BY_PB_NAME[message_type.full_name]
        if repeated:

            def put_messages(pb: PbMessage, value: Any) -> None:
                target = getattr(pb, name)
                for item in value:
                    _fill(target.add(), item)

            def get_messages(pb: PbMessage) -> Any:
                return tuple(_read(cls, item) for item in getattr(pb, name))

            return _FieldPlan(name, put_messages, get_messages)

        def put_message(pb: PbMessage, value: Any) -> None:
            if value is not None:
                target = getattr(pb, name)
                target.SetInParent()  # an empty sub-message is still present
                _fill(target, value)

        def get_message(pb: PbMessage) -> Any:
            return _read(cls, getattr(pb, name)) if pb.HasField(name) else None

        return _FieldPlan(name, put_message, get_message)
    if repeated:
        return _FieldPlan(name, lambda pb, value: getattr(pb, name).extend(value),
                          lambda pb: tuple(getattr(pb, name)))
    enum_cls = _ENUM_BY_NAME[field.enum_type.name] if field.enum_type is not None else None
    if enum_cls is None and not field.has_presence:  # the common case: read in C
        return _FieldPlan(name, lambda pb, value: setattr(pb, name, value),
                          operator.attrgetter(name))

    def read_scalar(pb: PbMessage) -> Any:
        raw = getattr(pb, name)
        return raw if enum_cls is None else enums.open_enum(enum_cls, raw)

    if field.has_presence:  # proto3 `optional` or a oneof member: None means absent

        def put_optional(pb: PbMessage, value: Any) -> None:
            if value is not None:
                setattr(pb, name, value)

        return _FieldPlan(name, put_optional,
                          lambda pb: read_scalar(pb) if pb.HasField(name) else None)
    return _FieldPlan(name, lambda pb, value: setattr(pb, name, value), read_scalar)


@attrs.frozen
class _ClassPlan:
    pb_class: type[PbMessage]
    fields: tuple[_FieldPlan, ...]
    oneofs: tuple[tuple[str, ...], ...]  # real oneofs: at most one member may be set
    read: Getter  # the protobuf message as an instance of the class
    fill: Setter  # an instance of the class into the (empty) protobuf message


_PLANS: dict[type, _ClassPlan] = {}


_new = object.__new__
_set = object.__setattr__  # how attrs itself sets the fields of a frozen instance


def _reader(cls: type, fields: tuple[_FieldPlan, ...]) -> Getter:
    """Build ``cls`` without its ``__init__``: the getters already return what its
    converters would make (dicts, tuples, enums; the classes have no validators), and
    skipping them is a third of the cost of reading a small message."""
    getters = tuple((field.name, field.get) for field in fields)

    def read(pb: PbMessage) -> Any:
        obj: Any = _new(cls)
        for name, get in getters:
            _set(obj, name, get(pb))
        return obj

    return read


def _plan(cls: type) -> _ClassPlan:
    plan = _PLANS.get(cls)
    if plan is None:
        pb_class = _PB_BY_CLASS[cls]
        descriptor = pb_class.DESCRIPTOR
        names = [a.name for a in attrs.fields(cls)]
        if sorted(names) != sorted(descriptor.fields_by_name):
            raise AssertionError(f"{cls.__name__} does not match its .proto message")
        oneofs = tuple(
            tuple(f.name for f in oneof.fields)
            for oneof in descriptor.oneofs
            if len(oneof.fields) > 1 or not oneof.name.startswith("_")
        )
        fields = tuple(_plan_field(cast(FieldDescriptor, descriptor.fields_by_name[n]))
                       for n in names)
        plan = _ClassPlan(pb_class, fields, oneofs, _reader(cls, fields),
                          _filler(cls, fields, oneofs))
        _PLANS[cls] = plan
    return plan


def _fill(pb: PbMessage, obj: Any) -> None:
    _plan(type(obj)).fill(pb, obj)


def _filler(cls: type, fields: tuple[_FieldPlan, ...],
            oneofs: tuple[tuple[str, ...], ...]) -> Setter:
    putters = tuple((field.name, field.put) for field in fields)

    def fill(pb: PbMessage, obj: Any) -> None:
        for oneof in oneofs:
            if sum(getattr(obj, name) is not None for name in oneof) > 1:
                raise LocalProtocolError(
                    f"{cls.__name__}: at most one of {', '.join(oneof)} may be set",
                    code=ErrorCode.INVALID_ARGUMENT)
        for name, put in putters:
            try:
                put(pb, getattr(obj, name))
            except (TypeError, ValueError, OverflowError, AttributeError) as exc:
                raise LocalProtocolError(f"cannot encode {cls.__name__}.{name}: {exc}",
                                         code=ErrorCode.INVALID_ARGUMENT) from exc

    return fill


def _read(cls: type, pb: PbMessage) -> Any:
    return _plan(cls).read(pb)


for _cls in PAYLOAD_TYPES:  # build every plan at import: no first-use cost, no later writes
    _plan(_cls)


# ---- envelopes ------------------------------------------------------------------------------


def _fill_envelope(pb: Any, message: Envelope) -> None:
    pb.request_id = message.request_id
    pb.kind = int(message.kind)
    payload = message.payload
    if payload is not None:
        member = PAYLOAD_FIELDS[type(message)].get(type(payload))
        if member is None:
            raise LocalProtocolError(
                f"{type(message).__name__} cannot carry a {type(payload).__name__}",
                code=ErrorCode.INVALID_ARGUMENT)
        target = getattr(pb, member)
        target.SetInParent()
        _fill(target, payload)


_MEMBER_READ: dict[type, dict[str, Getter]] = {  # envelope -> oneof member -> reader
    envelope: {member: _plan(cls).read for cls, member in members.items()}
    for envelope, members in PAYLOAD_FIELDS.items()
}


def _read_envelope(cls: type[T], pb: Any) -> T:
    number = pb.kind
    kind = _KINDS.get(number)
    if kind is None:
        raise DecodeError(f"{cls.__name__}: unknown message kind {number}", field="kind",
                          value=number)
    member = pb.WhichOneof("payload")
    envelope = _new(cls)
    _set(envelope, "request_id", pb.request_id)
    _set(envelope, "kind", kind)
    _set(envelope, "payload",
         None if member is None else _MEMBER_READ[cls][member](getattr(pb, member)))
    return envelope


# ---- wire-type check ------------------------------------------------------------------------


def _discard_unknown_fields(pb: PbMessage) -> bool:
    """Drop the unknown fields of ``pb`` at any depth; True if it had any.

    A few C calls, no copy: unknown fields are the only bytes that discarding them removes.
    Ordinary input has none, so the walk of :func:`_check_wire_types` (on a fresh parse,
    since the unknown fields are gone from ``pb``) is paid only by input that has some."""
    size = pb.ByteSize()
    pb.DiscardUnknownFields()
    return pb.ByteSize() != size


def _check_wire_types(pb: PbMessage, path: str) -> None:
    """Refuse known fields that arrived with the wrong wire type (kept as unknown)."""
    descriptor = pb.DESCRIPTOR
    unknown = UnknownFieldSet(pb)
    for index in range(len(unknown)):
        number = unknown[index].field_number
        field = descriptor.fields_by_number.get(number)
        if field is not None:
            where = f"{path}.{field.name}"
            # protobuf keeps such a field as unknown: a wrong wire type, or a map entry
            # whose key or value did not parse
            raise DecodeError(f"{where} (field {number}) has the wrong wire type or does "
                              f"not parse as its declared type (wire type "
                              f"{unknown[index].wire_type})", field=where, value=number)
    for field, value in pb.ListFields():
        if field.message_type is None:
            continue
        where = f"{path}.{field.name}"
        if _is_map(field):
            if field.message_type.fields_by_name["value"].message_type is not None:
                for key, item in value.items():
                    _check_wire_types(item, f"{where}[{key!r}]")
        elif field.is_repeated:
            for index, item in enumerate(value):
                _check_wire_types(item, f"{where}[{index}]")
        else:
            _check_wire_types(value, where)


# ---- public API -----------------------------------------------------------------------------

_TOP_LEVEL = frozenset((*PAYLOAD_FIELDS, FrameMetadata))
_PB_BY_TOP_LEVEL = {cls: _PB_BY_CLASS[cls] for cls in _TOP_LEVEL}


def encode(message: Encodable) -> bytes:
    """The protobuf bytes of one v1 message (a top-level envelope or a FrameMetadata)."""
    if type(message) not in _TOP_LEVEL:
        raise LocalProtocolError(f"not a top-level v1 message: {type(message).__name__}",
                                 code=ErrorCode.INVALID_ARGUMENT)
    fast = fastpath.encode(message)  # model messages and commands: no protobuf classes
    if fast is not None:
        return fast
    detached = bulk.detach(message)  # a step's frame bytes bypass protobuf (bulk.py)
    if detached is not None:
        return bulk.splice(type(message), encode(detached.message), detached.data)
    return protobuf_message(message).SerializeToString()


def protobuf_message(message: Encodable) -> PbMessage:
    """``message`` as an instance of its generated protobuf class (what :func:`encode`
    serializes when :mod:`.fastpath` does not take it; the tests compare the two)."""
    pb = _PB_BY_CLASS[type(message)]()
    if isinstance(message, FrameMetadata):
        _fill(pb, message)
    else:
        _fill_envelope(pb, message)
    return pb


def decode(data: bytes, as_type: type[T], *, max_bytes: int = DEFAULT_MAX_BYTES) -> T:
    """Decode ``data`` as ``as_type`` (pick it with :func:`.envelope_type`).

    Raises :class:`DecodeError` (``code`` ``MESSAGE_TOO_LARGE`` for oversize input,
    ``DECODE_FAILED`` otherwise) with ``field`` naming where the input went wrong.
    """
    if type(data) is not bytes and not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"{as_type.__name__}: v1 messages are binary, got "
                          f"{type(data).__name__}", field="message", value=type(data).__name__)
    if len(data) > max_bytes:
        raise DecodeError(f"{as_type.__name__}: {len(data)} bytes is more than the "
                          f"{max_bytes} accepted", field="message", value=len(data),
                          code=ErrorCode.MESSAGE_TOO_LARGE)
    if as_type not in _PB_BY_TOP_LEVEL:
        raise LocalProtocolError(f"not a top-level v1 message: {as_type.__name__}",
                                 code=ErrorCode.INVALID_ARGUMENT)
    raw = data if type(data) is bytes else bytes(data)
    fast = fastpath.decode(raw, as_type)  # model messages and commands in canonical layout
    if fast is not None:
        return fast  # type: ignore[no-any-return]
    if len(raw) >= bulk.MIN_BYTES and bulk.carries_frames(as_type):
        cut = bulk.cut(as_type, raw)  # a step's frame bytes bypass protobuf (bulk.py)
        if cut is not None:
            whole = bulk.reattach(decode(cut[0], as_type, max_bytes=max_bytes), cut[1])
            if whole is not None:
                return whole  # type: ignore[no-any-return]
    return decode_with_protobuf(raw, as_type)


def decode_with_protobuf(raw: bytes, as_type: type[T]) -> T:
    """:func:`decode` through the generated classes only (after the size check): the
    reference :mod:`.fastpath` is tested against, and what decides every error."""
    pb_class = _PB_BY_TOP_LEVEL[as_type]
    pb = pb_class()
    try:
        pb.ParseFromString(raw)
    except pb_message.DecodeError as exc:
        raise DecodeError(f"{as_type.__name__}: not valid protobuf ({exc})",
                          field="message", value=len(raw)) from exc
    if _discard_unknown_fields(pb):
        original = pb_class()
        original.ParseFromString(raw)
        _check_wire_types(original, as_type.__name__)
    if as_type is FrameMetadata:
        return _read(FrameMetadata, pb)  # type: ignore[no-any-return]
    return _read_envelope(as_type, pb)


def payload_field(envelope: type[Envelope], payload: type) -> str | None:
    """The oneof member that carries ``payload`` in ``envelope`` (None if it cannot)."""
    return PAYLOAD_FIELDS[envelope].get(payload)

