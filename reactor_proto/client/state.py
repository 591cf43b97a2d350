"""The client machine's one mutable state object, and the plumbing every handler shares.

The machine is a :class:`ClientState` plus handler modules of plain functions that take the
state and one input, change the state, and queue actions and events on it:

* ``flow.py``: the connect pipeline's steps and the peer-connection inputs;
* ``responses.py``: HTTP results (retries, polls, successful bodies);
* ``teardown.py``: ending an attempt, suspending, terminating or forgetting a session;
* ``operations.py``: the user's operations (connect, disconnect, commands, tracks, upload);
* ``inbound.py``: channel messages and timers;
* ``clips.py``: clip and recording requests (§10) on either wire.

``machine.ClientMachine`` is a thin facade over them.  Every phase change goes through
:func:`goto`, which asks the one table in ``phases.py`` where a trigger leads.
"""

from __future__ import annotations

import random
from collections import deque

import attrs

from ..bodies import IceServer, SessionSnapshot
from ..capabilities import Capabilities, TrackCapability
from ..constants import CONTROL_CHANNEL, DATA_CHANNEL, MAX_DATA_CHANNEL_MESSAGE_BYTES
from ..errors import AbortedError, Failure, LocalProtocolError, ReactorError, documented
from ..http import HttpRequest
from ..schema import ModelSchema
from .actions import CancelHttp, ClientAction
from .config import ClientConfig, Deadlines
from .control_tracker import ControlTracker
from .events import (
    ClientEvent,
    ErrorOccurred,
    OperationCompleted,
    OperationKind,
    ReactorStatus,
    SessionIdChanged,
    StatusChanged,
)
from .exchanges import Exchange, ExchangeTable, Purpose
from .phases import FLOW_PHASES, STATUS_EDGES, Phase, Trigger, next_phase, status_for
from .requests import RequestBuilder
from .stepping import StepInputs
from .timings import ConnectionTimings, StepLog
from .wire import ConnectionWire

AnswerIdentity = tuple[str | None, str | None]


@attrs.define(kw_only=True, eq=False)
class ClientState:
    """Everything the client machine remembers; the handlers are the only writers."""

    config: ClientConfig
    rng: random.Random
    req: RequestBuilder
    phase: Phase = Phase.IDLE
    status: ReactorStatus = ReactorStatus.DISCONNECTED
    events: deque[ClientEvent] = attrs.field(factory=deque)
    actions: deque[ClientAction] = attrs.field(factory=deque)
    ex: ExchangeTable = attrs.field(factory=ExchangeTable)
    next_op: int = 0
    # Session-level state (kept across recoverable disconnects).
    jwt: str | None = None
    session_id: str | None = None
    created_session: bool = False
    capabilities: Capabilities | None = None
    session_snapshot: SessionSnapshot | None = None
    schema: ModelSchema | None = None
    expires_at: float | None = None
    ice_servers: tuple[IceServer, ...] | None = None
    tracks: tuple[TrackCapability, ...] = ()
    last_error: ReactorError | None = None
    # Connection-attempt state.
    flow_op: int | None = None
    flow_kind: OperationKind = OperationKind.CONNECT
    reconnecting: bool = False
    phase_deadline: float | None = None
    poll_until: float | None = None
    given_connection_id: int | None = None
    connection_id: int | None = None
    peer_id: int | None = None
    next_peer_id: int = 0
    offer_sdp: str | None = None
    mids: dict[str, str] = attrs.field(factory=dict)
    answer_identity: AnswerIdentity | None = None
    previous_answer_identity: AnswerIdentity | None = None
    peer_connected: bool = False
    open_channels: set[str] = attrs.field(factory=set)
    max_message_bytes: int = MAX_DATA_CHANNEL_MESSAGE_BYTES
    auto_resume: bool = True
    # READY-time state.
    control: ControlTracker = attrs.field(factory=ControlTracker)
    wire: ConnectionWire = attrs.field(factory=ConnectionWire)  # made afresh per peer
    ping_due: float | None = None
    user_paused: set[str] = attrs.field(factory=set)
    published: set[str] = attrs.field(factory=set)
    #: frames pushed for the next step (stepped sessions, §15.3)
    step_inputs: StepInputs = attrs.field(factory=StepInputs)
    # Recovery and teardown.
    reconnect_at: float | None = None
    grace_deadline: float | None = None
    #: when to ask for the spare peer (spare.py), and whether one may be kept by the adapter
    spare_due: float | None = None
    spare_asked: bool = False
    disconnect_ops: list[int] = attrs.field(factory=list)
    # Waiting for a GPU and timing the connect.
    waiting_since: float | None = None
    queue_position: int | None = None
    steps: StepLog = attrs.field(factory=StepLog)
    timings: ConnectionTimings | None = None

    @classmethod
    def create(cls, config: ClientConfig, rng: random.Random) -> ClientState:
        config.check()
        return cls(config=config, rng=rng, req=RequestBuilder(config), jwt=config.jwt,
                   auto_resume=config.auto_resume_tracks)

    @property
    def channels_open(self) -> bool:
        return {CONTROL_CHANNEL, DATA_CHANNEL} <= self.open_channels


