"""``data``-channel envelopes, file references and runtime messages (docs/protocol §6.2-6.5, §9).

Every frame on the ``data`` channel is UTF-8 JSON with two levels::

    {"scope": "application" | "runtime", "data": {"type": <name>, "data": {...}, "uploads"?: {...}}}

Two decoders, because the two ends owe each other different things:

* :func:`decode_inbound` (client side) is lenient, as the official client is: anything that
  is not an envelope is still delivered, unchanged, as an application message.
* :func:`parse_envelope` (runtime side) is strict and says exactly what is wrong.

Encoders check that the value is JSON (naming the offending key) and measure the UTF-8 size
*before* anything is sent; the limit defaults to the official 256 KiB.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from typing import Any, Final

import attrs

from .constants import MAX_DATA_CHANNEL_MESSAGE_BYTES, MAX_JSON_DEPTH
from .errors import DecodeError, LocalProtocolError, MessageTooLargeError
from .jsonfields import Fields, dumps, loads_bounded, type_name


class Scope(enum.StrEnum):
    APPLICATION = "application"
    RUNTIME = "runtime"


class RuntimeMessageType(enum.StrEnum):
    """Inner ``type`` values of runtime-scope messages (§6.3)."""

    PING = "ping"
    REQUEST_SCHEMA = "requestSchema"
    MODEL_SCHEMA = "modelSchema"
    REQUEST_CAPABILITIES = "requestCapabilities"
    MODEL_CAPABILITIES = "modelCapabilities"
    FILE_UPLOADED = "fileUploaded"
    REQUEST_CLIP = "requestClip"
    REQUEST_RECORDING = "requestRecording"
    CLIP_READY = "clipReady"
    CLIP_FAILED = "clipFailed"
    MODERATION = "moderation"
    MEDIA_STATS = "mediaStats"
    SESSION_ENDED = "sessionEnded"
    # Our runtime's answer to a dropped command (F24); official runtimes stay silent.
    COMMAND_REJECTED = "commandRejected"


#: The exact text of the client's liveness ping (§6.5).
RUNTIME_PING: Final = '{"scope":"runtime","data":{"type":"ping","data":{}}}'


# ---- JSON value checks --------------------------------------------------------------------


def to_json_value(value: Any, path: str) -> Any:
    """A plain-JSON copy of ``value`` (Mappings become dicts, tuples lists).

    LocalProtocolError naming the dotted path of the first thing JSON cannot carry: a
    non-string key, a non-finite float, a lone surrogate, nesting deeper than
    MAX_JSON_DEPTH, a nested FileRef, or any other type.
    """
    return _convert(value, path, 1)


def _convert(value: Any, path: str, depth: int) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise LocalProtocolError(f"{path}: JSON cannot carry the number {value!r}")
        return value
    if isinstance(value, str):
        _check_text(value, path)
        return value
    if depth > MAX_JSON_DEPTH:
        raise LocalProtocolError(f"{path}: nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise LocalProtocolError(
                    f"{path}: object keys must be strings, got {type(key).__name__} {key!r}"
                )
            _check_text(key, f"{path}.<key>")
            result[key] = _convert(item, f"{path}.{key}", depth + 1)
        return result
    if isinstance(value, list | tuple):
        return [_convert(item, f"{path}[{index}]", depth + 1)
                for index, item in enumerate(value)]
    if isinstance(value, FileRef):
        raise LocalProtocolError(
            f"{path}: a FileRef is only carried as a top-level command argument (§9)"
        )
    raise LocalProtocolError(
        f"{path}: {type(value).__name__} is not JSON-serialisable ({_short(value)})"
    )


def _check_text(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise LocalProtocolError(
            f"{path}: string is not valid Unicode (lone surrogate) {_short(text)}"
        ) from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def printable_path(path: str) -> str:
    """``path`` with lone surrogates escaped, so a message naming it can itself be sent."""
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


def check_wire_value(value: Any, path: str) -> None:
    """DecodeError naming the first decoded value we could never send back on the wire.

    Python's JSON decoder turns an out-of-range literal (``1e999``) into ``inf`` and a
    ``"\\ud800"`` escape into a lone surrogate, which no UTF-8 encoder accepts; strict
    parsers refuse both where they stand, so whatever they accept re-encodes.
    """
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            where = printable_path(where)
            raise DecodeError(f"{where}: number out of range ({node!r})", field=where,
                              value=node)
        if isinstance(node, str) and _SURROGATE.search(node):
            where = printable_path(where)
            raise DecodeError(f"{where}: string is not valid Unicode (lone surrogate) "
                              f"{_short(node)}", field=where, value=_short(node))
        if isinstance(node, dict):
            for key, item in node.items():
                stack.append((key, f"{where}.<key>"))
                stack.append((item, f"{where}.{key}"))
        elif isinstance(node, list):
            stack.extend((item, f"{where}[{index}]") for index, item in enumerate(node))


def encoded_size(text: str | bytes, max_bytes: int) -> int:
    """UTF-8 size of ``text``, stopping early once it is certainly above ``max_bytes``."""
    if isinstance(text, str):
        if len(text) > max_bytes:  # every character is at least one byte
            return len(text)
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text)


def check_outgoing_size(text: str, max_bytes: int, what: str) -> str:
    """MessageTooLargeError when ``text`` would exceed ``max_bytes`` once UTF-8 encoded."""
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise MessageTooLargeError(
            f"{what}: {size} bytes exceeds the limit of {max_bytes} bytes; nothing was sent"
        )
    return text


# ---- FileRef ------------------------------------------------------------------------------


def _text_field(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise LocalProtocolError(
            f"FileRef.{attribute.name}: expected a string, got {type(value).__name__} {value!r}"
        )


def _size_field(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LocalProtocolError(f"FileRef.size: expected a non-negative integer, got {value!r}")


@attrs.frozen(kw_only=True)
class FileRef:
    """A file uploaded to the session (§9), usable as a command argument."""

    upload_id: str = attrs.field(validator=_text_field)
    name: str = attrs.field(validator=_text_field)
    mime_type: str = attrs.field(validator=_text_field)
    size: int = attrs.field(validator=_size_field)

    def to_json(self) -> dict[str, Any]:
        return {"upload_id": self.upload_id, "name": self.name, "mime_type": self.mime_type,
                "size": self.size}

    @classmethod
    def from_json(cls, obj: Any, *, path: str = "upload") -> FileRef:
        """Read ``{upload_id, name, mime_type, size}``; unknown keys are ignored."""
        fields = Fields(obj, path)
        upload_id = fields.req_str("upload_id")
        if not upload_id:
            raise DecodeError(f"{fields.where('upload_id')}: must not be empty",
                              field=fields.where("upload_id"), value=upload_id)
        size = fields.req_int("size")
        if size < 0:
            raise DecodeError(f"{fields.where('size')}: must not be negative, got {size}",
                              field=fields.where("size"), value=size)
        return cls(upload_id=upload_id, name=fields.req_str("name"),
                   mime_type=fields.req_str("mime_type"), size=size)


# ---- envelopes ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Envelope:
    """One ``data``-channel message.  ``data`` is the inner arguments object."""

    scope: Scope
    type: str
    data: Any
    uploads: Mapping[str, FileRef] | None = None


@attrs.frozen(kw_only=True)
class InboundMessage:
    """What a client receives on the ``data`` channel.

    ``scope`` is None when the frame was not an envelope (not JSON, or no ``scope``/``data``
    pair): the official client then delivers it as an application message unchanged, and so
    does this one.  ``payload`` is the inner ``{type, data}`` object for an envelope, else the
    decoded JSON, else the raw text (or raw bytes when they are not UTF-8).
    """

    scope: Scope | None
    payload: Any


def _encode(scope: Any, type_: Any, data: Any, uploads: Mapping[str, FileRef] | None,
            *, root: str, max_bytes: int) -> str:
    try:
        scope_value = Scope(scope)
    except ValueError:
        raise LocalProtocolError(
            f"scope: expected 'application' or 'runtime', got {scope!r}"
        ) from None
    if not isinstance(type_, str):
        raise LocalProtocolError(f"type: expected a string, got {type(type_).__name__} {type_!r}")
    if not isinstance(data, Mapping):
        raise LocalProtocolError(
            f"{root}: arguments must be an object (a mapping), got {type(data).__name__}"
        )
    inner: dict[str, Any] = {"type": type_, "data": to_json_value(data, root)}
    if uploads is not None:
        if not isinstance(uploads, Mapping):
            raise LocalProtocolError(f"uploads: expected a mapping, got {type(uploads).__name__}")
        encoded: dict[str, Any] = {}
        for name, ref in uploads.items():
            if not isinstance(name, str) or not isinstance(ref, FileRef):
                raise LocalProtocolError(
                    f"uploads.{name}: expected str -> FileRef, got {type(ref).__name__}"
                )
            encoded[name] = ref.to_json()
        inner["uploads"] = to_json_value(encoded, "uploads")
    text = dumps({"scope": scope_value.value, "data": inner})
    return check_outgoing_size(text, max_bytes, f"{scope_value.value} message {type_!r}")


def encode_envelope(envelope: Envelope, *, max_bytes: int = MAX_DATA_CHANNEL_MESSAGE_BYTES) -> str:
    """Compact JSON text of ``envelope``.  LocalProtocolError / MessageTooLargeError."""
    return _encode(envelope.scope, envelope.type, envelope.data, envelope.uploads,
                   root="data", max_bytes=max_bytes)


def encode_command(command: str, data: Mapping[str, Any], *,
                   max_bytes: int = MAX_DATA_CHANNEL_MESSAGE_BYTES) -> str:
    """An application-scope command.  Top-level FileRef values move into ``uploads`` (§9).

    LocalProtocolError for a non-string or empty command or arguments JSON cannot carry
    (the message names the key); MessageTooLargeError when the UTF-8 text exceeds
    ``max_bytes``.  Nothing is sent in either case.
    """
    if not isinstance(command, str) or not command:
        raise LocalProtocolError(f"command: expected a non-empty string, got {command!r}")
    if not isinstance(data, Mapping):
        raise LocalProtocolError(
            f"{command}: arguments must be an object (a mapping), got {type(data).__name__}"
        )
    arguments: dict[Any, Any] = {}
    uploads: dict[str, FileRef] = {}
    for key, value in data.items():
        if isinstance(value, FileRef) and isinstance(key, str):
            uploads[key] = value
        else:
            arguments[key] = value
    return _encode(Scope.APPLICATION, command, arguments, uploads or None, root=command,
                   max_bytes=max_bytes)


def encode_runtime_message(type: str, data: Mapping[str, Any] | None = None, *,
                           max_bytes: int = MAX_DATA_CHANNEL_MESSAGE_BYTES) -> str:
    """A runtime-scope message, e.g. ``encode_runtime_message("ping") == RUNTIME_PING``."""
    return _encode(Scope.RUNTIME, type, {} if data is None else data, None, root=str(type),
                   max_bytes=max_bytes)


def decode_inbound(message: str | bytes, *,
                   max_bytes: int = MAX_DATA_CHANNEL_MESSAGE_BYTES) -> InboundMessage:
    """Classify a frame received by a client, leniently (§6.2).

    The size is checked before anything else (DecodeError when too big); after that this
    never fails: non-UTF-8 bytes, non-JSON text and JSON nested too deeply to decode safely
    come back with ``scope=None`` and the raw frame as payload.
    """
    size = encoded_size(message, max_bytes)
    if size > max_bytes:
        raise DecodeError(f"data message: {size} bytes exceeds the limit of {max_bytes} bytes",
                          field="data message", value=size)
    if isinstance(message, str):
        text = message
    else:
        raw = bytes(message)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return InboundMessage(scope=None, payload=raw)
    try:
        value = loads_bounded(text, what="data message", max_bytes=max_bytes)
    except DecodeError:
        return InboundMessage(scope=None, payload=text)
    if isinstance(value, dict) and "data" in value:
        scope = value.get("scope")
        if scope == Scope.APPLICATION.value:
            return InboundMessage(scope=Scope.APPLICATION, payload=value["data"])
        if scope == Scope.RUNTIME.value:
            return InboundMessage(scope=Scope.RUNTIME, payload=value["data"])
    return InboundMessage(scope=None, payload=value)


def parse_envelope(message: str | bytes, *,
                   max_bytes: int = MAX_DATA_CHANNEL_MESSAGE_BYTES) -> Envelope:
    """Parse a frame received by a runtime, strictly.

    DecodeError (size checked before parsing) naming what is wrong: not JSON, ``scope``
    missing or unknown, inner ``data`` not an object, ``type`` not a string, arguments not an
    object, ``uploads`` malformed, a number out of range or a lone surrogate anywhere.
    Unknown keys are ignored.
    """
    size = encoded_size(message, max_bytes)
    if size > max_bytes:
        raise DecodeError(f"envelope: {size} bytes exceeds the limit of {max_bytes} bytes",
                          field="envelope", value=size)
    value = loads_bounded(message, what="envelope", max_bytes=max_bytes)
    check_wire_value(value, "envelope")
    root = Fields(value, "envelope")
    scope_text = root.req_str("scope")
    try:
        scope = Scope(scope_text)
    except ValueError:
        raise DecodeError(
            f"envelope.scope: unknown scope {scope_text!r} (expected 'application' or "
            "'runtime')", field="envelope.scope", value=scope_text,
        ) from None
    inner = root.req_obj("data")
    type_ = inner.req_str("type")
    arguments = inner.req_obj("data")
    uploads_fields = inner.opt_obj("uploads")
    uploads: dict[str, FileRef] | None = None
    if uploads_fields is not None:
        uploads = {name: FileRef.from_json(ref, path=uploads_fields.where(name))
                   for name, ref in uploads_fields.raw.items()}
    return Envelope(scope=scope, type=type_, data=arguments.raw, uploads=uploads)


def merge_uploads(envelope: Envelope) -> dict[str, Any]:
    """The arguments a runtime validates: ``uploads`` merged into ``data`` for names not
    already present (§6.2), each as its ``{upload_id, name, mime_type, size}`` object."""
    if not isinstance(envelope.data, Mapping):
        raise LocalProtocolError(
            f"data: expected an object, got {type_name(envelope.data)} {_short(envelope.data)}"
        )
    merged = dict(envelope.data)
    for name, ref in (envelope.uploads or {}).items():
        merged.setdefault(name, ref.to_json())
    return merged


# ---- runtime messages the runtime sends ---------------------------------------------------


def _runtime(type_: RuntimeMessageType, data: dict[str, Any]) -> Envelope:
    return Envelope(scope=Scope.RUNTIME, type=type_.value, data=data)


def _require_text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise LocalProtocolError(f"{what}: expected a string, got {type(value).__name__} "
                                 f"{_short(value)}")
    return value


def command_rejected(command: str | None, reason: str) -> Envelope:
    """Tell the sender its command was dropped, and why (our answer to F24)."""
    if command is not None:
        _require_text(command, "command")
    return _runtime(RuntimeMessageType.COMMAND_REJECTED,
                    {"command": command, "reason": _require_text(reason, "reason")})


def clip_failed(reason: str) -> Envelope:
    return _runtime(RuntimeMessageType.CLIP_FAILED, {"reason": _require_text(reason, "reason")})


def session_ended(reason: str) -> Envelope:
    return _runtime(RuntimeMessageType.SESSION_ENDED,
                    {"reason": _require_text(reason, "reason")})


def media_stats(aggregate_qos: int) -> Envelope:
    """The periodic ``mediaStats`` message (§6.3); ``aggregate_qos`` is 0..10."""
    if isinstance(aggregate_qos, bool) or not isinstance(aggregate_qos, int) or not (
            0 <= aggregate_qos <= 10):
        raise LocalProtocolError(f"aggregate_qos: expected an integer 0..10, got {aggregate_qos!r}")
    return _runtime(RuntimeMessageType.MEDIA_STATS, {"video": {"aggregateQos": aggregate_qos}})


def file_uploaded(ref: FileRef) -> Envelope:
    """The client's ``fileUploaded`` notice after a successful upload (§9 step 4)."""
    return _runtime(RuntimeMessageType.FILE_UPLOADED, ref.to_json())
