"""State and plumbing of the client machine: outbox, events, phase changes, teardown.

The machine is split in three layers, each a file: this one (state, phase changes, ending a
connection attempt, terminating a session), ``flow.py`` (the connect pipeline: HTTP
results, peer inputs) and ``machine.py`` (the public operations and the timer entry point).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator

from ..bodies import IceServer, SessionSnapshot
from ..capabilities import Capabilities, TrackCapability
from ..constants import CONTROL_CHANNEL, DATA_CHANNEL, MAX_DATA_CHANNEL_MESSAGE_BYTES
from ..errors import (
    AbortedError,
    DisconnectedError,
    LocalProtocolError,
    ReactorError,
    SessionGoneError,
)
from ..schema import ModelSchema
from .actions import CancelHttp, ClientAction, ClosePeer, SendHttp
from .config import ClientConfig
from .control_tracker import ControlTracker
from .events import (
    ClientEvent,
    ErrorOccurred,
    NotificationFailed,
    OperationCompleted,
    OperationKind,
    ReactorStatus,
    SessionIdChanged,
    StatusChanged,
)
from .exchanges import Exchange, ExchangeTable, Purpose
from .phases import FLOW_PHASES, STATUS_EDGES, TRANSITIONS, Phase, Trigger, status_for
from .requests import RequestBuilder


class MachineCore:
    """Shared state; see the module docstring for how the layers divide the work."""

    def __init__(self, config: ClientConfig, *, rng: random.Random) -> None:
        config.check()
        self.config = config
        self._rng = rng
        self._req = RequestBuilder(config)
        self._phase = Phase.IDLE
        self._status = ReactorStatus.DISCONNECTED
        self._events: deque[ClientEvent] = deque()
        self._actions: deque[ClientAction] = deque()
        self._ex = ExchangeTable()
        self._next_op = 0
        self._closed_peers: set[int] = set()
        # Session-level state (kept across recoverable disconnects).
        self._jwt: str | None = config.jwt
        self._session_id: str | None = None
        self._created_session = False
        self._capabilities: Capabilities | None = None
        self._session_snapshot: SessionSnapshot | None = None
        self._schema: ModelSchema | None = None
        self._expires_at: float | None = None
        self._ice_servers: tuple[IceServer, ...] | None = None
        self._tracks: tuple[TrackCapability, ...] = ()
        self._last_error: ReactorError | None = None
        # Connection-attempt state.
        self._flow_op: int | None = None
        self._flow_kind = OperationKind.CONNECT
        self._reconnecting = False
        self._phase_deadline: float | None = None
        self._poll_until: float | None = None
        self._given_connection_id: int | None = None
        self._connection_id: int | None = None
        self._peer_id: int | None = None
        self._next_peer_id = 0
        self._offer_sdp: str | None = None
        self._mids: dict[str, str] = {}
        self._answer_identity: tuple[str | None, str | None] | None = None
        self._previous_answer_identity: tuple[str | None, str | None] | None = None
        self._peer_connected = False
        self._open_channels: set[str] = set()
        self._max_message_bytes = MAX_DATA_CHANNEL_MESSAGE_BYTES
        self._auto_resume = config.auto_resume_tracks
        # READY-time state.
        self._control = ControlTracker()
        self._ping_due: float | None = None
        self._user_paused: set[str] = set()
        self._published: set[str] = set()
        # Recovery and teardown.
        self._reconnect_at: float | None = None
        self._grace_deadline: float | None = None
        self._disconnect_ops: list[int] = []

    # ---- outbox and events ---------------------------------------------------------------

    def next_action(self) -> ClientAction | None:
        return self._actions.popleft() if self._actions else None

    def drain_actions(self) -> list[ClientAction]:
        actions = list(self._actions)
        self._actions.clear()
        return actions

    def next_event(self) -> ClientEvent | None:
        return self._events.popleft() if self._events else None

    def drain_events(self) -> list[ClientEvent]:
        events = list(self._events)
        self._events.clear()
        return events

    def pending_actions(self) -> Iterator[ClientAction]:
        return iter(self._actions)

    def _emit(self, event: ClientEvent) -> None:
        self._events.append(event)

    def _act(self, action: ClientAction) -> None:
        self._actions.append(action)

    def _new_op(self) -> int:
        self._next_op += 1
        return self._next_op

    def _complete(self, op: int | None, kind: OperationKind, *, value: object = None,
                  error: ReactorError | None = None) -> None:
        if op is not None:
            self._emit(OperationCompleted(op=op, kind=kind, value=value, error=error))

    def _report(self, error: ReactorError) -> None:
        self._last_error = error
        self._emit(ErrorOccurred(error=error))

    # ---- phases and status ---------------------------------------------------------------

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def status(self) -> ReactorStatus:
        return self._status

    def _goto(self, target: Phase, trigger: Trigger, now: float,
              budget: float | None = None) -> None:
        if (self._phase, trigger, target) not in TRANSITIONS:
            bad = f"{self._phase.value} --{trigger.value}--> {target.value}"
            self._phase = Phase.FAILED
            raise LocalProtocolError(f"client machine: illegal transition {bad}")
        self._phase = target
        self._phase_deadline = None if budget is None else now + budget
        self._set_status(status_for(target, reconnecting=self._reconnecting))

    def _set_status(self, status: ReactorStatus) -> None:
        previous = self._status
        if status is previous:
            return
        if (previous, status) not in STATUS_EDGES:
            # Entering ``waiting`` from ``disconnected`` passes through ``connecting``.
            self._set_status(ReactorStatus.CONNECTING)
            previous = self._status
        assert (previous, status) in STATUS_EDGES, (previous, status)
        self._status = status
        self._emit(StatusChanged(status=status, previous=previous))

    def _set_session(self, session_id: str | None) -> None:
        if session_id != self._session_id:
            self._session_id = session_id
            self._emit(SessionIdChanged(session_id=session_id))

    # ---- HTTP helpers --------------------------------------------------------------------

    def _send(self, exchange: Exchange, now: float) -> None:
        timeout = self.config.deadlines.http_request
        if exchange.purpose is Purpose.UPLOAD_PUT:
            timeout = self.config.deadlines.upload
        action: SendHttp = self._ex.send(exchange, now, timeout)
        self._act(action)

    def _start(self, purpose: Purpose, request: object, now: float, *, flow: bool = True,
               op: int | None = None, context: object = None) -> Exchange:
        from ..http import HttpRequest

        assert isinstance(request, HttpRequest)
        exchange = Exchange(purpose=purpose, request=request, flow=flow, op=op,
                            context=context)
        self._send(exchange, now)
        return exchange

    def _cancel_flow_exchanges(self) -> None:
        cancels: list[CancelHttp] = self._ex.cancel(lambda e: e.flow)
        self._actions.extend(cancels)

    # ---- leaving a connection --------------------------------------------------------------

    def _close_peer(self) -> None:
        """Close the current peer (if any) and forget everything tied to it."""
        if self._peer_id is not None:
            self._closed_peers.add(self._peer_id)
            self._act(ClosePeer(peer_id=self._peer_id))
        self._peer_id = None
        self._peer_connected = False
        self._open_channels.clear()
        self._connection_id = None
        self._offer_sdp = None
        self._mids = {}
        if self._answer_identity is not None:
            self._previous_answer_identity = self._answer_identity
        self._answer_identity = None
        self._ping_due = None
        self._published.clear()
        lost = DisconnectedError("the connection closed before the runtime answered")
        for pending in self._control.fail_all():
            self._complete(pending.op, OperationKind.PUBLISH, error=lost)
        for queued in self._control.queued:
            self._emit(NotificationFailed(event=queued.event, track=queued.track,
                                          error=DisconnectedError(
                                              "the connection attempt ended before the "
                                              "control channel opened")))
        self._control.queued.clear()
        uploads = (Purpose.UPLOAD_SLOT, Purpose.UPLOAD_PUT)
        for exchange in self._ex:
            if exchange.purpose in uploads:
                self._complete(exchange.op, OperationKind.UPLOAD,
                               error=DisconnectedError("disconnected during the upload"))
        self._actions.extend(self._ex.cancel(lambda e: e.purpose in uploads))

    def _end_flow(self, error: ReactorError | None) -> None:
        op, self._flow_op = self._flow_op, None
        self._complete(op, self._flow_kind, error=error)

    def _fail_flow(self, error: ReactorError, now: float) -> None:
        """A connection attempt failed: report it, then keep or end the session."""
        if self._phase not in FLOW_PHASES:
            return
        self._report(error)
        self._end_flow(error)
        self._close_peer()
        self._cancel_flow_exchanges()
        session_gone = isinstance(error, SessionGoneError)
        if self._reconnecting and error.recoverable and not session_gone:
            self._goto(Phase.SUSPENDED, Trigger.FAIL, now)
            self._reconnecting = False
            self._schedule_auto_reconnect(now)
            return
        self._reconnecting = False
        self._leave_session(Trigger.FAIL, now, session_gone=session_gone)

    def _leave_session(self, trigger: Trigger, now: float, *, session_gone: bool = False,
                       reason: str | None = None) -> None:
        """End the session: terminate it if we created it (and it may exist), else forget."""
        self._reconnect_at = None
        self._grace_deadline = None
        if self._created_session and self._session_id is not None and not session_gone:
            self._goto(Phase.TERMINATING, trigger, now, self.config.deadlines.terminate)
            request = self._req.terminate(self._session_id, self._jwt, reason)
            self._start(Purpose.TERMINATE, request, now, flow=False)
            return
        self._goto(Phase.IDLE, trigger, now)
        self._forget_session()

    def _forget_session(self) -> None:
        self._created_session = False
        self._capabilities = None
        self._session_snapshot = None
        self._schema = None
        self._ice_servers = None
        self._tracks = ()
        self._user_paused.clear()
        self._previous_answer_identity = None
        if self._expires_at is not None:
            from .events import SessionExpirationChanged

            self._expires_at = None
            self._emit(SessionExpirationChanged(expires_at=None))
        self._set_session(None)
        ops, self._disconnect_ops = self._disconnect_ops, []
        for op in ops:
            self._complete(op, OperationKind.DISCONNECT)

    def _finish_termination(self, error: ReactorError | None, now: float) -> None:
        if self._phase is not Phase.TERMINATING:
            return
        self._actions.extend(self._ex.cancel(
            lambda e: e.purpose not in (Purpose.UPLOAD_SLOT, Purpose.UPLOAD_PUT)))
        if error is not None:
            self._report(error)
        self._goto(Phase.IDLE, Trigger.TERMINATED, now)
        self._forget_session()

    def _schedule_auto_reconnect(self, now: float) -> None:
        if not self.config.auto_reconnect or self._session_id is None:
            return
        if self._grace_deadline is None:
            self._grace_deadline = now + self.config.reconnect_grace
        at = now + self.config.reconnect_delay
        self._reconnect_at = at if at < self._grace_deadline else None
        if self._reconnect_at is None:
            self._give_up_reconnecting(now)

    def _give_up_reconnecting(self, now: float) -> None:
        error = SessionGoneError(
            f"could not reconnect within the {self.config.reconnect_grace:g} s grace window; "
            "the session is presumed gone", component="gpu")
        self._report(error)
        self._leave_session(Trigger.FAIL, now)

    def _abort_error(self, why: str) -> AbortedError:
        return AbortedError(f"{self._flow_kind.value}() was abandoned: {why}")

    @property
    def channels_open(self) -> bool:
        return {CONTROL_CHANNEL, DATA_CHANNEL} <= self._open_channels