# ---- outbox and events -------------------------------------------------------------------


def emit(s: ClientState, event: ClientEvent) -> None:
    s.events.append(event)


def act(s: ClientState, action: ClientAction) -> None:
    s.actions.append(action)


def new_op(s: ClientState) -> int:
    s.next_op += 1
    return s.next_op


FAILURE_OF: dict[OperationKind, Failure] = {
    OperationKind.CONNECT: Failure.CONNECT,
    OperationKind.RECONNECT: Failure.RECONNECT,
    OperationKind.DISCONNECT: Failure.OTHER,
    OperationKind.PUBLISH: Failure.PUBLISH,
    OperationKind.UPLOAD: Failure.UPLOAD,
    # v1: a command's correlated error reply is a failed send (MESSAGE_SEND_FAILED, with the
    # runtime's code as the cause); a schema request has no documented code of its own.
    OperationKind.COMMAND: Failure.SEND,
    OperationKind.SCHEMA: Failure.OTHER,
    # a step keeps its own typed error (StepRefusedError, ...): no documented code
    OperationKind.STEP: Failure.OTHER,
    # a clip request keeps its RecordingError and its code (§11.1)
    OperationKind.CLIP: Failure.OTHER,
}


def complete(s: ClientState, op: int | None, kind: OperationKind, *, value: object = None,
             error: ReactorError | None = None) -> None:
    """End an operation.  A failure is also reported (``error`` event, ``last_error``) in
    its documented form, except an abandonment the caller asked for; ``op`` None (an
    automatic reconnect) reports without completing anything."""
    reported = None
    if error is not None:
        failure = FAILURE_OF[kind]
        if isinstance(error, AbortedError):
            reported = documented(error, failure)
        else:
            reported = report(s, error, failure)
    if op is not None:
        emit(s, OperationCompleted(op=op, kind=kind, value=value, error=error,
                                   reported=reported))


def report(s: ClientState, error: ReactorError,
           failure: Failure = Failure.OTHER) -> ReactorError:
    """Record and emit ``error`` as the documented failure; returns what was reported.

    A recoverable transport loss or reconnect failure carries the configured reconnect
    delay as its ``retry_after`` hint (the docs' recovery recipe sleeps that long)."""
    hint = None
    if error.recoverable and failure in (Failure.TRANSPORT, Failure.RECONNECT):
        hint = s.config.reconnect_delay
    reported = documented(error, failure, retry_after=hint)
    s.last_error = reported
    emit(s, ErrorOccurred(error=reported))
    return reported



def abort_error(s: ClientState, why: str) -> AbortedError:
    return AbortedError(f"{s.flow_kind.value}() was abandoned: {why}")


