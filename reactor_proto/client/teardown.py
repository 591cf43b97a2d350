"""Leaving a connection: close the peer, end the attempt, suspend, terminate or forget.

Which way a connection ends is decided here, by choosing the trigger: ``SUSPEND`` keeps the
session for a reconnect (F4, F5), ``TERMINATE`` ends a session we created (it may still
exist), ``FORGET`` drops one we may not or need not end (adopted, joined, or already gone).
"""

from __future__ import annotations

from ..errors import DisconnectedError, Failure, ReactorError, SessionGoneError, documented
from . import spare
from .actions import ClosePeer
from .events import NotificationFailed, OperationKind, SessionExpirationChanged
from .exchanges import Purpose
from .phases import FLOW_PHASES, Phase, Trigger
from .state import (
    ClientState,
    act,
    cancel_flow_exchanges,
    complete,
    emit,
    goto,
    report,
    set_session,
    start,
)
from .v1 import abandon as abandon_wire_requests

UPLOADS = (Purpose.UPLOAD_SLOT, Purpose.UPLOAD_PUT)


def close_peer(s: ClientState) -> None:
    """Close the current peer (if any) and forget everything tied to it."""
    if s.peer_id is not None:
        act(s, ClosePeer(peer_id=s.peer_id))
    s.peer_id = None
    s.peer_connected = False
    s.open_channels.clear()
    s.connection_id = None
    s.offer_sdp = None
    s.mids = {}
    if s.answer_identity is not None:
        s.previous_answer_identity = s.answer_identity
    s.answer_identity = None
    s.ping_due = None
    spare.leaving_ready(s)
    s.published.clear()
    lost = DisconnectedError("the connection closed before the runtime answered")
    for pending in s.control.fail_all():
        complete(s, pending.op, OperationKind.PUBLISH, error=lost)
    for queued in s.control.queued:
        failure = Failure.UNPUBLISH if queued.event == "unpublish_track" else Failure.OTHER
        emit(s, NotificationFailed(event=queued.event, track=queued.track,
                                   error=documented(DisconnectedError(
                                       "the connection attempt ended before the control "
                                       "channel opened"), failure)))
    s.control.queued.clear()
    abandon_wire_requests(s)
    for exchange in s.ex:
        if exchange.purpose in UPLOADS:
            complete(s, exchange.op, OperationKind.UPLOAD,
                     error=DisconnectedError("disconnected during the upload"))
    s.actions.extend(s.ex.cancel(lambda e: e.purpose in UPLOADS))


def end_flow(s: ClientState, error: ReactorError | None) -> None:
    """Complete the connect()/reconnect() operation in progress, if any (a failure is
    reported as CONNECTION_FAILED / RECONNECTION_FAILED, even for an automatic reconnect
    that has no operation)."""
    op, s.flow_op = s.flow_op, None
    complete(s, op, s.flow_kind, error=error)


def fail_flow(s: ClientState, error: ReactorError, now: float) -> None:
    """A connection attempt failed: report it, then keep or end the session."""
    if s.phase not in FLOW_PHASES:
        return
    end_flow(s, error)
    close_peer(s)
    cancel_flow_exchanges(s)
    session_gone = isinstance(error, SessionGoneError)
    if s.reconnecting and error.recoverable and not session_gone:
        goto(s, Trigger.SUSPEND, now)
        s.reconnecting = False
        schedule_auto_reconnect(s, now)
        return
    s.reconnecting = False
    leave_session(s, now, session_gone=session_gone)


def leave_session(s: ClientState, now: float, *, session_gone: bool = False,
                  reason: str | None = None) -> None:
    """End the session: terminate it if we created it (and it may exist), else forget."""
    s.reconnect_at = None
    s.grace_deadline = None
    if s.created_session and s.session_id is not None and not session_gone:
        goto(s, Trigger.TERMINATE, now)
        request = s.req.terminate(s.session_id, s.jwt, reason)
        start(s, Purpose.TERMINATE, request, now, flow=False)
        return
    goto(s, Trigger.FORGET, now)
    forget_session(s)


def forget_session(s: ClientState) -> None:
    spare.discard(s)
    s.created_session = False
    s.capabilities = None
    s.session_snapshot = None
    s.schema = None
    s.ice_servers = None
    s.tracks = ()
    s.user_paused.clear()
    s.previous_answer_identity = None
    if s.expires_at is not None:
        s.expires_at = None
        emit(s, SessionExpirationChanged(expires_at=None))
    set_session(s, None)
    ops, s.disconnect_ops = s.disconnect_ops, []
    for op in ops:
        complete(s, op, OperationKind.DISCONNECT)


def finish_termination(s: ClientState, error: ReactorError | None, now: float) -> None:
    if s.phase is not Phase.TERMINATING:
        return
    s.actions.extend(s.ex.cancel(lambda e: e.purpose not in UPLOADS))
    if error is not None:
        report(s, error, Failure.OTHER)
    goto(s, Trigger.TERMINATED, now)
    forget_session(s)


def schedule_auto_reconnect(s: ClientState, now: float) -> None:
    if not s.config.auto_reconnect or s.session_id is None:
        return
    if s.grace_deadline is None:
        s.grace_deadline = now + s.config.reconnect_grace
    at = now + s.config.reconnect_delay
    s.reconnect_at = at if at < s.grace_deadline else None
    if s.reconnect_at is None:
        give_up_reconnecting(s, now)


def give_up_reconnecting(s: ClientState, now: float) -> None:
    error = SessionGoneError(
        f"could not reconnect within the {s.config.reconnect_grace:g} s grace window; "
        "the session is presumed gone", component="gpu")
    report(s, error, Failure.RECONNECT)
    leave_session(s, now)
