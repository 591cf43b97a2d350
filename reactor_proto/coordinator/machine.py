"""The coordinator machine: the production API emulator's sessions, in one transition table.

Inputs: ``handle_http(request, now)`` (every client request; never raises: any problem is an
HTTP error response, an internal bug a 500 plus an :class:`InternalError` event),
``handle_timeout(now)``, and the fault-injection inputs ``runtime_failed(slot, now)`` /
``runtime_recovered(slot, now)`` (bad slot numbers raise :class:`LocalProtocolError`: that is
adapter misuse).  ``now`` is monotonic seconds; Unix times (``iat``/``exp``/``expires_at``)
are ``now + unix_offset``, where the adapter passes the difference between the wall clock
and its monotonic clock, read once at start-up (tests pass a constant).  Events are pulled with
``next_event()``; the coordinator has no actions: runtimes are called in-process.

Session lifecycle (PROTOCOL.md §1.4), table :data:`TRANSITIONS`::

    CREATED -queue-> PENDING -assigned-> WAITING -connected-> ACTIVE
    PENDING -assign_failed-> INACTIVE;  WAITING/ACTIVE -runtime_lost-> INACTIVE
    INACTIVE -restart-> PENDING;  WAITING/ACTIVE -runtime_ended-> CLOSED
    any but CLOSED -delete/expire-> CLOSED

A session enters PENDING in the call that creates it (the 201 body still says CREATED).
PENDING sessions wait in a FIFO queue; the head gets the first free slot, and
``assign_delay`` seconds later the slot's runtime is sent ``POST /start_session``; its
descriptor's ``selected_transport``/``capabilities``/``schema`` are copied into the session
(WAITING).  Polling the runtime's ``GET /session`` (see ``runtime_link``) turns STREAMING
into ACTIVE and an idle runtime (its orphan timeout fired) into CLOSED.  A request that
needs a (state, trigger) pair missing from the table gets 409.  Closed sessions stay
readable by ``GET`` for ``closed_retention`` seconds, then every trace of them is purged.

Decisions: transport and upload routes of a session without a runtime (CREATED, PENDING,
INACTIVE) get 409 naming the state; a CLOSED or unknown session, or another key's, gets 404.
DELETE is exempt from version checks (clients do not check them there, §3.7).  The maximum
duration counts from creation, queue time included.  A runtime whose ``start_session``
fails leaves the session INACTIVE (restartable with PUT) and its slot free.
"""

from __future__ import annotations

import enum
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from ..errors import ConflictError, DecodeError, LocalProtocolError
from ..http import HttpRequest, HttpResponse
from .config import CoordinatorConfig
from .events import (
    CoordinatorEvent,
    InternalError,
    RuntimeCallFailed,
    SessionClosed,
    SessionStateChanged,
)
from .ratelimit import TokenBucketLimiter
from .routes import error_reply
from .runtime_link import (
    HostedRuntime,
    get_session_request,
    parse_descriptor,
    start_session_request,
    stop_session_request,
)
from .sessions import HOSTED_STATES, SessionRecord, SessionState, SessionTable

Sign = Callable[[Mapping[str, Any]], str]
Verify = Callable[[str], Mapping[str, Any]]
#: A bound on timer rounds per input, so a pathological configuration cannot spin.
MAX_TIMER_ROUNDS = 1000


class Trigger(enum.StrEnum):
    QUEUE = "queue"
    ASSIGNED = "assigned"
    ASSIGN_FAILED = "assign_failed"
    CONNECTED = "connected"
    RUNTIME_LOST = "runtime_lost"
    RESTART = "restart"
    RUNTIME_ENDED = "runtime_ended"
    DELETE = "delete"
    EXPIRE = "expire"


S = SessionState
_OPEN = (S.CREATED, S.PENDING, S.WAITING, S.ACTIVE, S.INACTIVE)