# ---- phases and status -------------------------------------------------------------------


def phase_budget(d: Deadlines, phase: Phase) -> float | None:
    """How long a phase may last (F3, F15); None for the phases that wait for the user."""
    budgets = {
        Phase.FETCHING_TOKEN: d.token,
        Phase.CREATING_SESSION: d.create_session,
        Phase.POLLING_SESSION: d.session_ready + d.http_request,
        Phase.PREPARING: max(d.ice_servers, d.register_connection) + d.create_offer,
        Phase.SENDING_OFFER: d.send_offer,
        Phase.POLLING_ANSWER: d.answer + d.http_request,
        Phase.APPLYING_ANSWER: d.apply_answer,
        Phase.CONNECTING_TRANSPORT: d.transport,
        Phase.TERMINATING: d.terminate,
    }
    return budgets.get(phase)


def goto(s: ClientState, trigger: Trigger, now: float, *, budget: float | None = None) -> None:
    """Take ``trigger`` from the current phase; a pair the table lacks is a sticky failure.

    The new phase's deadline is its :func:`phase_budget` from ``now`` unless ``budget``
    overrides it."""
    try:
        target = next_phase(s.phase, trigger)
    except LocalProtocolError:
        s.phase = Phase.FAILED
        raise
    previous = s.phase
    s.phase = target
    if budget is None:
        budget = phase_budget(s.config.deadlines, target)
    s.phase_deadline = None if budget is None else now + budget
    set_status(s, status_for(target, reconnecting=s.reconnecting))
    record_step(s, previous, target, now)


def record_step(s: ClientState, previous: Phase, target: Phase, now: float) -> None:
    """Time the connect's steps and the wait for a GPU (both read by the adapter)."""
    if target in FLOW_PHASES:
        if previous not in FLOW_PHASES:
            s.steps.begin(now)
        s.steps.enter(target.value, now)
    elif target is Phase.READY and previous in FLOW_PHASES:
        s.timings = s.steps.finish(now, reconnect=s.reconnecting)
    if s.status is ReactorStatus.WAITING:
        if s.waiting_since is None:
            s.waiting_since = now
    else:
        s.waiting_since = None
        s.queue_position = None


def set_status(s: ClientState, status: ReactorStatus) -> None:
    previous = s.status
    if status is previous:
        return
    if (previous, status) not in STATUS_EDGES:
        # Entering ``waiting`` from ``disconnected`` passes through ``connecting``.
        set_status(s, ReactorStatus.CONNECTING)
        previous = s.status
    assert (previous, status) in STATUS_EDGES, (previous, status)
    s.status = status
    emit(s, StatusChanged(status=status, previous=previous))


def set_session(s: ClientState, session_id: str | None) -> None:
    if session_id != s.session_id:
        s.session_id = session_id
        emit(s, SessionIdChanged(session_id=session_id))


# ---- HTTP exchanges ----------------------------------------------------------------------


def send(s: ClientState, exchange: Exchange, now: float) -> None:
    """(Re)send ``exchange`` with a fresh request id and its timeout."""
    timeout = s.config.deadlines.http_request
    if exchange.purpose is Purpose.UPLOAD_PUT:
        timeout = s.config.deadlines.upload
    act(s, s.ex.send(exchange, now, timeout))


def start(s: ClientState, purpose: Purpose, request: HttpRequest, now: float, *,
          flow: bool = True, op: int | None = None, context: object = None) -> Exchange:
    """Begin a new exchange; ``flow`` ones belong to the connection attempt."""
    exchange = Exchange(purpose=purpose, request=request, flow=flow, op=op, context=context)
    send(s, exchange, now)
    return exchange


def cancel_flow_exchanges(s: ClientState) -> None:
    cancels: list[CancelHttp] = s.ex.cancel(lambda e: e.flow)
    s.actions.extend(cancels)
