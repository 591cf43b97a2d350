"""The client machine: the public operations, inbound channel messages and timers.

Driving it (the whole adapter contract)::

    machine = ClientMachine(config, rng=random.Random())
    op = machine.connect(now)
    while True:
        for action in machine.drain_actions():   # perform every action, after EVERY call
            ...
        while (event := machine.next_event()) is not None:
            ...                                   # OperationCompleted(op) ends the connect
        # wait for an I/O result or until machine.next_deadline(), then feed it:
        machine.http_response(request_id, response, now)  # or handle_timeout(now), ...

Operations return an operation id; their outcome arrives as ``OperationCompleted``.  Misuse
(wrong state, bad arguments, invalid command) raises at once and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..bodies import SessionSnapshot
from ..capabilities import Capabilities, TrackCapability
from ..control import ControlResponse, decode_control
from ..envelope import FileRef, Scope, decode_inbound, encode_command
from ..errors import (
    DecodeError,
    ErrorCode,
    InvalidStateError,
    LocalProtocolError,
    ReactorError,
)
from ..schema import ModelSchema, parse_openapi
from .actions import AttachTrack, DetachTrack, SendChannel
from .events import (
    MessageReceived,
    OperationKind,
    RuntimeMessageReceived,
    SchemaReceived,
)
from .exchanges import Purpose
from .flow import ABANDONED, FlowLayer, track_directions
from .phases import FLOW_PHASES, Phase, Trigger

_CONNECTING_PHASES = frozenset(FLOW_PHASES)


class ClientMachine(FlowLayer):
    """Sans-IO Reactor client.  See the module docstring for how to drive it."""

    # ---- queries -------------------------------------------------------------------------

    @property
    def session_id(self) -> str | None:
        return self._session_id

    @property
    def capabilities(self) -> Capabilities | None:
        return self._capabilities

    @property
    def session_info(self) -> SessionSnapshot | None:
        """The last session response (descriptor or readiness poll)."""
        return self._session_snapshot

    @property
    def schema(self) -> ModelSchema | None:
        return self._schema

    @property
    def tracks(self) -> tuple[TrackCapability, ...]:
        return self._tracks

    @property
    def last_error(self) -> ReactorError | None:
        return self._last_error

    @property
    def connection_id(self) -> int | None:
        return self._connection_id

    @property
    def peer_id(self) -> int | None:
        return self._peer_id

    @property
    def created_session(self) -> bool:
        return self._created_session

    @property
    def expires_at(self) -> float | None:
        return self._expires_at

    @property
    def max_message_bytes(self) -> int:
        return self._max_message_bytes

    @property
    def published_tracks(self) -> frozenset[str]:
        return frozenset(self._published)

    @property
    def paused_tracks(self) -> frozenset[str]:
        return frozenset(self._user_paused)

    def is_quiescent(self) -> bool:
        """True when nothing is in flight: idle/suspended/ready with no pending exchange."""
        return (self._phase in (Phase.IDLE, Phase.SUSPENDED, Phase.READY)
                and len(self._ex) == 0 and self._control.pending_count == 0)

    # ---- timers --------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest time at which :meth:`handle_timeout` has work to do."""
        times = [self._ex.next_deadline(), self._control.next_deadline(), self._ping_due,
                 self._reconnect_at, self._phase_deadline]
        present = [t for t in times if t is not None]
        return min(present) if present else None

    def handle_timeout(self, now: float) -> None:
        wake, late = self._ex.due(now)
        for exchange in late:
            if exchange.in_flight:
                self._expire_exchange(exchange, now)
        for exchange in wake:
            if exchange.wake_at is not None and exchange.wake_at <= now:
                self._send(exchange, now)
        for pending, error in self._control.expire(now):
            self._complete(pending.op, OperationKind.PUBLISH, error=error)
        if self._phase_deadline is not None and now >= self._phase_deadline:
            self._on_phase_deadline(now)
        if self._phase is Phase.READY and self._ping_due is not None and now >= self._ping_due:
            self._send_runtime("ping")
            self._ping_due = now + self.config.ping_interval
        if (self._phase is Phase.SUSPENDED and self._reconnect_at is not None
                and now >= self._reconnect_at):
            self._reconnect_at = None
            self._start_reconnect(now, op=None)

    def _on_phase_deadline(self, now: float) -> None:
        phase = self._phase
        if phase is Phase.TERMINATING:
            self._finish_termination(ReactorError(
                "terminating the session timed out; it will expire on the server",
                code=ErrorCode.REQUEST_TIMEOUT, recoverable=False), now)
            return
        if phase in _CONNECTING_PHASES:
            from ..errors import RequestTimeoutError, TransportError

            what = {
                Phase.PREPARING: "preparing the connection (ICE servers, registration, offer)",
                Phase.APPLYING_ANSWER: "applying the SDP answer",
                Phase.CONNECTING_TRANSPORT: "ICE/DTLS/SCTP connection to the runtime",
            }.get(phase, phase.value.replace("_", " "))
            error: ReactorError = RequestTimeoutError(f"{what} did not finish in time")
            if phase is Phase.CONNECTING_TRANSPORT:
                error = TransportError(f"{what} did not come up within "
                                       f"{self.config.deadlines.transport:g} s")
            self._fail_flow(error, now)

    # ---- connect / reconnect / disconnect --------------------------------------------------

    def connect(self, now: float, *, session_id: str | None = None,
                connection_id: int | None = None,
                auto_resume_tracks: bool | None = None) -> int:
        """Start connecting; the returned op completes when READY (or with the error)."""
        if self._phase is Phase.SUSPENDED:
            raise InvalidStateError(
                "connect(): a session is retained after a recoverable disconnect; call "
                "reconnect() to resume it or disconnect() to end it")
        if self._phase is not Phase.IDLE:
            raise InvalidStateError(f"connect(): already {self._status.value} "
                                    f"({self._phase.value})")
        if session_id is not None and self.config.local:
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
        op = self._new_op()
        self._flow_op, self._flow_kind = op, OperationKind.CONNECT
        self._reconnecting = False
        self._given_connection_id = connection_id
        self._auto_resume = (self.config.auto_resume_tracks if auto_resume_tracks is None
                             else auto_resume_tracks)
        self._last_error = None
        d = self.config.deadlines
        if self.config.api_key is not None and not self.config.local:
            self._goto(Phase.FETCHING_TOKEN, Trigger.CONNECT, now, d.token)
            if session_id is not None:
                self._created_session = False
                self._set_session(session_id)
            self._start(Purpose.TOKEN, self._req.token(), now)
        elif self.config.local:
            self._goto(Phase.CREATING_SESSION, Trigger.CONNECT, now, d.create_session)
            self._start(Purpose.START_SESSION, self._req.start_session(), now)
        elif session_id is not None:
            self._created_session = False
            self._goto(Phase.POLLING_SESSION, Trigger.CONNECT, now,
                       d.session_ready + d.http_request)
            self._set_session(session_id)
            self._begin_session_poll(now)
        else:
            self._goto(Phase.CREATING_SESSION, Trigger.CONNECT, now, d.create_session)
            self._start(Purpose.CREATE_SESSION, self._req.create_session(self._jwt), now)
        return op

    def reconnect(self, now: float) -> int:
        """Resume the retained session on a fresh connection (F7: raises when impossible)."""
        if self._session_id is None:
            raise InvalidStateError("reconnect(): there is no session to return to")
        if self._phase not in (Phase.SUSPENDED, Phase.READY):
            raise InvalidStateError(f"reconnect(): not possible while {self._phase.value}")
        op = self._new_op()
        if self._phase is Phase.READY:
            self._close_peer()
        self._start_reconnect(now, op=op)
        return op

    def _start_reconnect(self, now: float, *, op: int | None) -> None:
        self._flow_op, self._flow_kind = op, OperationKind.RECONNECT
        self._reconnect_at = None  # an explicit reconnect supersedes a scheduled one
        self._reconnecting = True
        d = self.config.deadlines
        if self.config.api_key is not None and not self.config.local:
            self._goto(Phase.FETCHING_TOKEN, Trigger.RECONNECT, now, d.token)
            self._start(Purpose.TOKEN, self._req.token(), now)
        elif not self.config.local:
            self._goto(Phase.POLLING_SESSION, Trigger.RECONNECT, now,
                       d.session_ready + d.http_request)
            self._begin_session_poll(now)
        else:
            self._enter_preparing(now, Trigger.RECONNECT)

    def disconnect(self, now: float, *, recoverable: bool = False,
                   reason: str | None = None) -> int:
        """End the connection; keep the session when ``recoverable`` (F4, F11).

        Cancels a connect in progress (its op completes with ``AbortedError``).  The returned
        op completes once the session is terminated (creator only) or at once otherwise.
        """
        op = self._new_op()
        phase = self._phase
        if phase is Phase.TERMINATING:
            self._disconnect_ops.append(op)
            return op
        if phase is Phase.IDLE or (phase is Phase.SUSPENDED and recoverable):
            self._complete(op, OperationKind.DISCONNECT)
            return op
        if phase in FLOW_PHASES:
            self._end_flow(self._abort_error("disconnect() was called"))
        if phase is Phase.CREATING_SESSION and self._abandon_create(now, op):
            return op
        self._close_peer()
        self._cancel_flow_exchanges()
        keep = recoverable and self._session_id is not None
        self._reconnecting = False
        if keep:
            self._goto(Phase.SUSPENDED, Trigger.DISCONNECT, now)
            self._complete(op, OperationKind.DISCONNECT)
            return op
        self._disconnect_ops.append(op)
        self._leave_session(Trigger.DISCONNECT, now, reason=reason)
        return op

    def _abandon_create(self, now: float, op: int) -> bool:
        """Cancelled while the session is being created: its id is not known yet, so wait
        (bounded) for the answer and end that session, instead of leaking it."""
        create = self._ex.find(Purpose.CREATE_SESSION) or self._ex.find(Purpose.START_SESSION)
        if create is None:
            return False
        create.flow = False
        create.context = ABANDONED
        self._cancel_flow_exchanges()
        self._reconnecting = False
        self._disconnect_ops.append(op)
        d = self.config.deadlines
        self._goto(Phase.TERMINATING, Trigger.DISCONNECT, now,
                   d.http_request + d.terminate)
        return True

    def abort(self, now: float) -> int:
        """Cancellation: abandon whatever is in progress and end the session we created."""
        return self.disconnect(now, recoverable=False, reason="client cancelled")

    # ---- commands, runtime messages, tracks ----------------------------------------------

    def _require_ready(self, what: str) -> None:
        if self._phase is not Phase.READY:
            raise InvalidStateError(f"{what}: the connection is {self._status.value}, "
                                    "not ready")

    def send_command(self, command: str, data: Any, now: float) -> None:
        """Validate (when the schema is known), encode and send one command (F1, F2, F24)."""
        self._require_ready(f"send_command({command!r})")
        if not isinstance(command, str) or not command:
            raise LocalProtocolError(f"command: expected a non-empty string, got {command!r}")
        payload = _as_mapping(command, data)
        if self.config.validate_commands and self._schema is not None:
            plain = {k: (v.to_json() if isinstance(v, FileRef) else v)
                     for k, v in payload.items()}
            checked = self._schema.validate(command, plain)
            payload = {k: (payload[k] if isinstance(payload.get(k), FileRef) else v)
                       for k, v in checked.items()}
        text = encode_command(command, payload, max_bytes=self._max_message_bytes)
        assert self._peer_id is not None
        self._act(SendChannel(peer_id=self._peer_id, channel="data", text=text))

    def send_runtime_message(self, type_: str, data: Mapping[str, Any] | None,
                             now: float) -> None:
        self._require_ready(f"send_runtime_message({type_!r})")
        self._send_runtime(type_, data)

    def request_schema(self, now: float) -> None:
        """Ask the runtime for its OpenAPI command schema (answered by ``modelSchema``)."""
        self.send_runtime_message("requestSchema", None, now)

    def _track(self, name: str, direction: str, what: str) -> TrackCapability:
        for track in self._tracks:
            if track.name == name:
                if track.direction != direction:
                    raise LocalProtocolError(
                        f"{what}({name!r}): track is {track.direction}, expected {direction}")
                return track
        known = ", ".join(t.name for t in self._tracks) or "none"
        raise LocalProtocolError(f"{what}({name!r}): unknown track (known: {known})")

    def publish_track(self, name: str, now: float) -> int:
        """Ask for the publisher slot of a sendonly track; AttachTrack follows a grant."""
        self._require_ready(f"publish_track({name!r})")
        self._track(name, "sendonly", "publish_track")
        if name in self._published:
            raise InvalidStateError(f"publish_track({name!r}): already published")
        if self._control.is_pending("publish_track", name):
            raise InvalidStateError(f"publish_track({name!r}): a publish is already pending")
        op = self._new_op()
        assert self._peer_id is not None
        text = self._control.request("publish_track", name, op, now,
                                     self.config.deadlines.control_request)
        self._act(SendChannel(peer_id=self._peer_id, channel="control", text=text))
        return op

    def unpublish_track(self, name: str, now: float) -> None:
        self._track(name, "sendonly", "unpublish_track")
        if name not in self._published:
            raise InvalidStateError(f"unpublish_track({name!r}): not published")
        self._published.discard(name)
        assert self._peer_id is not None
        self._act(DetachTrack(peer_id=self._peer_id, track=name))
        self._notify("unpublish_track", name)

    def pause_track(self, name: str, now: float) -> None:
        self._track(name, "recvonly", "pause_track")
        self._user_paused.add(name)
        self._notify("pause_track", name)

    def resume_track(self, name: str, now: float) -> None:
        self._track(name, "recvonly", "resume_track")
        self._user_paused.discard(name)
        self._notify("resume_track", name)

    def _notify(self, event: str, name: str) -> None:
        """Send now, queue while connecting (flushed at READY), refuse otherwise (F21)."""
        if self._phase is Phase.READY:
            self._send_control_notification(event, name)
        elif self._phase in _CONNECTING_PHASES:
            if len(self._control.queued) >= self.config.max_queued_notifications:
                raise InvalidStateError(f"{event}({name!r}): too many notifications queued "
                                        "while connecting")
            from .control_tracker import QueuedNotification

            self._control.queued.append(QueuedNotification(event=event, track=name))
        elif event in ("pause_track", "resume_track") and self._phase is Phase.SUSPENDED:
            pass  # remembered in _user_paused and applied by the next auto-resume
        else:
            raise InvalidStateError(f"{event}({name!r}): not connected "
                                    f"({self._status.value})")

    def upload(self, name: str, mime_type: str, data: bytes, now: float) -> int:
        """Upload a file to the session (§9); completes with a FileRef."""
        self._require_ready("upload_file")
        if not isinstance(data, bytes | bytearray | memoryview) or len(data) == 0:
            raise LocalProtocolError("upload_file: the file is empty")
        if not name or not mime_type:
            raise LocalProtocolError(f"upload_file: name and mime_type are required, got "
                                     f"{name!r}, {mime_type!r}")
        assert self._session_id is not None
        op = self._new_op()
        request = self._req.upload_slot(self._session_id, self._jwt, name, len(data),
                                        mime_type)
        self._start(Purpose.UPLOAD_SLOT, request, now, flow=False, op=op,
                    context=(name, mime_type, bytes(data)))
        return op

    # ---- inbound channel messages ----------------------------------------------------------

    def channel_message(self, peer_id: int, label: str, message: str | bytes,
                        now: float) -> None:
        if not self._is_current(peer_id):
            return
        if label == "control":
            self._on_control_message(message, now)
        else:
            self._on_data_message(message)

    def _on_data_message(self, message: str | bytes) -> None:
        try:
            inbound = decode_inbound(message)
        except DecodeError as exc:
            self._report(exc)
            return
        if inbound.scope is Scope.RUNTIME:
            self._on_runtime_message(inbound.payload)
            self._emit(RuntimeMessageReceived(payload=inbound.payload))
        else:
            self._emit(MessageReceived(payload=inbound.payload))

    def _on_runtime_message(self, payload: Any) -> None:
        kind = payload.get("type") if isinstance(payload, dict) else None
        data = payload.get("data") if isinstance(payload, dict) else None
        if kind == "modelSchema":
            try:
                schema = parse_openapi(data)
            except DecodeError as exc:
                self._report(exc)
                return
            if schema != self._schema:
                self._schema = schema
                self._emit(SchemaReceived(schema=schema))
        elif kind == "commandRejected" and isinstance(data, dict):
            self._report(ReactorError(
                f"the runtime rejected command {data.get('command')!r}: "
                f"{data.get('reason')}", code="COMMAND_REJECTED", component="gpu"))

    def _on_control_message(self, message: str | bytes, now: float) -> None:
        try:
            decoded = decode_control(message)
        except DecodeError as exc:
            self._report(exc)
            return
        if not isinstance(decoded, ControlResponse):
            return
        resolved = self._control.resolve(decoded)
        if resolved is None:
            return
        pending, error = resolved
        if error is None and pending.method == "publish_track":
            self._published.add(pending.track)
            assert self._peer_id is not None
            self._act(AttachTrack(peer_id=self._peer_id, track=pending.track))
        self._complete(pending.op, OperationKind.PUBLISH, error=error)

    def recvonly_tracks(self) -> list[str]:
        return track_directions(self._tracks, "recvonly")


def _as_mapping(command: str, data: Any) -> dict[str, Any]:
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