#: The whole session state machine.  Anything not listed is refused.
TRANSITIONS: dict[tuple[SessionState, Trigger], SessionState] = {
    (S.CREATED, Trigger.QUEUE): S.PENDING,
    (S.PENDING, Trigger.ASSIGNED): S.WAITING,
    (S.PENDING, Trigger.ASSIGN_FAILED): S.INACTIVE,
    (S.WAITING, Trigger.CONNECTED): S.ACTIVE,
    (S.WAITING, Trigger.RUNTIME_LOST): S.INACTIVE,
    (S.ACTIVE, Trigger.RUNTIME_LOST): S.INACTIVE,
    (S.INACTIVE, Trigger.RESTART): S.PENDING,
    (S.WAITING, Trigger.RUNTIME_ENDED): S.CLOSED,
    (S.ACTIVE, Trigger.RUNTIME_ENDED): S.CLOSED,
    **{(state, Trigger.DELETE): S.CLOSED for state in _OPEN},
    **{(state, Trigger.EXPIRE): S.CLOSED for state in _OPEN},
}


class Lifecycle:
    """Sessions, slots, timers and runtime calls; the route handlers drive it."""

    def __init__(self, config: CoordinatorConfig, runtimes: Sequence[HostedRuntime],
                 unix_offset: float) -> None:
        self.config = config
        self.runtimes = tuple(runtimes)
        self.table = SessionTable(len(self.runtimes))
        self.limiter = TokenBucketLimiter(config.rate_limit)
        self.unix_offset = unix_offset
        self.events: deque[CoordinatorEvent] = deque()
        self.events_dropped = 0
        self.poll_at: float | None = None

    def unix(self, now: float) -> float:
        return now + self.unix_offset

    def emit(self, event: CoordinatorEvent) -> None:
        if len(self.events) >= self.config.max_events:
            self.events.popleft()
            self.events_dropped += 1
        self.events.append(event)

    # ---- the table -----------------------------------------------------------------------

    def transition(self, record: SessionRecord, trigger: Trigger,
                   **changes: Any) -> SessionRecord:
        new_state = TRANSITIONS.get((record.state, trigger))
        if new_state is None:
            raise ConflictError(f"session {record.session_id}: {trigger.value} is not allowed "
                                f"in state {record.state.value}", status=409)
        updated = attrs.evolve(record, state=new_state, **changes)
        self.table.put(updated)
        self.emit(SessionStateChanged(session_id=record.session_id, old=record.state.value,
                                      new=new_state.value, trigger=trigger.value))
        return updated

    # ---- runtime calls -------------------------------------------------------------------

    def call_runtime(self, slot: int, request: HttpRequest, now: float,
                     operation: str) -> HttpResponse | None:
        """The runtime's answer, or ``None`` (and an event) if it raised."""
        try:
            return self.runtimes[slot].handle_http(request, now)
        except Exception as exc:
            self.emit(RuntimeCallFailed(slot=slot, operation=operation,
                                        detail=f"{type(exc).__name__}: {exc}"))
            return None

    def start_on_runtime(self, record: SessionRecord, now: float) -> None:
        assert record.slot is not None
        slot = record.slot
        response = self.call_runtime(slot, start_session_request(), now, "start_session")
        problem = "the runtime raised"
        if response is not None:
            try:
                descriptor = parse_descriptor(response)
                if descriptor.capabilities is None:
                    raise DecodeError("descriptor.capabilities: required field is missing",
                                      field="descriptor.capabilities")
                transport = descriptor.selected_transport or {"protocol": "webrtc",
                                                              "version": "1.0"}
                self.transition(record, Trigger.ASSIGNED, assign_at=None,
                                runtime_session_id=descriptor.session_id,
                                selected_transport=transport,
                                capabilities=descriptor.capabilities,
                                schema=descriptor.schema)
                return
            except DecodeError as exc:
                problem = exc.message
            self.emit(RuntimeCallFailed(slot=slot, operation="start_session", detail=problem))
        self.table.release(slot)
        self.transition(record, Trigger.ASSIGN_FAILED, slot=None, assign_at=None)

    def refresh(self, record: SessionRecord, now: float) -> SessionRecord:
        """Poll the hosting runtime's ``GET /session`` and apply what it says."""
        if record.state not in HOSTED_STATES or record.slot is None:
            return record
        response = self.call_runtime(record.slot, get_session_request(), now, "get_session")
        if response is None:
            return record
        try:
            descriptor = parse_descriptor(response)
        except DecodeError as exc:
            self.emit(RuntimeCallFailed(slot=record.slot, operation="get_session",
                                        detail=exc.message))
            return record
        if descriptor.is_idle:
            return self.close(record, Trigger.RUNTIME_ENDED, "runtime_session_ended", now)
        if descriptor.is_streaming and record.state is S.WAITING:
            return self.transition(record, Trigger.CONNECTED)
        return record

    # ---- lifecycle operations ------------------------------------------------------------

    def close(self, record: SessionRecord, trigger: Trigger, reason: str,
              now: float) -> SessionRecord:
        slot = record.slot
        if slot is not None:
            if record.state in HOSTED_STATES and trigger is not Trigger.RUNTIME_ENDED:
                response = self.call_runtime(slot, stop_session_request(), now,
                                             "stop_session")
                if response is not None and response.status // 100 != 2:
                    self.emit(RuntimeCallFailed(slot=slot, operation="stop_session",
                                                detail=f"HTTP {response.status}"))
            self.table.release(slot)
        self.table.dequeue(record.session_id)
        self.table.drop_uploads(record.session_id)
        closed = self.transition(
            record, trigger, slot=None, assign_at=None, runtime_session_id=None,
            selected_transport=None, capabilities=None, schema=None, expires_at=None,
            purge_at=now + self.config.closed_retention, close_reason=reason)
        self.emit(SessionClosed(session_id=record.session_id, reason=reason))
        return closed

    def lose_runtime(self, record: SessionRecord) -> None:
        """The slot under ``record`` is gone: re-queue a not-yet-started session at the
        front, make a started one INACTIVE."""
        if record.slot is not None:
            self.table.release(record.slot)
        if record.state is S.PENDING:
            self.table.put(attrs.evolve(record, slot=None, assign_at=None))
            self.table.enqueue(record.session_id, front=True)
            return
        self.table.drop_uploads(record.session_id)
        self.transition(record, Trigger.RUNTIME_LOST, slot=None, runtime_session_id=None,
                        selected_transport=None, capabilities=None, schema=None)

    def fill_slots(self, now: float) -> None:
        """Hand free slots to the queue head, in FIFO order."""
        while self.table.queue:
            slot = self.table.free_slot()
            if slot is None:
                return
            session_id = self.table.pop_next()
            record = self.table.get(session_id) if session_id is not None else None
            if record is None or record.state is not S.PENDING:
                continue
            self.table.reserve(slot, record.session_id)
            self.table.put(attrs.evolve(record, slot=slot,
                                        assign_at=now + self.config.assign_delay))

    # ---- timers --------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        times: list[float] = []
        for record in self.table:
            for value in (record.purge_at, record.expires_at, record.assign_at):
                if value is not None:
                    times.append(value)
        if self.poll_at is not None:
            times.append(self.poll_at)
        limiter = self.limiter.next_deadline()
        if limiter is not None:
            times.append(limiter)
        return min(times) if times else None

    def advance(self, now: float) -> None:
        """Run every timer due at ``now`` (and what they make due in turn)."""
        for _ in range(MAX_TIMER_ROUNDS):
            self._run_due(now)
            deadline = self.next_deadline()
            if deadline is None or deadline > now:
                return

    def _run_due(self, now: float) -> None:
        for record in self.table:
            current = self.table.get(record.session_id)
            if current is None:
                continue
            if current.state is S.CLOSED:
                if current.purge_at is not None and current.purge_at <= now:
                    self.table.purge(current.session_id)
            elif current.expires_at is not None and current.expires_at <= now:
                self.close(current, Trigger.EXPIRE, "expired", now)
            elif (current.state is S.PENDING and current.assign_at is not None
                  and current.assign_at <= now):
                self.start_on_runtime(current, now)
        if self.poll_at is not None and self.poll_at <= now:
            self.poll_at = None
            for record in self.table:
                current = self.table.get(record.session_id)
                if current is not None:
                    self.refresh(current, now)
        self.limiter.expire(now)
        self.fill_slots(now)
        hosted = any(r.state in HOSTED_STATES for r in self.table)
        if not hosted:
            self.poll_at = None
        elif self.poll_at is None:
            self.poll_at = now + self.config.runtime_poll_interval


