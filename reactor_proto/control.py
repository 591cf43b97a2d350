"""The ``control`` channel: per-connection track lifecycle (docs/protocol §6.6, C.3, F21-F22).

Three JSON shapes, told apart by ``type``::

    {"type":"request","method":"publish_track","request_id":"ctrl_1","data":{"name":"webcam"}}
    {"type":"response","method":"publish_track","request_id":"ctrl_1","data":{}}
    {"type":"response","method":"publish_track","request_id":"ctrl_1",
     "error":{"code":"PUBLISHER_SLOT_TAKEN","message":"publisher slot already taken"}}
    {"type":"notification","event":"pause_track","data":{"name":"main_video"}}

:func:`decode_control` is strict about types and names the field at fault.  A runtime that
gets a malformed request still owes an answer (C.3: the official runtime grants a request
with no ``request_id``); :func:`response_to_malformed` builds that ``INVALID_REQUEST`` answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from .constants import MAX_DATA_CHANNEL_MESSAGE_BYTES
from .envelope import (
    check_outgoing_size,
    check_wire_value,
    encoded_size,
    printable_path,
    to_json_value,
)
from .errors import ControlRequestError, DecodeError, ErrorCode, LocalProtocolError
from .jsonfields import Fields, dumps, loads_bounded

# Methods (requests) and events (notifications).
PUBLISH_TRACK: Final = "publish_track"
UNPUBLISH_TRACK: Final = "unpublish_track"
PAUSE_TRACK: Final = "pause_track"
RESUME_TRACK: Final = "resume_track"

# Error codes a runtime answers with.
PUBLISHER_SLOT_TAKEN: Final = ErrorCode.PUBLISHER_SLOT_TAKEN.value
UNKNOWN_METHOD: Final = ErrorCode.UNKNOWN_METHOD.value
UNKNOWN_TRACK: Final = ErrorCode.UNKNOWN_TRACK.value
INVALID_REQUEST: Final = "INVALID_REQUEST"

# What the official client reports when an error body leaves these out.
DEFAULT_ERROR_CODE: Final = "UNKNOWN"
DEFAULT_ERROR_MESSAGE: Final = "unknown error"

REQUEST_ID_PREFIX: Final = "ctrl_"

_REQUEST: Final = "request"
_RESPONSE: Final = "response"
_NOTIFICATION: Final = "notification"


@attrs.frozen(kw_only=True)
class ControlRequest:
    method: str
    request_id: str
    data: Mapping[str, Any]


@attrs.frozen(kw_only=True)
class ControlErrorBody:
    code: str
    message: str


@attrs.frozen(kw_only=True)
class ControlResponse:
    """A runtime's answer.  Success is the absence of ``error``."""

    method: str
    request_id: str
    data: Mapping[str, Any] | None = None
    error: ControlErrorBody | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_exception(self) -> ControlRequestError | None:
        """The client-side error for a failed response (None on success)."""
        if self.error is None:
            return None
        return ControlRequestError(self.method, self.error.code, self.error.message)


@attrs.frozen(kw_only=True)
class ControlNotification:
    event: str
    data: Mapping[str, Any]


ControlMessage = ControlRequest | ControlResponse | ControlNotification


