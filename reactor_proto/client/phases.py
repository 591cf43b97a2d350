"""The client machine's phases and its one transition table: a function (phase, trigger) -> phase.

Every phase change goes through :func:`next_phase`.  Each ``(phase, trigger)`` pair in
:data:`TRANSITIONS` leads to exactly one phase; a pair that is not listed is an error, and the
machine moves to the sticky ``FAILED`` phase (a bug in the library, never a remote input).
The triggers are specific, so the table itself says where each one goes: the handlers choose
*which* trigger fits (a token for a new session or for a known one, suspend or terminate),
never the target.  The docs' state diagram is generated from this table
(``docs/gen_diagrams.py``).

``connect`` runs the pipeline TOKEN -> SESSION -> POLL -> PREPARE -> OFFER -> ANSWER ->
APPLY -> TRANSPORT -> READY, skipping the steps a mode does not need (local mode has no token
and no readiness poll; an adopted session skips creation).  PREPARE runs the ICE-server fetch,
the connection registration and the offer creation concurrently.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Final

from ..errors import LocalProtocolError
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
    # connect(): with an API key a token comes first; a JWT (or local mode) creates the
    # session at once; connect(session_id=...) with a JWT adopts it and polls it.
    CONNECT_WITH_KEY = "connect_with_key"
    CONNECT = "connect"
    ADOPT = "adopt"
    # reconnect() (explicit or scheduled): token first, or poll the session, or (local mode,
    # where the runtime is the session) go straight to a new connection.
    RECONNECT_WITH_KEY = "reconnect_with_key"
    RECONNECT = "reconnect"
    RECONNECT_LOCAL = "reconnect_local"
    # The pipeline's steps finishing.
    TOKEN = "token"                                  # no session yet: create one
    TOKEN_FOR_SESSION = "token_for_session"          # adopted or resumed: poll it
    SESSION_CREATED = "session_created"              # coordinator: wait for it to be ready
    SESSION_STARTED = "session_started"              # local runtime: ready at once
    SESSION_READY = "session_ready"
    OFFER_READY = "offer_ready"                      # offer created and connection registered
    OFFER_SENT = "offer_sent"
    ANSWER_RECEIVED = "answer_received"
    ANSWER_APPLIED = "answer_applied"
    TRANSPORT_UP = "transport_up"                    # peer connected and both channels open
    # Leaving a connection: keep the session for a reconnect, end the session we created,
    # or forget a session we may not (or need not) end.
    TRANSPORT_LOST = "transport_lost"
    SUSPEND = "suspend"
    TERMINATE = "terminate"
    FORGET = "forget"
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

Row = tuple[Phase, Trigger, Phase]

_ROWS: tuple[Row, ...] = (
    (P.IDLE, T.CONNECT_WITH_KEY, P.FETCHING_TOKEN),
    (P.IDLE, T.CONNECT, P.CREATING_SESSION),
    (P.IDLE, T.ADOPT, P.POLLING_SESSION),
    (P.FETCHING_TOKEN, T.TOKEN, P.CREATING_SESSION),
    (P.FETCHING_TOKEN, T.TOKEN_FOR_SESSION, P.POLLING_SESSION),
    (P.CREATING_SESSION, T.SESSION_CREATED, P.POLLING_SESSION),
    (P.CREATING_SESSION, T.SESSION_STARTED, P.PREPARING),
    (P.POLLING_SESSION, T.SESSION_READY, P.PREPARING),
    (P.PREPARING, T.OFFER_READY, P.SENDING_OFFER),
    (P.SENDING_OFFER, T.OFFER_SENT, P.POLLING_ANSWER),
    (P.POLLING_ANSWER, T.ANSWER_RECEIVED, P.APPLYING_ANSWER),
    (P.APPLYING_ANSWER, T.ANSWER_APPLIED, P.CONNECTING_TRANSPORT),
    (P.CONNECTING_TRANSPORT, T.TRANSPORT_UP, P.READY),
    (P.READY, T.TRANSPORT_LOST, P.SUSPENDED),
    (P.TERMINATING, T.TERMINATED, P.IDLE),
    # Back to a retained session: from SUSPENDED, or from READY on a fresh connection.
    *((source, trigger, target) for source in (P.SUSPENDED, P.READY) for trigger, target in (
        (T.RECONNECT_WITH_KEY, P.FETCHING_TOKEN),
        (T.RECONNECT, P.POLLING_SESSION),
        (T.RECONNECT_LOCAL, P.PREPARING),
    )),
    # Leaving: a failed or cancelled attempt, or a disconnect while READY.
    *((source, T.SUSPEND, P.SUSPENDED) for source in (*FLOW_PHASES, P.READY)),
    *((source, T.TERMINATE, P.TERMINATING) for source in (*FLOW_PHASES, P.READY, P.SUSPENDED)),
    *((source, T.FORGET, P.IDLE) for source in (*FLOW_PHASES, P.READY, P.SUSPENDED)),
)


def build_table(rows: Iterable[Row]) -> dict[tuple[Phase, Trigger], Phase]:
    """The table as a mapping; a pair listed twice (two targets) is refused."""
    table: dict[tuple[Phase, Trigger], Phase] = {}
    for source, trigger, target in rows:
        if (source, trigger) in table:
            raise ValueError(f"{source.name} --{trigger.value}--> has two targets: "
                             f"{table[source, trigger].name} and {target.name}")
        table[source, trigger] = target
    return table


TRANSITIONS: Final[Mapping[tuple[Phase, Trigger], Phase]] = build_table(_ROWS)


def next_phase(phase: Phase, trigger: Trigger) -> Phase:
    """The phase ``trigger`` leads to from ``phase``; a pair not in the table is a bug."""
    target = TRANSITIONS.get((phase, trigger))
    if target is None:
        raise LocalProtocolError(
            f"client machine: illegal transition {phase.value} --{trigger.value}-->")
    return target


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


# The documented edges of the public status (docs/protocol §1.2); tests check every change.
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