class CoordinatorMachine:
    """The coordinator role of the sans-IO core (see the module docstring)."""

    def __init__(self, config: CoordinatorConfig, *, runtimes: Sequence[HostedRuntime],
                 rng: random.Random, sign: Sign, verify: Verify,
                 unix_offset: float = 0.0) -> None:
        from .handlers import RouteHandlers

        self._life = Lifecycle(config, runtimes, unix_offset)
        self._handlers = RouteHandlers(self._life, rng=rng, sign=sign, verify=verify)

    def __repr__(self) -> str:
        counts = self._life.table.counts()
        return f"CoordinatorMachine(slots={self._life.table.slot_count}, {counts})"

    # ---- inputs --------------------------------------------------------------------------

    def handle_http(self, request: HttpRequest, now: float) -> HttpResponse:
        """Answer one client request.  Never raises."""
        try:
            self._life.advance(now)
            response = self._handlers.dispatch(request, now)
            self._life.advance(now)
        except Exception as exc:
            self._life.emit(InternalError(detail=f"{type(exc).__name__}: {exc}"))
            return error_reply(500, "internal error")
        return response

    def handle_timeout(self, now: float) -> None:
        """Run the timers due at ``now``.  Never raises (a bug becomes an event)."""
        try:
            self._life.advance(now)
        except Exception as exc:
            self._life.emit(InternalError(detail=f"{type(exc).__name__}: {exc}"))

    def runtime_failed(self, slot: int, now: float) -> None:
        """Fault injection: the runtime in ``slot`` is lost; it stays out of service until
        :meth:`runtime_recovered`.  Its session becomes INACTIVE (or is re-queued first in
        line if its runtime had not been started yet)."""
        self._check_slot(slot)
        life = self._life
        life.table.set_failed(slot, True)
        holder = life.table.holder(slot)
        record = life.table.get(holder) if holder is not None else None
        if record is not None:
            life.lose_runtime(record)
        self.handle_timeout(now)

    def runtime_recovered(self, slot: int, now: float) -> None:
        """Put a failed slot back in service."""
        self._check_slot(slot)
        self._life.table.set_failed(slot, False)
        self.handle_timeout(now)

    def _check_slot(self, slot: int) -> None:
        if isinstance(slot, bool) or not isinstance(slot, int) or not (
                0 <= slot < self._life.table.slot_count):
            raise LocalProtocolError(
                f"slot: expected 0..{self._life.table.slot_count - 1}, got {slot!r}")

    # ---- outputs -------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`handle_timeout` has work (absolute, like ``now``)."""
        return self._life.next_deadline()

    def next_event(self) -> CoordinatorEvent | None:
        return self._life.events.popleft() if self._life.events else None

    @property
    def events_dropped(self) -> int:
        return self._life.events_dropped

    # ---- introspection -------------------------------------------------------------------

    def session_state(self, session_id: str) -> SessionState | None:
        record = self._life.table.get(session_id)
        return None if record is None else record.state

    def session_slot(self, session_id: str) -> int | None:
        record = self._life.table.get(session_id)
        return None if record is None else record.slot

    @property
    def queue(self) -> tuple[str, ...]:
        return self._life.table.queue

    def bookkeeping(self) -> dict[str, int]:
        """Sizes of every table and timer: all zero when the coordinator is idle."""
        counts = self._life.table.counts()
        counts["rate_buckets"] = len(self._life.limiter)
        counts["poll_timer"] = int(self._life.poll_at is not None)
        return counts