def request_id_for(n: int) -> str:
    """The official client's id for its ``n``-th request on a transport: ``"ctrl_<n>"``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise LocalProtocolError(f"n: expected a positive integer, got {n!r}")
    return f"{REQUEST_ID_PREFIX}{n}"


def ok_response(request: ControlRequest, data: Mapping[str, Any] | None = None) -> ControlResponse:
    """Success; ``data`` defaults to ``{}`` as the official runtime sends."""
    return ControlResponse(method=request.method, request_id=request.request_id,
                           data={} if data is None else data)


def error_response(request: ControlRequest, code: str, message: str) -> ControlResponse:
    return ControlResponse(method=request.method, request_id=request.request_id,
                           error=ControlErrorBody(code=code, message=message))


def unknown_method_response(request: ControlRequest) -> ControlResponse:
    return error_response(request, UNKNOWN_METHOD, f"Unknown method: {request.method!r}")


def track_name_of(message: ControlRequest | ControlNotification) -> str:
    """The ``data.name`` every track operation carries; DecodeError naming it otherwise."""
    return Fields(dict(message.data), "control.data").req_str("name")


# ---- encoding -----------------------------------------------------------------------------


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise LocalProtocolError(f"{what}: expected a string, got {type(value).__name__} "
                                 f"{value!r}")
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise LocalProtocolError(f"{what}: expected an object (a mapping), got "
                                 f"{type(value).__name__}")
    converted: dict[str, Any] = to_json_value(value, what)
    return converted


def encode_control(message: ControlMessage, *,
                   max_bytes: int = MAX_DATA_CHANNEL_MESSAGE_BYTES) -> str:
    """Compact JSON text; LocalProtocolError for fields JSON cannot carry, MessageTooLargeError
    above ``max_bytes``."""
    obj: dict[str, Any]
    if isinstance(message, ControlRequest):
        obj = {"type": _REQUEST, "method": _text(message.method, "method"),
               "request_id": _text(message.request_id, "request_id"),
               "data": _object(message.data, "data")}
        if not message.request_id:
            raise LocalProtocolError("request_id: a request needs a non-empty id")
    elif isinstance(message, ControlResponse):
        obj = {"type": _RESPONSE, "method": _text(message.method, "method"),
               "request_id": _text(message.request_id, "request_id")}
        if message.data is not None:
            obj["data"] = _object(message.data, "data")
        if message.error is not None:
            obj["error"] = {"code": _text(message.error.code, "error.code"),
                            "message": _text(message.error.message, "error.message")}
    elif isinstance(message, ControlNotification):
        obj = {"type": _NOTIFICATION, "event": _text(message.event, "event"),
               "data": _object(message.data, "data")}
    else:
        raise LocalProtocolError(f"message: not a control message: {type(message).__name__}")
    # Key names and codes are strings too; one more pass catches lone surrogates in them.
    text = dumps(to_json_value(obj, "control"))
    return check_outgoing_size(text, max_bytes, f"control {obj['type']}")


# ---- decoding -----------------------------------------------------------------------------


def _load(text: str | bytes, max_bytes: int) -> Fields:
    size = encoded_size(text, max_bytes)
    if size > max_bytes:
        raise DecodeError(f"control: {size} bytes exceeds the limit of {max_bytes} bytes",
                          field="control", value=size)
    return Fields(loads_bounded(text, what="control", max_bytes=max_bytes), "control")


def _or_default(value: str | None, default: str) -> str:
    return default if value is None else value


def decode_control(text: str | bytes, *,
                   max_bytes: int = MAX_DATA_CHANNEL_MESSAGE_BYTES) -> ControlMessage:
    """Parse one control frame.  DecodeError naming the field at fault.

    Requests need a non-empty ``request_id``, a ``method`` and a ``data`` object;
    notifications an ``event`` and a ``data`` object; no number may overflow to infinity and
    no string may hold a lone surrogate (either could never be sent back).  Responses are
    read as the official client reads them: ``method`` may be absent (``""``), an ``error``
    object means failure, and its ``code`` / ``message`` default to ``"UNKNOWN"`` /
    ``"unknown error"``.  Unknown keys are ignored.
    """
    fields = _load(text, max_bytes)
    check_wire_value(fields.raw, "control")
    kind = fields.req_str("type")
    if kind == _REQUEST:
        request_id = fields.req_str("request_id")
        if not request_id:
            raise DecodeError("control.request_id: must not be empty",
                              field="control.request_id", value=request_id)
        return ControlRequest(method=fields.req_str("method"), request_id=request_id,
                              data=fields.req_obj("data").raw)
    if kind == _RESPONSE:
        data = fields.opt_obj("data")
        error_fields = fields.opt_obj("error")
        error = None if error_fields is None else ControlErrorBody(
            code=_or_default(error_fields.opt_str("code"), DEFAULT_ERROR_CODE),
            message=_or_default(error_fields.opt_str("message"), DEFAULT_ERROR_MESSAGE),
        )
        return ControlResponse(method=fields.opt_str("method") or "",
                               request_id=fields.req_str("request_id"),
                               data=None if data is None else data.raw, error=error)
    if kind == _NOTIFICATION:
        return ControlNotification(event=fields.req_str("event"),
                                   data=fields.req_obj("data").raw)
    raise DecodeError(
        f"control.type: expected 'request', 'response' or 'notification', got {kind!r}",
        field="control.type", value=kind,
    )


def response_to_malformed(
    text: str | bytes, *, max_bytes: int = MAX_DATA_CHANNEL_MESSAGE_BYTES
) -> ControlResponse | None:
    """The ``INVALID_REQUEST`` answer a runtime owes a request :func:`decode_control` refused.

    None when the frame decodes fine or is not recognisably a request (garbage, responses and
    notifications get no answer).  ``method`` and ``request_id`` are echoed when they are
    strings, else ``""``; the message is the decode error's.
    """
    try:
        decode_control(text, max_bytes=max_bytes)
    except DecodeError as exc:
        reason = printable_path(exc.message)
    else:
        return None
    try:
        fields = _load(text, max_bytes)
    except DecodeError:
        return None
    if fields.raw.get("type") != _REQUEST:
        return None
    method = fields.raw.get("method")
    request_id = fields.raw.get("request_id")
    return ControlResponse(
        method=_echo(method),
        request_id=_echo(request_id),
        error=ControlErrorBody(code=INVALID_REQUEST, message=reason),
    )


def _echo(value: Any) -> str:
    """A field worth echoing back: a string that can be sent, else ``""``."""
    if not isinstance(value, str):
        return ""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return ""
    return value
