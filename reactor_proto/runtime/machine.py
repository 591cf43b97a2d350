"""The runtime (model host) session machine: one transition table, timers, the outbox.

Driving it (the whole adapter contract)::

    machine = RuntimeMachine(config, rng=random.Random())
    response = machine.handle_request(request, now)      # every HTTP request -> response
    machine.answer_created(cid, sdp, now, negotiation_id=nid)  # outcome of a CreateAnswer
    machine.peer_state(cid, nid, "connected", now)         # what the peer reports: the machine
    machine.channel_opened(cid, nid, "data", now)          # decides when it is installed, and
    machine.channel_closed(cid, nid, "data", now)          # when it is lost (SwapPeer/ClosePeer)
    machine.data_message(cid, text, now); machine.control_message(cid, text, now)
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

from typing import Any

from ..envelope import Envelope, Scope, encode_envelope
from ..http import HttpRequest, HttpResponse
from .actions import SendData
from .connections import Connection
from .events import DisconnectReason, InternalErrorOccurred
from .routes import dispatch, internal_error
from .session import RUNNING_STATES, TRANSITIONS, SessionCore, Trigger
from .transports import LOST_PEER_STATES, TransportInputs

__all__ = ["LOST_PEER_STATES", "RUNNING_STATES", "TRANSITIONS", "RuntimeMachine",
           "SessionCore", "Trigger"]


class RuntimeMachine(TransportInputs):
    """Sans-IO local runtime.  See the module docstring for how to drive it."""

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
