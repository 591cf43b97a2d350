"""The client machine's phases and its one transition table.

Every phase change goes through :data:`TRANSITIONS`; a (phase, trigger, phase) triple that is
not listed moves the machine to the sticky ``FAILED`` phase (a bug, never a remote input).
The docs' state diagram is generated from this table (``docs/gen_diagrams.py``).

``connect`` runs the pipeline TOKEN -> SESSION -> POLL -> PREPARE -> OFFER -> ANSWER ->
APPLY -> TRANSPORT -> READY, skipping the steps a mode does not need (local mode has no token
and no readiness poll; an adopted session skips creation).  PREPARE runs the ICE-server fetch,
the connection registration and the offer creation concurrently.
"""

from __future__ import annotations

import enum

from .events import ReactorStatus


class Phase(enum.Enum):
    IDLE = "idle"
    FETCHING_TOKEN = "fetching_token"
    CREATING_SESSION = "creating_session"
    POLLING_SESSION = "polling_session"
    PREPARING = "preparing"
    SENDING_OFFER = "sending_offer"
    POLLING_ANSWER = "polling_answer"
    APPLYING_ANSWER = "applying_answer"
    CONNECTING_TRANSPORT = "connecting_transport"
    READY = "ready"
    SUSPENDED = "suspended"
    TERMINATING = "terminating"
    FAILED = "failed"


class Trigger(enum.Enum):
    CONNECT = "connect"
    RECONNECT = "reconnect"
    DONE = "done"
    FAIL = "fail"
    TRANSPORT_LOST = "transport_lost"
    DISCONNECT = "disconnect"
    TERMINATED = "terminated"


P = Phase
T = Trigger

# Phases of a connection attempt, in pipeline order.
FLOW_PHASES: tuple[Phase, ...] = (
    P.FETCHING_TOKEN, P.CREATING_SESSION, P.POLLING_SESSION, P.PREPARING, P.SENDING_OFFER,
    P.POLLING_ANSWER, P.APPLYING_ANSWER, P.CONNECTING_TRANSPORT,
)
# Phases in which a peer connection exists (or is being created).
PEER_PHASES = frozenset({P.PREPARING, P.SENDING_OFFER, P.POLLING_ANSWER, P.APPLYING_ANSWER,
                         P.CONNECTING_TRANSPORT, P.READY})

_NEXT: dict[Phase, tuple[Phase, ...]] = {
    P.FETCHING_TOKEN: (P.CREATING_SESSION, P.POLLING_SESSION, P.PREPARING),
    P.CREATING_SESSION: (P.POLLING_SESSION, P.PREPARING),
    P.POLLING_SESSION: (P.PREPARING,),
    P.PREPARING: (P.SENDING_OFFER,),
    P.SENDING_OFFER: (P.POLLING_ANSWER,),
    P.POLLING_ANSWER: (P.APPLYING_ANSWER,),
    P.APPLYING_ANSWER: (P.CONNECTING_TRANSPORT,),
    P.CONNECTING_TRANSPORT: (P.READY,),
}

# After a failed or cancelled attempt: terminate the session we created, keep a session we
# may return to (reconnect), or forget it.
_LEAVE_FLOW = (P.TERMINATING, P.SUSPENDED, P.IDLE)


def _build() -> frozenset[tuple[Phase, Trigger, Phase]]:
    table: set[tuple[Phase, Trigger, Phase]] = {
        (P.IDLE, T.CONNECT, P.FETCHING_TOKEN),
        (P.IDLE, T.CONNECT, P.CREATING_SESSION),
        (P.IDLE, T.CONNECT, P.POLLING_SESSION),
        (P.SUSPENDED, T.RECONNECT, P.FETCHING_TOKEN),
        (P.SUSPENDED, T.RECONNECT, P.POLLING_SESSION),
        (P.SUSPENDED, T.RECONNECT, P.PREPARING),
        (P.READY, T.RECONNECT, P.FETCHING_TOKEN),
        (P.READY, T.RECONNECT, P.POLLING_SESSION),
        (P.READY, T.RECONNECT, P.PREPARING),
        (P.READY, T.TRANSPORT_LOST, P.SUSPENDED),
        (P.READY, T.DISCONNECT, P.SUSPENDED),
        (P.READY, T.DISCONNECT, P.TERMINATING),
        (P.READY, T.DISCONNECT, P.IDLE),
        (P.SUSPENDED, T.DISCONNECT, P.TERMINATING),
        (P.SUSPENDED, T.DISCONNECT, P.IDLE),
        (P.SUSPENDED, T.FAIL, P.TERMINATING),
        (P.SUSPENDED, T.FAIL, P.IDLE),
        (P.TERMINATING, T.TERMINATED, P.IDLE),
    }
    for phase in FLOW_PHASES:
        for target in _NEXT[phase]:
            table.add((phase, T.DONE, target))
        for target in _LEAVE_FLOW:
            table.add((phase, T.FAIL, target))
            table.add((phase, T.DISCONNECT, target))
    return frozenset(table)


TRANSITIONS = _build()

_WAITING = frozenset({P.POLLING_SESSION, P.PREPARING, P.SENDING_OFFER, P.POLLING_ANSWER,
                      P.APPLYING_ANSWER, P.CONNECTING_TRANSPORT})


def status_for(phase: Phase, *, reconnecting: bool) -> ReactorStatus:
    """The public status a phase shows (a reconnect never passes through ``waiting``)."""
    if phase is P.READY:
        return ReactorStatus.READY
    if phase in (P.FETCHING_TOKEN, P.CREATING_SESSION):
        return ReactorStatus.CONNECTING
    if phase in _WAITING:
        return ReactorStatus.CONNECTING if reconnecting else ReactorStatus.WAITING
    return ReactorStatus.DISCONNECTED


# The documented edges of the public status (PROTOCOL.md §1.2); tests check every change.
STATUS_EDGES = frozenset({
    (ReactorStatus.DISCONNECTED, ReactorStatus.CONNECTING),
    (ReactorStatus.CONNECTING, ReactorStatus.WAITING),
    (ReactorStatus.WAITING, ReactorStatus.READY),
    (ReactorStatus.CONNECTING, ReactorStatus.READY),
    (ReactorStatus.READY, ReactorStatus.CONNECTING),
    (ReactorStatus.CONNECTING, ReactorStatus.DISCONNECTED),
    (ReactorStatus.WAITING, ReactorStatus.DISCONNECTED),
    (ReactorStatus.READY, ReactorStatus.DISCONNECTED),
})
