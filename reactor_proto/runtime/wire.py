"""Two wire formats, one vocabulary: the runtime's per-connection codecs (docs/protocol §6.8.1).

The channel logic (:mod:`.channels`) speaks the small typed vocabulary below and never looks
at bytes.  Each connection owns one codec object, chosen by what its first inbound message
sniffed as (:class:`~reactor_proto.wire_v1.WireLatch`):

* :class:`V0Codec` -- the JSON of §6.2-§6.6 (``data`` carries runtime messages, ``control``
  the JSON track protocol); acks and error replies do not exist there;
* :class:`V1Codec` -- protobuf (§6.8): model traffic on ``data``, everything else on
  ``control``, correlated replies under the client's request id.

Inbound, a codec turns one whole message into one :data:`Inbound` value; outbound, each
method returns the :class:`Outgoing` message to send, or ``None`` when that wire has no such
message (a v0 client gets no ack; a v1 client has no capabilities message).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeAlias

import attrs

from ..constants import CONTROL_CHANNEL, DATA_CHANNEL
from ..control import (
    PAUSE_TRACK,
    PUBLISH_TRACK,
    RESUME_TRACK,
    UNPUBLISH_TRACK,
    ControlNotification,
    ControlRequest,
    decode_control,
    encode_control,
    error_response,
    ok_response,
    response_to_malformed,
    unknown_method_response,
)
from ..envelope import (
    Envelope,
    FileRef,
    RuntimeMessageType,
    Scope,
    command_rejected,
    encode_envelope,
    parse_envelope,
)
from ..errors import LocalProtocolError, ReactorError
from ..recording.vocabulary import ClipReply, ClipRequest, RecordingRequest
from ..wire_v1 import (
    Command,
    ControlClientMessage,
    ControlServerMessage,
    DataClientMessage,
    DataServerMessage,
    Error,
    FileUploaded,
    MessageKind,
    ModelMessage,
    ModelSchema,
    PauseTrack,
    Ping,
    PublishTrack,
    PublishTrackResponse,
    RequestClip,
    RequestRecording,
    RequestSchema,
    RequestStep,
    ResumeTrack,
    SessionEnded,
    StepResult,
    UnpublishTrack,
    Wire,
    decode,
    encode,
)
from .descriptor import ModelDocuments

#: The v1 error codes the runtime itself puts on replies (§6.8.3).
INVALID_COMMAND = "invalid_command"
UNRESOLVED_UPLOAD = "unresolved_upload"
INTERNAL_ERROR = "internal_error"
PUBLISH_REFUSED = "publish_refused"
INTERNAL_ERROR_MESSAGE = "the command handler failed"


# ---- the vocabulary -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Outgoing:
    """One whole message for a channel: ``str`` goes out as text, ``bytes`` as binary."""

    channel: str
    payload: str | bytes


@attrs.frozen(kw_only=True)
class ModelOut:
    """A message from the model (a broadcast, or a command's reply): ``type`` and its
    JSON ``data`` (an object)."""

    type: str
    data: Any


@attrs.frozen(kw_only=True)
class PingIn:
    """A liveness ping."""


@attrs.frozen(kw_only=True)
class SchemaRequest:
    request_id: str


@attrs.frozen(kw_only=True)
class CapabilitiesRequest:
    request_id: str


@attrs.frozen(kw_only=True)
class UploadNotice:
    ref: FileRef


@attrs.frozen(kw_only=True)
class CommandIn:
    """An application command; ``request_id`` is ``None`` when a v1 client sent none (the
    runtime makes one up) and ``""`` on v0, which has no ids."""

    request_id: str | None
    envelope: Envelope


@attrs.frozen(kw_only=True)
class StepIn:
    """A ``request_step`` (v1 only, §15.3)."""

    request_id: str
    request: RequestStep


@attrs.frozen(kw_only=True)
class ClipAsk:
    """``requestClip`` / ``requestRecording`` (§10); ``""`` id on v0 (replies are FIFO)."""

    request_id: str
    request: ClipRequest | RecordingRequest


@attrs.frozen(kw_only=True)
class TrackVerb:
    """``publish_track`` (a request: answered), ``unpublish_track``, ``pause_track`` or
    ``resume_track`` (notifications); ``name`` is as received (checked by the caller)."""

    verb: str
    name: object
    request_id: str = ""


@attrs.frozen(kw_only=True)
class Refused:
    """A command that could not even be read: v0 answers ``commandRejected``."""

    command: str | None
    reason: str


@attrs.frozen(kw_only=True)
class DirectReply:
    """The codec already knows the whole answer (v0: a malformed or unknown control request)."""

    reply: Outgoing


@attrs.frozen(kw_only=True)
class Ignored:
    """Nothing to do (an unrouted payload, a response, a frame that does not decode)."""

    reason: str


Inbound: TypeAlias = (PingIn | SchemaRequest | CapabilitiesRequest | UploadNotice | CommandIn
                      | StepIn | ClipAsk | TrackVerb | Refused | DirectReply | Ignored)


# ---- v0 -----------------------------------------------------------------------------------


class V0Codec:
    """The JSON wire of §6.2-§6.6, exactly as before v1 existed."""

    wire = Wire.V0
    #: [R2]: only pings reset the watchdog
    any_message_is_alive = False

    def __init__(self, *, max_bytes: int, documents: ModelDocuments) -> None:
        self._max = max_bytes
        self._documents = documents

    def data_in(self, message: str | bytes) -> Inbound:
        size = len(message.encode("utf-8", "surrogatepass")) if isinstance(message, str) \
            else len(message)
        if size > self._max:  # checked before parsing
            return Refused(command=None, reason=f"message of {size} bytes exceeds the limit "
                                                f"of {self._max} bytes")
        try:
            envelope = parse_envelope(message, max_bytes=self._max)
        except ReactorError as exc:
            return Refused(command=None, reason=exc.message)
        if envelope.scope is Scope.APPLICATION:
            return CommandIn(request_id="", envelope=envelope)  # v0 has no ids
        kind = envelope.type
        if kind == RuntimeMessageType.PING:
            return PingIn()
        if kind == RuntimeMessageType.REQUEST_SCHEMA:
            return SchemaRequest(request_id="")
        if kind == RuntimeMessageType.REQUEST_CAPABILITIES:
            return CapabilitiesRequest(request_id="")
        if kind == RuntimeMessageType.FILE_UPLOADED:
            try:
                return UploadNotice(ref=FileRef.from_json(envelope.data, path="fileUploaded"))
            except ReactorError as exc:
                return Ignored(reason=exc.message)
        if kind == RuntimeMessageType.REQUEST_RECORDING:
            return ClipAsk(request_id="", request=RecordingRequest())  # its data is unused
        if kind == RuntimeMessageType.REQUEST_CLIP:
            try:
                return ClipAsk(request_id="", request=ClipRequest.from_json(envelope.data))
            except ReactorError:  # no duration at all: the validator's answer, as [R2]'s
                return ClipAsk(request_id="", request=ClipRequest(duration_seconds=math.nan))
        return Ignored(reason=f"runtime message {kind!r} is not served")

    def control_in(self, message: str | bytes) -> Inbound:
        try:
            decoded = decode_control(message, max_bytes=self._max)
        except ReactorError as exc:
            reply = response_to_malformed(message, max_bytes=self._max)
            if reply is None:
                return Ignored(reason=exc.message)
            return DirectReply(reply=Outgoing(channel=CONTROL_CHANNEL,
                                              payload=encode_control(reply)))
        if isinstance(decoded, ControlRequest):
            if decoded.method != PUBLISH_TRACK:
                return DirectReply(reply=Outgoing(
                    channel=CONTROL_CHANNEL,
                    payload=encode_control(unknown_method_response(decoded))))
            return TrackVerb(verb=PUBLISH_TRACK, name=decoded.data.get("name"),
                             request_id=decoded.request_id)
        if isinstance(decoded, ControlNotification):
            return TrackVerb(verb=decoded.event, name=decoded.data.get("name"))
        return Ignored(reason="control response: the runtime sends no requests")

    def command_refused(self, request_id: str, command: str | None, code: str,
                        reason: str) -> Outgoing | None:
        text = encode_envelope(command_rejected(command, reason[:1000]))
        return Outgoing(channel=DATA_CHANNEL, payload=text)

    def command_done(self, request_id: str, reply: ModelOut | None) -> Outgoing | None:
        # no acks on v0; a reply message still reaches the sender, as plain JSON
        return None if reply is None else self.model_message(reply)

    def command_failed(self, request_id: str, code: str, message: str) -> Outgoing | None:
        return None

    def model_message(self, message: ModelOut) -> Outgoing:
        text = encode_envelope(Envelope(scope=Scope.APPLICATION, type=message.type,
                                        data=message.data), max_bytes=self._max)
        return Outgoing(channel=DATA_CHANNEL, payload=text)

    def schema(self, request_id: str) -> Outgoing:
        return Outgoing(channel=DATA_CHANNEL, payload=self._documents.schema_message)

    def capabilities(self, request_id: str) -> Outgoing | None:
        return Outgoing(channel=DATA_CHANNEL, payload=self._documents.capabilities_message)

    def publish_reply(self, verb: TrackVerb, code: str | None, message: str) -> Outgoing:
        request = ControlRequest(method=PUBLISH_TRACK, request_id=verb.request_id,
                                 data={"name": verb.name})
        reply = (ok_response(request) if code is None
                 else error_response(request, code, message))
        return Outgoing(channel=CONTROL_CHANNEL, payload=encode_control(reply))

    def session_ended(self, reason: str) -> Outgoing | None:
        return None  # the v0 runtime just closes the transport ([R2])

    def clip_reply(self, request_id: str, reply: ClipReply) -> Outgoing:
        return Outgoing(channel=DATA_CHANNEL, payload=encode_envelope(reply.to_envelope()))


# ---- v1 -----------------------------------------------------------------------------------


def integral(value: Any) -> Any:
    """Struct carries only doubles: give integral numbers back as ``int`` so a command's
    integer parameters validate as they do on v0 (1.0 -> 1; 1.5 stays)."""
    if isinstance(value, float) and value.is_integer() and math.isfinite(value) \
            and abs(value) <= 2 ** 53:
        return int(value)
    if isinstance(value, Mapping):
        return {key: integral(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [integral(item) for item in value]
    return value


def _model_message(message: ModelOut) -> ModelMessage:
    data = {} if message.data is None else message.data
    if not isinstance(data, Mapping):
        raise LocalProtocolError(f"model message {message.type!r}: v1 carries an object as "
                                 f"data, got {type(data).__name__}")
    return ModelMessage(type=message.type, data=data)


def _file_ref(upload: FileUploaded | Any) -> FileRef:
    return FileRef(upload_id=upload.upload_id, name=upload.name, mime_type=upload.mime_type,
                   size=max(int(upload.size), 0))


class V1Codec:
    """The protobuf wire of §6.8."""

    wire = Wire.V1
    #: §6.8.9: there is no pong, and any inbound message is a sign of life
    any_message_is_alive = True

    def __init__(self, *, max_bytes: int, documents: ModelDocuments) -> None:
        self._max = max_bytes
        self._documents = documents
        self._schema: ModelSchema | None = None

    def data_in(self, message: str | bytes) -> Inbound:
        if isinstance(message, str):
            return Ignored(reason="text frame on a v1 connection")
        try:
            decoded = decode(message, DataClientMessage, max_bytes=self._max)
        except ReactorError as exc:
            return Ignored(reason=exc.message)
        payload = decoded.payload
        if isinstance(payload, RequestStep):
            return StepIn(request_id=decoded.request_id, request=payload)
        if not isinstance(payload, Command):
            return Ignored(reason=f"data payload {type(payload).__name__} is not routed")
        try:
            uploads = {name: _file_ref(ref) for name, ref in payload.uploads.items()}
        except ReactorError as exc:
            return Ignored(reason=exc.message)
        envelope = Envelope(scope=Scope.APPLICATION, type=payload.type,
                            data=integral(payload.data), uploads=uploads or None)
        return CommandIn(request_id=decoded.request_id or None, envelope=envelope)

    def control_in(self, message: str | bytes) -> Inbound:
        if isinstance(message, str):
            return Ignored(reason="text frame on a v1 connection")
        try:
            decoded = decode(message, ControlClientMessage, max_bytes=self._max)
        except ReactorError as exc:
            return Ignored(reason=exc.message)
        payload, request_id = decoded.payload, decoded.request_id
        match payload:
            case Ping():
                return PingIn()
            case RequestSchema():
                return SchemaRequest(request_id=request_id)
            case FileUploaded():
                try:
                    return UploadNotice(ref=_file_ref(payload))
                except ReactorError as exc:
                    return Ignored(reason=exc.message)
            case PublishTrack(name=name):
                return TrackVerb(verb=PUBLISH_TRACK, name=name, request_id=request_id)
            case UnpublishTrack(name=name):
                return TrackVerb(verb=UNPUBLISH_TRACK, name=name)
            case PauseTrack(name=name):
                return TrackVerb(verb=PAUSE_TRACK, name=name)
            case ResumeTrack(name=name):
                return TrackVerb(verb=RESUME_TRACK, name=name)
            case RequestClip():
                return ClipAsk(request_id=request_id, request=ClipRequest.from_v1(payload))
            case RequestRecording():
                return ClipAsk(request_id=request_id, request=RecordingRequest())
        # client stats are consumed; errors are not routed (§6.8.4)
        return Ignored(reason=f"control payload {type(payload).__name__} is not routed")

    def _data(self, request_id: str, payload: Any, kind: MessageKind) -> Outgoing:
        body = encode(DataServerMessage(request_id=request_id, kind=kind, payload=payload))
        return Outgoing(channel=DATA_CHANNEL, payload=body)

    def _control(self, request_id: str, payload: Any, kind: MessageKind) -> Outgoing:
        body = encode(ControlServerMessage(request_id=request_id, kind=kind, payload=payload))
        return Outgoing(channel=CONTROL_CHANNEL, payload=body)

    def command_refused(self, request_id: str, command: str | None, code: str,
                        reason: str) -> Outgoing | None:
        return self._data(request_id, Error(code=code, message=reason[:1000]),
                          MessageKind.RESPONSE)

    def command_done(self, request_id: str, reply: ModelOut | None) -> Outgoing | None:
        payload = None if reply is None else _model_message(reply)
        return self._data(request_id, payload, MessageKind.RESPONSE)  # None: the ack

    def command_failed(self, request_id: str, code: str, message: str) -> Outgoing | None:
        return self._data(request_id, Error(code=code, message=message[:1000]),
                          MessageKind.RESPONSE)

    def model_message(self, message: ModelOut) -> Outgoing:
        return self._data("", _model_message(message), MessageKind.NOTIFICATION)

    def step_result(self, request_id: str, result: StepResult) -> Outgoing:
        """The answer to a ``request_step`` (§15.5), under the request's id."""
        return self._data(request_id, result, MessageKind.RESPONSE)

    def schema(self, request_id: str) -> Outgoing:
        if self._schema is None:  # converted once: the document does not change
            self._schema = ModelSchema(openapi=self._documents.openapi)
        return self._control(request_id, self._schema, MessageKind.RESPONSE)

    def capabilities(self, request_id: str) -> Outgoing | None:
        return None  # v1 has no capabilities message: they are in the descriptor (§7.1)

    def publish_reply(self, verb: TrackVerb, code: str | None, message: str) -> Outgoing:
        if code is None:
            return self._control(verb.request_id, PublishTrackResponse(name=""),
                                 MessageKind.RESPONSE)
        return self._control(verb.request_id, Error(code=PUBLISH_REFUSED, message=message),
                             MessageKind.RESPONSE)

    def session_ended(self, reason: str) -> Outgoing | None:
        return self._control("", SessionEnded(reason=reason), MessageKind.NOTIFICATION)

    def clip_reply(self, request_id: str, reply: ClipReply) -> Outgoing:
        return self._control(request_id, reply.to_v1(), MessageKind.RESPONSE)


RuntimeCodec: TypeAlias = V0Codec | V1Codec
