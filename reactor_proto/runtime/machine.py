"""The runtime (model host) session machine: one transition table, timers, the outbox.

Driving it (the whole adapter contract)::

    machine = RuntimeMachine(config, rng=random.Random())
    response = machine.handle_request(request, now)      # every HTTP request -> response
    machine.answer_created(cid, sdp, now, negotiation_id=nid)  # outcome of a CreateAnswer
    machine.peer_state(cid, nid, "connected", now)         # what the peer reports: the machine
    machine.channel_opened(cid, nid, "data", now)          # decides when it is installed, and
    machine.channel_closed(cid, nid, "data", now)          # when it is lost (SwapPeer/ClosePeer)
    machine.data_message(cid, msg, now); machine.control_message(cid, msg, now)
    machine.command_done(cid, request_id, now, reply_type=..., reply_data=...)
    machine.drop_transport(cid, now)                       # the host drops a connection
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

from collections.abc import Mapping
from typing import Any

import attrs

from ..constants import CONTROL_CHANNEL, DATA_CHANNEL
from ..http import HttpRequest, HttpResponse
from ..recording.vocabulary import ClipReply
from ..wire_v1 import StepFileRef
from .connections import Connection
from .events import DisconnectReason, InternalErrorOccurred
from .routes import dispatch, internal_error
from .session import RUNNING_STATES, TRANSITIONS, SessionCore, Trigger
from .stepping import STEPS_COMPLETE, StepOutcome
from .transports import LOST_PEER_STATES, TransportInputs
from .wire import (
    INTERNAL_ERROR,
    INVALID_COMMAND,
    PUBLISH_REFUSED,
    UNRESOLVED_UPLOAD,
    ModelOut,
)

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_COMMAND",
    "LOST_PEER_STATES",
    "PUBLISH_REFUSED",
    "RUNNING_STATES",
    "TRANSITIONS",
    "UNRESOLVED_UPLOAD",
    "RuntimeMachine",
    "SessionCore",
    "Trigger",
]


class RuntimeMachine(TransportInputs):
    """Sans-IO local runtime.  See the module docstring for how to drive it."""

    # ---- adapter inputs: channels ---------------------------------------------------------

    def _installed(self, connection_id: int) -> Connection | None:
        conn = self.connections.get(connection_id)
        return conn if conn is not None and conn.installed else None

    def data_message(self, connection_id: int, message: str | bytes, now: float) -> None:
        """A frame on the connection's ``data`` channel (held until installed)."""
        self._frame(connection_id, DATA_CHANNEL, message, now)

    def control_message(self, connection_id: int, message: str | bytes, now: float) -> None:
        """A frame on the connection's ``control`` channel (held until installed)."""
        self._frame(connection_id, CONTROL_CHANNEL, message, now)

    def _frame(self, connection_id: int, label: str, message: str | bytes,
               now: float) -> None:
        conn = self.connections.get(connection_id)
        if conn is None:
            return
        if conn.installed:
            self._guarded(f"{label}_message",
                          lambda: self.channels.frame(conn, label, message, now))
        elif conn.has_transport:
            # §6.8.1: a client may speak as soon as its channels open, before the runtime
            # counts the connection as connected (1.13.0 resumes its output at once)
            self.channels.hold(conn, label, message)

    def _guarded(self, where: str, call: Any) -> None:
        try:
            call()
        except Exception as exc:  # defence in depth: network input must never raise
            self._outbox.tell(InternalErrorOccurred(where=where, error=repr(exc)[:500]))

    def send_model_message(self, type: str, data: Any, *, to: int | None = None,
                           now: float) -> int:
        """An application message from the model to one installed connection or all of
        them, in each one's wire; returns the number of recipients (0 when ``to`` is gone:
        a benign race).  LocalProtocolError / MessageTooLargeError when the message cannot
        be encoded (nothing is sent then)."""
        if to is None:
            targets = self.connections.installed()
        else:
            conn = self._installed(to)
            targets = [] if conn is None else [conn]
        # encoded for every wire in use before anything is queued: a message that cannot
        # be encoded raises without reaching anyone
        self.channels.send_model_message(targets, ModelOut(type=type, data=data))
        if to is None and self.config.step_results:
            self.stepper.broadcast(type, data)  # listed in the next stored step (§15.7)
        return len(targets)

    def command_done(self, connection_id: int, request_id: str, now: float, *,
                     reply_type: str | None = None, reply_data: Any = None) -> bool:
        """The model ran command ``request_id`` of ``CommandReceived``: its reply (a model
        message, or ``None`` for a bare acknowledgement) goes to the sender in its wire
        (v1: one correlated reply; v0: the reply message as plain JSON, no ack).  False
        when the connection is gone.  LocalProtocolError when the reply cannot be encoded
        (nothing is sent; report ``command_failed`` instead)."""
        conn = self._installed(connection_id)
        if conn is None:
            return False
        reply = None if reply_type is None else ModelOut(type=reply_type, data=reply_data)
        self.channels.command_done(conn, request_id, reply)
        return True

    def command_failed(self, connection_id: int, request_id: str, code: str, message: str,
                       now: float) -> bool:
        """The model's handler for ``request_id`` failed: v1 gets an ``error`` reply with
        ``code`` (``internal_error``, or the model's own), v0 nothing.  False when the
        connection is gone."""
        conn = self._installed(connection_id)
        if conn is None:
            return False
        self.channels.command_failed(conn, request_id, code, message)
        return True

    def clip_answered(self, connection_id: int, request_id: str, reply: ClipReply,
                      now: float) -> bool:
        """The recorder's answer to ``PrepareClip``: ``clipReady`` or ``clipFailed`` to the
        requester in its wire.  False when the connection is gone."""
        conn = self._installed(connection_id)
        if conn is None:
            return False
        self.channels.clip_reply(conn, request_id, reply)
        return True

    def step_finished(self, connection_id: int, request_id: str, epoch: int,
                      outcome: StepOutcome, now: float, *,
                      files: Mapping[str, tuple[str, bytes]] | None = None) -> bool:
        """The model is done with ``StepRequested`` (``epoch`` as given there): its
        ``step_result`` goes to the requester; the step that completes the session's
        ``steps`` ends it.  ``files`` (name -> (content type, bytes)) are kept for
        ``GET /sessions/{sid}/steps`` when ``RuntimeConfig.step_results`` is on, else
        dropped.  False when the report is stale (the session ended: the step was already
        answered ``SESSION_ENDED``) or the connection is gone."""
        result = self.stepper.finish(connection_id, request_id, epoch, outcome)
        if result is None:
            return False
        refs: tuple[StepFileRef, ...] = ()
        if result.step and self.config.step_results:
            refs = self.step_store.put(session_id=self.stepper.session_id, step=result.step,
                                       elapsed=result.elapsed_seconds, error=result.error,
                                       files=files or {},
                                       messages=self.stepper.take_broadcasts(), now=now)
        result = attrs.evolve(result, files=refs)
        conn = self._installed(connection_id)
        if conn is not None:
            self.channels.step_result(conn, request_id, result)
        if self.stepper.limit_reached():
            self.stop_session(STEPS_COMPLETE, now)
        return conn is not None

    # ---- HTTP -----------------------------------------------------------------------------

    def handle_request(self, request: HttpRequest, now: float) -> HttpResponse:
        """Answer one HTTP request (CORS headers included); never raises."""
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
            self._remove_connection(conn, DisconnectReason.PING_TIMEOUT, now, close=True)
        for conn in self.connections:
            deadline = conn.negotiation_deadline
            if not conn.installed and deadline is not None and now >= deadline:
                self._remove_connection(conn, DisconnectReason.CLOSED, now, close=True)
        if self.orphan_deadline is not None and now >= self.orphan_deadline:
            self._ending_reason = "orphan_timeout"
            self._fire(Trigger.ORPHAN_TIMEOUT, now)
