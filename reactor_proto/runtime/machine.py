"""The runtime (model host) session machine: one transition table, timers, the outbox.

Driving it (the whole adapter contract)::

    machine = RuntimeMachine(config, rng=random.Random())
    response = machine.handle_request(request, now)      # every HTTP request -> response
    machine.answer_created(cid, sdp, now)                  # outcome of a CreateAnswer action
    machine.transport_connected(cid, now)                  # peer connected + both channels open
    machine.data_message(cid, text, now); machine.control_message(cid, text, now)
    machine.transport_closed(cid, now)
    machine.handle_timeout(now)                            # at machine.next_deadline()
    for action in machine.drain_actions(): ...             # after EVERY call
    while (event := machine.next_event()) is not None: ... # model-facing events

Illegal inputs, by origin (why there is no sticky failed state): a server that locks up on
the first unexpected input hands every client a denial of service.  So input from the
network (HTTP requests, channel messages) is checked against the table *before* anything
changes, and a pair the table does not allow becomes the right HTTP error (400/404/409) or
a dropped / rejected message; nothing from the network can raise out of the machine.
Illegal calls by the adapter itself (``model_loaded`` twice, ``cleanup_complete`` outside
CLOSING, ``transport_connected`` before ``answer_created``) raise
:class:`~reactor_proto.errors.InvalidStateError` (a LocalProtocolError) and change nothing.
Reports about a connection the machine no longer tracks (or for a replaced negotiation, when
``negotiation_id`` is given) are stale, not illegal: they are dropped.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from typing import Any, Final

from ..envelope import Envelope, Scope, encode_envelope
from ..errors import InvalidStateError, LocalProtocolError, ReactorError
from ..http import HttpRequest, HttpResponse
from ..sdp import ensure_max_message_size, validate_sdp
from .actions import CloseTransport, RuntimeAction, SendData, TeardownSession
from .channels import Channels
from .config import RuntimeConfig
from .connections import Connection, ConnectionRegistry
from .descriptor import ModelDocuments
from .events import (
    ClientConnected,
    ClientDisconnected,
    DisconnectReason,
    InternalErrorOccurred,
    RuntimeEvent,
    SessionEnded,
    SessionStarted,
    SessionState,
    StateChanged,
)
from .outbox import Outbox
from .uploads import UploadStore


class Trigger(enum.Enum):
    MODEL_LOADED = "model_loaded"
    START = "start_session"
    FIRST_CONNECTED = "client_connected"
    LAST_DISCONNECTED = "client_disconnected"
    STOP = "stop_session"
    ORPHAN_TIMEOUT = "timeout"
    CLEANUP_COMPLETE = "cleanup_complete"


_S = SessionState
#: The whole session life cycle (PROTOCOL.md §1.5).  Self-loops (connections opening and
#: closing while others remain) change no state and are not listed.
TRANSITIONS: Final[Mapping[tuple[SessionState, Trigger], SessionState]] = {
    (_S.CREATED, Trigger.MODEL_LOADED): _S.READY,
    (_S.READY, Trigger.START): _S.WAITING,
    (_S.WAITING, Trigger.FIRST_CONNECTED): _S.STREAMING,
    (_S.ORPHANED, Trigger.FIRST_CONNECTED): _S.STREAMING,
    (_S.STREAMING, Trigger.LAST_DISCONNECTED): _S.ORPHANED,
    (_S.WAITING, Trigger.STOP): _S.CLOSING,
    (_S.STREAMING, Trigger.STOP): _S.CLOSING,
    (_S.ORPHANED, Trigger.STOP): _S.CLOSING,
    (_S.WAITING, Trigger.ORPHAN_TIMEOUT): _S.CLOSING,
    (_S.ORPHANED, Trigger.ORPHAN_TIMEOUT): _S.CLOSING,
    (_S.CLOSING, Trigger.CLEANUP_COMPLETE): _S.READY,
}
#: A session exists (transport routes and uploads are served).
RUNNING_STATES: Final = frozenset({_S.WAITING, _S.STREAMING, _S.ORPHANED})


class RuntimeMachine:
    """Sans-IO local runtime.  See the module docstring for how to drive it."""

    def __init__(self, config: RuntimeConfig, *, rng: random.Random) -> None:
        self.config = config
        self._rng = rng
        self.documents = ModelDocuments.build(config)
        self._outbox = Outbox()
        self.connections = ConnectionRegistry(max_connections=config.max_connections)
        self.uploads = UploadStore(max_upload_bytes=config.max_upload_bytes,
                                   max_total_bytes=config.max_total_upload_bytes,
                                   max_uploads=config.max_uploads)
        self.channels = Channels(config=config, documents=self.documents,
                                 registry=self.connections, uploads=self.uploads,
                                 outbox=self._outbox)
        self._state = _S.READY if config.start_ready else _S.CREATED
        self.orphan_deadline: float | None = None
        self._negotiations = 0
        self._ending_reason = ""

    # ---- queries --------------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def slots(self) -> Mapping[str, int]:
        """Input track name -> connection holding its publisher slot."""
        return dict(self.channels.slots)

    def allows(self, trigger: Trigger) -> bool:
        return (self._state, trigger) in TRANSITIONS

    def connected_users(self) -> int:
        return self.connections.installed_count()

    # ---- outbox ---------------------------------------------------------------------------

    def next_action(self) -> RuntimeAction | None:
        return self._outbox.actions.popleft() if self._outbox.actions else None

    def drain_actions(self) -> list[RuntimeAction]:
        drained = list(self._outbox.actions)
        self._outbox.actions.clear()
        return drained

    def next_event(self) -> RuntimeEvent | None:
        return self._outbox.events.popleft() if self._outbox.events else None

    # ---- the table ------------------------------------------------------------------------

    def _fire(self, trigger: Trigger, now: float) -> None:
        target = TRANSITIONS.get((self._state, trigger))
        if target is None:
            raise InvalidStateError(
                f"{trigger.value}: not allowed in state {self._state.value}")
        previous, self._state = self._state, target
        self._outbox.tell(StateChanged(previous=previous, state=target))
        if target in (_S.WAITING, _S.ORPHANED):
            timeout = self.config.orphan_timeout
            self.orphan_deadline = now + timeout if timeout > 0 else None
        else:
            self.orphan_deadline = None
        if target is _S.CLOSING:
            self._teardown(now)

    def _teardown(self, now: float) -> None:
        """Entering CLOSING: every connection, slot, upload and timer goes."""
        remaining = self.connections.installed_count()
        for conn in self.connections:
            if conn.has_transport:
                self._outbox.act(CloseTransport(connection_id=conn.connection_id))
            if conn.installed:
                remaining -= 1
                self._outbox.tell(ClientDisconnected(
                    connection_id=conn.connection_id, connected_users=remaining,
                    reason=DisconnectReason.SESSION_ENDED))
        self.channels.release_all_slots()
        self.connections.clear()
        self.uploads.clear()
        self._outbox.tell(SessionEnded(reason=self._ending_reason))
        if self.config.confirm_teardown:
            self._outbox.act(TeardownSession(reason=self._ending_reason))
        else:
            self._fire(Trigger.CLEANUP_COMPLETE, now)

    # ---- adapter inputs: model and session ------------------------------------------------

    def model_loaded(self, now: float) -> None:
        """The model finished loading: CREATED -> READY."""
        self._fire(Trigger.MODEL_LOADED, now)

    def cleanup_complete(self, now: float) -> None:
        """The teardown asked for by ``TeardownSession`` is done: CLOSING -> READY."""
        self._fire(Trigger.CLEANUP_COMPLETE, now)

    def start_session(self, extra_args: Mapping[str, Any], now: float) -> bool:
        """READY -> WAITING; False (no change) when a session runs or none can start."""
        if not self.allows(Trigger.START):
            return False
        self._fire(Trigger.START, now)
        self._outbox.tell(SessionStarted(extra_args=dict(extra_args)))
        return True

    def stop_session(self, reason: str, now: float) -> bool:
        """End the running session (stop_session route, or the host shutting down)."""
        if not self.allows(Trigger.STOP):
            return False
        self._ending_reason = reason
        self._fire(Trigger.STOP, now)
        return True

    # ---- adapter inputs: transports -------------------------------------------------------

    def _tracked(self, connection_id: int, negotiation_id: int | None) -> Connection | None:
        conn = self.connections.get(connection_id)
        if conn is None or (negotiation_id is not None and negotiation_id != conn.negotiation_id):
            return None
        return conn

    def rng_for_ids(self) -> random.Random:
        """The injected RNG (connection and upload ids are drawn from it)."""
        return self._rng

    def queue(self, action: RuntimeAction) -> None:
        """Queue an action (used by the routes)."""
        self._outbox.act(action)

    def next_negotiation_id(self) -> int:
        self._negotiations += 1
        return self._negotiations

    def answer_created(self, connection_id: int, sdp_answer: str, now: float, *,
                       negotiation_id: int | None = None) -> None:
        """The answerer is ready; its SDP becomes pollable with ``a=max-message-size``."""
        conn = self._tracked(connection_id, negotiation_id)
        if conn is None:
            return
        if not conn.awaiting_answer:
            raise InvalidStateError(
                f"answer_created: connection {connection_id} is not awaiting an answer")
        try:
            validate_sdp(sdp_answer)
            munged = ensure_max_message_size(sdp_answer, self.config.answer_max_message_size)
        except ReactorError as exc:
            raise LocalProtocolError(f"answer_created: sdp_answer: {exc.message}") from None
        conn.answer = munged

    def answer_failed(self, connection_id: int, reason: str, now: float, *,
                      negotiation_id: int | None = None) -> None:
        """The answerer could not be built; the answer poll gets 500 with ``reason``."""
        conn = self._tracked(connection_id, negotiation_id)
        if conn is None:
            return
        if not conn.awaiting_answer:
            raise InvalidStateError(
                f"answer_failed: connection {connection_id} is not awaiting an answer")
        conn.answer_error = str(reason) or "negotiation failed"

    def transport_connected(self, connection_id: int, now: float, *,
                            negotiation_id: int | None = None) -> None:
        """Peer connected and both channels open: install (or swap in) the transport."""
        conn = self._tracked(connection_id, negotiation_id)
        if conn is None:
            return
        if conn.answer is None:
            raise InvalidStateError(
                f"transport_connected: connection {connection_id} has no answer yet")
        first = not conn.installed
        conn.installed = True
        conn.negotiation_deadline = None
        self.channels.arm_watchdog(conn, now)
        if first:
            users = self.connections.installed_count()
            if users == 1 and self.allows(Trigger.FIRST_CONNECTED):
                self._fire(Trigger.FIRST_CONNECTED, now)
            self._outbox.tell(ClientConnected(connection_id=connection_id,
                                              connected_users=users))
        self.channels.on_installed(conn, first=first)

    def transport_closed(self, connection_id: int, now: float, *,
                         negotiation_id: int | None = None) -> None:
        """The connection's current transport closed: the connection is removed."""
        conn = self._tracked(connection_id, negotiation_id)
        if conn is not None:
            self.remove_connection(conn, DisconnectReason.CLOSED, now, close=False)

    def remove_connection(self, conn: Connection, reason: DisconnectReason, now: float, *,
                          close: bool) -> None:
        self.connections.remove(conn.connection_id)
        if close and conn.has_transport:
            self._outbox.act(CloseTransport(connection_id=conn.connection_id))
        self.channels.release_slots(conn.connection_id)
        if conn.installed:
            users = self.connections.installed_count()
            self._outbox.tell(ClientDisconnected(connection_id=conn.connection_id,
                                                 connected_users=users, reason=reason))
            if users == 0 and self.allows(Trigger.LAST_DISCONNECTED):
                self._fire(Trigger.LAST_DISCONNECTED, now)

    # ---- adapter inputs: channels ---------------------------------------------------------

    def _installed(self, connection_id: int) -> Connection | None:
        conn = self.connections.get(connection_id)
        return conn if conn is not None and conn.installed else None

    def data_message(self, connection_id: int, message: str | bytes, now: float) -> None:
        """A frame on the connection's ``data`` channel (dropped unless installed)."""
        conn = self._installed(connection_id)
        if conn is not None:
            self._guarded("data_message", lambda: self.channels.data_message(conn, message, now))

    def control_message(self, connection_id: int, message: str | bytes, now: float) -> None:
        """A frame on the connection's ``control`` channel (dropped unless installed)."""
        conn = self._installed(connection_id)
        if conn is not None:
            self._guarded("control_message", lambda: self.channels.control_message(conn, message))

    def _guarded(self, where: str, call: Any) -> None:
        try:
            call()
        except Exception as exc:  # defence in depth: network input must never raise
            self._outbox.tell(InternalErrorOccurred(where=where, error=repr(exc)[:500]))

    def send_model_message(self, type: str, data: Any, *, to: int | None = None,
                           now: float) -> int:
        """An application message from the model to one installed connection or all of
        them; returns the number of recipients (0 when ``to`` is gone: a benign race).
        LocalProtocolError / MessageTooLargeError when the message cannot be encoded."""
        text = encode_envelope(Envelope(scope=Scope.APPLICATION, type=type, data=data),
                               max_bytes=self.config.max_message_bytes)
        if to is None:
            targets = self.connections.installed()
        else:
            conn = self._installed(to)
            targets = [] if conn is None else [conn]
        for conn in targets:
            self._outbox.act(SendData(connection_id=conn.connection_id, text=text))
        return len(targets)

    # ---- HTTP -----------------------------------------------------------------------------

    def handle_request(self, request: HttpRequest, now: float) -> HttpResponse:
        """Answer one HTTP request (CORS headers included); never raises."""
        from .routes import dispatch, internal_error

        try:
            return dispatch(self, request, now)
        except Exception as exc:  # defence in depth: a bug must not kill the server
            self._outbox.tell(InternalErrorOccurred(where="handle_request",
                                                    error=repr(exc)[:500]))
            return internal_error(request)

    # ---- timers ---------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        deadlines: list[float] = []
        if self.orphan_deadline is not None:
            deadlines.append(self.orphan_deadline)
        for conn in self.connections:
            if conn.installed and conn.next_ping_check is not None:
                deadlines.append(conn.next_ping_check)
            elif not conn.installed and conn.negotiation_deadline is not None:
                deadlines.append(conn.negotiation_deadline)
        return min(deadlines) if deadlines else None

    def handle_timeout(self, now: float) -> None:
        """Run every timer due at ``now``; afterwards no deadline is ``<= now``."""
        for conn in self.channels.expired_watchdogs(now):
            self.remove_connection(conn, DisconnectReason.PING_TIMEOUT, now, close=True)
        for conn in self.connections:
            deadline = conn.negotiation_deadline
            if not conn.installed and deadline is not None and now >= deadline:
                self.remove_connection(conn, DisconnectReason.CLOSED, now, close=True)
        if self.orphan_deadline is not None and now >= self.orphan_deadline:
            self._ending_reason = "orphan_timeout"
            self._fire(Trigger.ORPHAN_TIMEOUT, now)
