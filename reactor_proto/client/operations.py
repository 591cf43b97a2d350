"""The user's operations: connect, reconnect, disconnect, commands, tracks and uploads.

Each returns an operation id (its outcome arrives as ``OperationCompleted``) or nothing;
misuse (wrong state, bad arguments, an invalid command) raises at once and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..capabilities import TrackCapability
from ..envelope import FileRef
from ..errors import InvalidStateError, LocalProtocolError
from . import wire_ops
from .actions import DetachTrack, SendChannel
from .control_tracker import QueuedNotification
from .events import OperationKind
from .exchanges import ABANDONED, Purpose
from .flow import begin_connect, begin_reconnect, send_control_notification
from .phases import FLOW_PHASES, Phase, Trigger
from .state import (
    ClientState,
    abort_error,
    act,
    cancel_flow_exchanges,
    complete,
    goto,
    new_op,
    start,
)
from .teardown import close_peer, end_flow, leave_session

# ---- connect / reconnect / disconnect ------------------------------------------------------


def connect(s: ClientState, now: float, *, session_id: str | None,
            connection_id: int | None, auto_resume_tracks: bool | None) -> int:
    if s.phase is Phase.SUSPENDED:
        raise InvalidStateError(
            "connect(): a session is retained after a recoverable disconnect; call "
            "reconnect() to resume it or disconnect() to end it")
    if s.phase is not Phase.IDLE:
        raise InvalidStateError(f"connect(): already {s.status.value} ({s.phase.value})")
    if session_id is not None and s.config.local:
        raise LocalProtocolError("connect(session_id=...): sessions cannot be adopted "
                                 "in local mode")
    if session_id is not None and (not isinstance(session_id, str) or not session_id):
        raise LocalProtocolError(f"session_id: expected a non-empty string, got "
                                 f"{session_id!r}")
    if connection_id is not None and (
            isinstance(connection_id, bool) or not isinstance(connection_id, int)
            or not 1000 <= connection_id <= 9999):
        raise LocalProtocolError(f"connection_id: expected an integer in 1000..9999, "
                                 f"got {connection_id!r}")
    op = new_op(s)
    s.flow_op, s.flow_kind = op, OperationKind.CONNECT
    s.reconnecting = False
    s.given_connection_id = connection_id
    s.auto_resume = (s.config.auto_resume_tracks if auto_resume_tracks is None
                     else auto_resume_tracks)
    s.last_error = None
    begin_connect(s, now, session_id)
    return op


def reconnect(s: ClientState, now: float) -> int:
    if s.session_id is None:
        raise InvalidStateError("reconnect(): there is no session to return to")
    if s.phase not in (Phase.SUSPENDED, Phase.READY):
        raise InvalidStateError(f"reconnect(): not possible while {s.phase.value}")
    op = new_op(s)
    if s.phase is Phase.READY:
        close_peer(s)
    begin_reconnect(s, now, op=op)
    return op


def disconnect(s: ClientState, now: float, *, recoverable: bool, reason: str | None) -> int:
    op = new_op(s)
    phase = s.phase
    if phase is Phase.TERMINATING:
        s.disconnect_ops.append(op)
        return op
    if phase is Phase.IDLE or (phase is Phase.SUSPENDED and recoverable):
        complete(s, op, OperationKind.DISCONNECT)
        return op
    if phase in FLOW_PHASES:
        end_flow(s, abort_error(s, "disconnect() was called"))
    if phase is Phase.CREATING_SESSION and abandon_create(s, now, op):
        return op
    close_peer(s)
    cancel_flow_exchanges(s)
    keep = recoverable and s.session_id is not None
    s.reconnecting = False
    if keep:
        goto(s, Trigger.SUSPEND, now)
        complete(s, op, OperationKind.DISCONNECT)
        return op
    s.disconnect_ops.append(op)
    leave_session(s, now, reason=reason)
    return op


def abandon_create(s: ClientState, now: float, op: int) -> bool:
    """Cancelled while the session is being created: its id is not known yet, so wait
    (bounded) for the answer and end that session, instead of leaking it."""
    create = s.ex.find(Purpose.CREATE_SESSION) or s.ex.find(Purpose.START_SESSION)
    if create is None:
        return False
    create.flow = False
    create.context = ABANDONED
    cancel_flow_exchanges(s)
    s.reconnecting = False
    s.disconnect_ops.append(op)
    d = s.config.deadlines
    goto(s, Trigger.TERMINATE, now, budget=d.http_request + d.terminate)
    return True


# ---- commands and tracks -------------------------------------------------------------------


def require_ready(s: ClientState, what: str) -> None:
    if s.phase is Phase.IDLE:
        raise InvalidStateError(f"{what}: not connected; call connect() first (it returns "
                                "once the connection is ready)")
    if s.phase is not Phase.READY:
        raise InvalidStateError(f"{what}: the connection is {s.status.value}, not ready")


def send_command(s: ClientState, command: str, data: Any, now: float = 0.0) -> int:
    require_ready(s, f"send_command({command!r})")
    if not isinstance(command, str) or not command:
        raise LocalProtocolError(f"command: expected a non-empty string, got {command!r}")
    payload = as_mapping(command, data)
    if s.config.validate_commands and s.schema is not None:
        plain = {k: (v.to_json() if isinstance(v, FileRef) else v) for k, v in payload.items()}
        checked = s.schema.validate(command, plain)
        payload = {k: (payload[k] if isinstance(payload.get(k), FileRef) else v)
                   for k, v in checked.items()}
    return wire_ops.send_command(s, command, payload, now)  # the op gets the reply (v1)


def find_track(s: ClientState, name: str, direction: str, what: str) -> TrackCapability:
    for track in s.tracks:
        if track.name == name:
            if track.direction != direction:
                raise LocalProtocolError(
                    f"{what}({name!r}): track is {track.direction}, expected {direction}")
            return track
    known = ", ".join(t.name for t in s.tracks) or "none"
    raise LocalProtocolError(f"{what}({name!r}): unknown track (known: {known})")


def publish_track(s: ClientState, name: str, now: float) -> int:
    require_ready(s, f"publish_track({name!r})")
    find_track(s, name, "sendonly", "publish_track")
    if name in s.published:
        raise InvalidStateError(f"publish_track({name!r}): already published")
    if s.control.is_pending("publish_track", name) or wire_ops.publish_pending(s, name):
        raise InvalidStateError(f"publish_track({name!r}): a publish is already pending")
    op = new_op(s)
    assert s.peer_id is not None
    if s.wire.is_v1:
        wire_ops.publish_track_v1(s, name, op, now)
        return op
    text = s.control.request("publish_track", name, op, now,
                             s.config.deadlines.control_request)
    act(s, SendChannel(peer_id=s.peer_id, channel="control", text=text))
    return op


def unpublish_track(s: ClientState, name: str) -> None:
    find_track(s, name, "sendonly", "unpublish_track")
    if name not in s.published:
        raise InvalidStateError(f"unpublish_track({name!r}): not published")
    s.published.discard(name)
    assert s.peer_id is not None
    act(s, DetachTrack(peer_id=s.peer_id, track=name))
    notify(s, "unpublish_track", name)


def set_paused(s: ClientState, name: str, paused: bool) -> None:
    event = "pause_track" if paused else "resume_track"
    find_track(s, name, "recvonly", event)
    if paused:
        s.user_paused.add(name)
    else:
        s.user_paused.discard(name)
    notify(s, event, name)


def notify(s: ClientState, event: str, name: str) -> None:
    """Send now, queue while connecting (flushed at READY), refuse otherwise (F21)."""
    if s.phase is Phase.READY:
        send_control_notification(s, event, name)
    elif s.phase in FLOW_PHASES:
        if len(s.control.queued) >= s.config.max_queued_notifications:
            raise InvalidStateError(f"{event}({name!r}): too many notifications queued "
                                    "while connecting")
        s.control.queued.append(QueuedNotification(event=event, track=name))
    elif event in ("pause_track", "resume_track") and s.phase is Phase.SUSPENDED:
        pass  # remembered in user_paused and applied by the next auto-resume
    else:
        raise InvalidStateError(f"{event}({name!r}): not connected ({s.status.value})")


def upload(s: ClientState, name: str, mime_type: str, data: bytes, now: float) -> int:
    require_ready(s, "upload_file")
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) == 0:
        raise LocalProtocolError("upload_file: the file is empty")
    if not name or not mime_type:
        raise LocalProtocolError(f"upload_file: name and mime_type are required, got "
                                 f"{name!r}, {mime_type!r}")
    assert s.session_id is not None
    op = new_op(s)
    request = s.req.upload_slot(s.session_id, s.jwt, name, len(data), mime_type)
    start(s, Purpose.UPLOAD_SLOT, request, now, flow=False, op=op,
          context=(name, mime_type, bytes(data)))
    return op


def as_mapping(command: str, data: Any) -> dict[str, Any]:
    """Command data: a mapping, None (no arguments), or a JSON object text (as S08 allows)."""
    if data is None:
        return {}
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise LocalProtocolError(f"send_command({command!r}): data is a string but not "
                                     f"JSON ({exc})") from None
    if not isinstance(data, Mapping):
        raise LocalProtocolError(f"send_command({command!r}): data must be an object, got "
                                 f"{type(data).__name__}")
    for key in data:
        if not isinstance(key, str):
            raise LocalProtocolError(f"send_command({command!r}): key {key!r} is not a string")
    return dict(data)
