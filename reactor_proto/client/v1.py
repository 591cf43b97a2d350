"""The client over the v1 wire (§6.8): what each outbound verb becomes, what replies mean.

The machine's handlers call here when the connection's :class:`~.wire.ConnectionWire` is
v1; the v0 paths are unchanged.  Requests (commands, ``request_schema``, ``publish_track``)
carry ids from the connection's :class:`~reactor_proto.wire_v1.Correlator`; each reply
completes its operation: a command with the model's reply (``{"type", "data"}``) or None
for an ack, a schema request with the OpenAPI document, a publish with the grant.  Error
replies become typed errors (§11.2): the base ``ReactorError`` with the runtime's code for
a command, :class:`ControlRequestError` for a publish; no reply in time is a
:class:`RequestTimeoutError`, a lost connection a :class:`DisconnectedError`.

Bad input never stops the connection (§6.8.1): a frame that does not decode, a reply to
nothing or a chunk error is reported as an ``error`` event and dropped; payloads the client
never asked for and unknown kinds are dropped in silence.  A clip request's reply completes
it with the ``Clip`` or a ``RecordingError`` (``clips.py`` maps them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..constants import CONTROL_CHANNEL, DATA_CHANNEL
from ..envelope import FileRef
from ..errors import (
    ControlRequestError,
    DecodeError,
    DisconnectedError,
    InvalidStateError,
    LocalProtocolError,
    ReactorError,
    RequestTimeoutError,
)
from ..recording import ClipRequest
from ..schema import parse_openapi
from ..wire_v1 import (
    Channel,
    ClientConnectionStat,
    ClientEnvironment,
    ClientStats,
    ClientTrackStat,
    ControlClientMessage,
    ControlServerMessage,
    DataClientMessage,
    DataServerMessage,
    Error,
    FileUploaded,
    MessageKind,
    ModelMessage,
    ModelSchema,
    Moderation,
    PauseTrack,
    Ping,
    PublishTrack,
    PublishTrackResponse,
    RequestSchema,
    RequestStep,
    ResumeTrack,
    SessionEnded,
    StepResult,
    TrackDirection,
    TrackKind,
    UnexpectedReplyError,
    UnpublishTrack,
)
from . import clips
from .actions import AttachTrack, SendChannel
from .events import MessageReceived, OperationKind, RuntimeMessageReceived, SchemaReceived
from .state import ClientState, act, complete, emit, report
from .stepping import DEFAULT_STEP_TIMEOUT, command_body, outcome
from .wire import CLIENT_STATS_INTERVAL, Purpose, Request, integral

_NOTICES = {"pause_track": PauseTrack, "resume_track": ResumeTrack,
            "unpublish_track": UnpublishTrack}
_KINDS = {Purpose.COMMAND: OperationKind.COMMAND, Purpose.SCHEMA: OperationKind.SCHEMA,
          Purpose.PUBLISH: OperationKind.PUBLISH, Purpose.STEP: OperationKind.STEP,
          Purpose.CLIP: OperationKind.CLIP}


# ---- sending -------------------------------------------------------------------------------


def _send(s: ClientState, channel: str, message: ControlClientMessage | DataClientMessage
          ) -> None:
    """Encode, cut into frames when chunking is on, queue; raises before queueing anything."""
    assert s.peer_id is not None
    from ..wire_v1.codec import encode  # protobuf loads on first use, not with the client

    frames = s.wire.frames(encode(message), s.max_message_bytes)
    for frame in frames:
        act(s, SendChannel(peer_id=s.peer_id, channel=channel, text=frame))


def _request(s: ClientState, purpose: Purpose, name: str, op: int | None, payload: Any,
             now: float, timeout: float) -> None:
    wire = s.wire
    if wire.correlator.in_flight >= wire.correlator.max_in_flight:  # refuse before sending
        raise InvalidStateError(f"{purpose.value} {name}: {wire.correlator.in_flight} "
                                "requests already wait for a reply on this connection")
    request_id = wire.correlator.new_id()
    channel = Channel.DATA if purpose in (Purpose.COMMAND, Purpose.STEP) else Channel.CONTROL
    if channel is Channel.DATA:
        _send(s, DATA_CHANNEL, DataClientMessage(
            request_id=request_id, kind=MessageKind.REQUEST, payload=payload))
    else:
        _send(s, CONTROL_CHANNEL, ControlClientMessage(
            request_id=request_id, kind=MessageKind.REQUEST, payload=payload))
    wire.correlator.begin(channel=channel, what=f"{purpose.value} {name}",
                          deadline=now + timeout, request_id=request_id)
    wire.requests[request_id] = Request(op=op, purpose=purpose, name=name, timeout=timeout)


def _notify(s: ClientState, payload: Any) -> None:
    _send(s, CONTROL_CHANNEL, ControlClientMessage(kind=MessageKind.NOTIFICATION,
                                                   payload=payload))


def send_command(s: ClientState, command: str, payload: Mapping[str, Any], op: int,
                 now: float) -> None:
    """A command as a REQUEST on ``data``; file arguments travel in ``uploads``."""
    body = command_body(command, payload)
    _request(s, Purpose.COMMAND, command, op, body, now, s.config.deadlines.command_reply)


def request_step(s: ClientState, body: RequestStep, op: int, now: float) -> None:
    """A step as a REQUEST on ``data`` (§15.3); the deadline is the step timeout."""
    timeout = s.config.step_timeout or DEFAULT_STEP_TIMEOUT
    _request(s, Purpose.STEP, "step", op, body, now, timeout)


def request_clip(s: ClientState, request: clips.ClipAsk, op: int, now: float,
                 timeout: float) -> None:
    """``request_clip``/``request_recording`` as a REQUEST on ``control`` (§10)."""
    name = "request_clip" if isinstance(request, ClipRequest) else "request_recording"
    _request(s, Purpose.CLIP, name, op, request.to_v1(), now, timeout)


def request_schema(s: ClientState, op: int | None, now: float) -> None:
    _request(s, Purpose.SCHEMA, "", op, RequestSchema(), now,
             s.config.deadlines.control_request)


def publish_track(s: ClientState, name: str, op: int, now: float) -> None:
    _request(s, Purpose.PUBLISH, name, op, PublishTrack(name=name), now,
             s.config.deadlines.control_request)


def notify_track(s: ClientState, event: str, name: str) -> None:
    _notify(s, _NOTICES[event](name=name))


def send_runtime(s: ClientState, type_: str, data: Mapping[str, object] | None,
                 now: float) -> None:
    """The v0 runtime messages v1 can carry; the rest have no v1 form (§6.8.5)."""
    if type_ == "ping":
        _notify(s, Ping())
    elif type_ == "requestSchema":
        request_schema(s, None, now)
    elif type_ == "fileUploaded":
        ref = FileRef.from_json(dict(data or {}), path="fileUploaded")
        _notify(s, FileUploaded(upload_id=ref.upload_id, name=ref.name,
                                mime_type=ref.mime_type, size=ref.size))
    else:
        raise LocalProtocolError(f"runtime message {type_!r} has no form on the v1 wire "
                                 "(connect with wire='v0' to send it)")


def first_frame(s: ClientState) -> None:
    """A Ping as soon as ``control`` opens: the runtime latches this connection on v1 at
    once (§6.8.1 "the safe first frame"), before any request that carries an id."""
    if not s.wire.pinged:
        s.wire.pinged = True
        _notify(s, Ping())


def send_stats(s: ClientState, now: float) -> None:
    """§6.8.9: one small batch, the tracks and who we are; the runtime never answers."""
    stamp = int(now * 1000)
    tracks = tuple(ClientTrackStat(
        timestamp=stamp, track_name=t.name,
        kind=TrackKind.AUDIO if t.kind == "audio" else TrackKind.VIDEO,
        direction=(TrackDirection.RECVONLY if t.direction == "recvonly"
                   else TrackDirection.SENDONLY),
        paused=t.name in s.user_paused) for t in s.tracks[:32])
    connection = ClientConnectionStat(timestamp=stamp, environment=ClientEnvironment(
        sdk_type=s.config.sdk_type, sdk_version=s.config.sdk_version))
    _notify(s, ClientStats(track_stats=tracks, connection_stat=connection))
    s.wire.stats_due = now + CLIENT_STATS_INTERVAL


# ---- receiving -----------------------------------------------------------------------------


def on_message(s: ClientState, label: str, message: bytes) -> None:
    from ..wire_v1.codec import decode  # protobuf loads on first use, not with the client

    try:
        decoded: ControlServerMessage | DataServerMessage = (
            decode(message, ControlServerMessage) if label == CONTROL_CHANNEL
            else decode(message, DataServerMessage))
    except DecodeError as exc:
        report(s, exc)
        return
    if decoded.kind is MessageKind.RESPONSE and decoded.request_id:
        _on_reply(s, decoded)
    elif isinstance(decoded, DataServerMessage):
        if isinstance(decoded.payload, ModelMessage):
            emit(s, MessageReceived(payload=_model(decoded.payload)))
    else:
        _on_control_notice(s, decoded.payload)


def _model(message: ModelMessage) -> dict[str, Any]:
    return {"type": message.type, "data": integral(message.data)}


def _on_control_notice(s: ClientState, payload: Any) -> None:
    """Session end and moderation, surfaced as the v0 runtime messages they replace."""
    if isinstance(payload, SessionEnded):
        emit(s, RuntimeMessageReceived(payload={"type": "sessionEnded",
                                                "data": {"reason": payload.reason}}))
    elif isinstance(payload, Moderation):
        emit(s, RuntimeMessageReceived(payload={"type": "moderation", "data": {
            "action": payload.action, "input_kind": payload.input_kind,
            "command": payload.command, "categories": list(payload.categories),
            "message": payload.message}}))


def _on_reply(s: ClientState, reply: DataServerMessage | ControlServerMessage) -> None:
    wire = s.wire
    try:
        wire.correlator.resolve(reply)
    except UnexpectedReplyError as exc:
        report(s, exc)  # a reply to nothing: dropped
        return
    request = wire.requests.pop(reply.request_id)
    payload = reply.payload
    kind = _KINDS[request.purpose]
    if request.purpose is Purpose.CLIP:
        clip, failed = ((None, clips.refused_error(payload.message))
                        if isinstance(payload, Error) else clips.v1_outcome(payload))
        complete(s, request.op, kind, value=clip, error=failed)
    elif isinstance(payload, Error):
        complete(s, request.op, kind, error=_reply_error(request, payload))
    elif request.purpose is Purpose.COMMAND and isinstance(payload, ModelMessage | None):
        value = None if payload is None else _model(payload)
        if value is not None:  # as on v0, where the reply is an application message
            emit(s, MessageReceived(payload=value))
        complete(s, request.op, kind, value=value)
    elif request.purpose is Purpose.SCHEMA and isinstance(payload, ModelSchema):
        document = dict(payload.openapi)
        try:
            schema = parse_openapi(document)
        except DecodeError as exc:
            report(s, exc)
            complete(s, request.op, kind, error=exc)
            return
        if schema != s.schema:
            s.schema = schema
            emit(s, SchemaReceived(schema=schema))
        complete(s, request.op, kind, value=document)
    elif request.purpose is Purpose.STEP and isinstance(payload, StepResult):
        complete(s, request.op, kind, value=payload, error=outcome(payload))
    elif request.purpose is Purpose.PUBLISH and isinstance(payload, PublishTrackResponse):
        s.published.add(request.name)
        assert s.peer_id is not None
        act(s, AttachTrack(peer_id=s.peer_id, track=request.name))
        complete(s, request.op, kind)
    else:
        error = DecodeError(f"reply to {request.purpose.value} {request.name!r} carries "
                            f"{type(payload).__name__}", field="payload")
        report(s, error)
        complete(s, request.op, kind, error=error)


def _reply_error(request: Request, error: Error) -> ReactorError:
    if request.purpose is Purpose.PUBLISH:
        return ControlRequestError("publish_track", error.code, error.message)
    what = (f"command {request.name!r}" if request.purpose is Purpose.COMMAND
            else request.purpose.value)
    return ReactorError(f"the runtime refused {what}: {error.message}",
                        code=error.code or "INTERNAL_ERROR", component="gpu")


# ---- timers and teardown -------------------------------------------------------------------


def expire(s: ClientState, now: float) -> None:
    wire = s.wire
    for pending in wire.correlator.expire(now):
        request = wire.requests.pop(pending.request_id)
        error: ReactorError = RequestTimeoutError(f"{pending.what}: no reply in time",
                                                  component="gpu")
        if request.purpose is Purpose.CLIP:
            error = clips.timeout_error(request.name, request.timeout)
        complete(s, request.op, _KINDS[request.purpose], error=error)
    clips.expire(s, now)
    while wire.schema_waiters and wire.schema_waiters[0][1] <= now:
        op, _ = wire.schema_waiters.popleft()
        complete(s, op, OperationKind.SCHEMA, error=RequestTimeoutError(
            "request_schema: no modelSchema in time", component="gpu"))
    if wire.stats_due is not None and now >= wire.stats_due:
        send_stats(s, now)


def abandon(s: ClientState) -> None:
    """The connection closed: everything in flight on it fails with DisconnectedError."""
    wire = s.wire
    lost = DisconnectedError("the connection closed before the runtime answered")
    for pending in wire.correlator.abandon_all():
        request = wire.requests.pop(pending.request_id)
        complete(s, request.op, _KINDS[request.purpose],
                 error=clips.lost_error() if request.purpose is Purpose.CLIP else lost)
    clips.abandon(s)
    while wire.schema_waiters:
        complete(s, wire.schema_waiters.popleft()[0], OperationKind.SCHEMA, error=lost)
    wire.stats_due = None
