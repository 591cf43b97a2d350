"""The session transition table and the life cycle that applies it: slots, timers, runtime
calls and what their replies change.  The route handlers and the machine drive it.

Runtime calls are queued as actions (``actions.py``) and recorded in a :class:`CallBook`;
their replies come back through ``finish_*``.  A slot with a ``start_session`` in flight is
handed to nobody until that call ends, so a stale start can be undone with a stop without
touching another session.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import Any

import attrs

from ..errors import ConflictError, DecodeError
from ..http import HttpRequest, HttpResponse
from .actions import CoordinatorAction, SendResponse
from .calls import CallBook, CallKind, PendingCall, UploadContext, View
from .config import CoordinatorConfig
from .events import CoordinatorEvent, RuntimeCallFailed, SessionClosed, SessionStateChanged
from .ratelimit import TokenBucketLimiter
from .runtime_link import (
    DescriptorMemo,
    RuntimeDescriptor,
    get_session_request,
    start_session_request,
    stop_session_request,
)
from .sessions import HOSTED_STATES, SessionRecord, SessionState, SessionTable


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
    """Sessions, slots, timers, runtime calls and the two queues (actions, events)."""

    def __init__(self, config: CoordinatorConfig, slot_count: int, unix_offset: float) -> None:
        self.config = config
        self.table = SessionTable(slot_count)
        self.limiter = TokenBucketLimiter(config.rate_limit)
        self.calls = CallBook(config.max_runtime_calls)
        self.unix_offset = unix_offset
        self.actions: deque[CoordinatorAction] = deque()
        self.events: deque[CoordinatorEvent] = deque()
        self.events_dropped = 0
        #: Client requests accepted and not answered yet.
        self.awaiting: set[int] = set()
        self.poll_at: float | None = None
        self.descriptors = DescriptorMemo()

    def unix(self, now: float) -> float:
        return now + self.unix_offset

    def emit(self, event: CoordinatorEvent) -> None:
        if len(self.events) >= self.config.max_events:
            self.events.popleft()
            self.events_dropped += 1
        self.events.append(event)

    def respond(self, request_id: int, response: HttpResponse) -> None:
        """Queue the one answer of a client request (a second one is never sent)."""
        if request_id in self.awaiting:
            self.awaiting.discard(request_id)
            self.actions.append(SendResponse(request_id=request_id, response=response))

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

    def call(self, kind: CallKind, slot: int, request: HttpRequest, now: float, *,
             session_id: str | None = None, request_id: int | None = None,
             view: View | None = None, upload: UploadContext | None = None
             ) -> PendingCall | None:
        """Queue a runtime call; ``None`` (and an event) when too many are in flight."""
        if self.calls.full:
            self.emit(RuntimeCallFailed(slot=slot, operation=kind.value,
                                        detail=f"{len(self.calls)} runtime calls are in "
                                               "flight already"))
            return None
        call = self.calls.open(kind=kind, slot=slot,
                               deadline=now + self.config.runtime_call_timeout,
                               session_id=session_id, request_id=request_id, view=view,
                               upload=upload)
        self.actions.append(call.action(request))
        return call

    def _current(self, call: PendingCall, states: frozenset[SessionState]
                 ) -> SessionRecord | None:
        """The call's session if it is still in ``states`` on the call's slot."""
        record = self.table.get(call.session_id) if call.session_id is not None else None
        if record is None or record.state not in states or record.slot != call.slot:
            return None
        return record

    def start_on_runtime(self, record: SessionRecord, now: float) -> None:
        assert record.slot is not None
        self.table.put(attrs.evolve(record, assign_at=None))
        start = start_session_request(record.generation, record.session_id)
        if self.call(CallKind.START, record.slot, start, now,
                     session_id=record.session_id) is None:
            self._assign_failed(self.table.get(record.session_id) or record)

    def finish_start(self, call: PendingCall, response: HttpResponse | None,
                     now: float) -> None:
        record = self._current(call, frozenset({S.PENDING}))
        descriptor: RuntimeDescriptor | None = None
        if response is not None:
            try:
                descriptor = self.descriptors.parse(call.slot, response)
                if descriptor.capabilities is None:
                    raise DecodeError("descriptor.capabilities: required field is missing",
                                      field="descriptor.capabilities")
            except DecodeError as exc:
                descriptor = None
                self.emit(RuntimeCallFailed(slot=call.slot, operation=call.kind.value,
                                            detail=exc.message))
        if record is None:
            # Nobody waits for this runtime any more (deleted, expired, GPU lost).
            if descriptor is not None:
                self.call(CallKind.STOP, call.slot, stop_session_request(), now)
            return
        if descriptor is None:
            self._assign_failed(record)
            return
        transport = descriptor.selected_transport or {"protocol": "webrtc", "version": "1.0"}
        self.transition(record, Trigger.ASSIGNED, assign_at=None,
                        runtime_session_id=descriptor.session_id, selected_transport=transport,
                        capabilities=descriptor.capabilities, schema=descriptor.schema,
                        server_wires=descriptor.server_wires)

    def _assign_failed(self, record: SessionRecord) -> None:
        if record.slot is not None:
            self.table.release(record.slot)
        self.transition(record, Trigger.ASSIGN_FAILED, slot=None, assign_at=None)

    def poll(self, record: SessionRecord, now: float, *, request_id: int | None = None,
             view: View | None = None) -> PendingCall | None:
        """Ask the hosting runtime's ``GET /session``; ``None`` when there is none to ask
        (or, for a timer poll, when one is in flight already)."""
        if record.state not in HOSTED_STATES or record.slot is None:
            return None
        if request_id is None and self.calls.polling(record.session_id):
            return None
        return self.call(CallKind.POLL, record.slot, get_session_request(), now,
                         session_id=record.session_id, request_id=request_id, view=view)

    def finish_poll(self, call: PendingCall, response: HttpResponse | None,
                    now: float) -> None:
        record = self._current(call, HOSTED_STATES)
        if record is None or response is None:
            return
        try:
            descriptor = self.descriptors.parse(call.slot, response)
        except DecodeError as exc:
            self.emit(RuntimeCallFailed(slot=call.slot, operation=call.kind.value,
                                        detail=exc.message))
            return
        if descriptor.is_idle:
            self.close(record, Trigger.RUNTIME_ENDED, "runtime_session_ended", now)
        elif descriptor.is_streaming and record.state is S.WAITING:
            self.transition(record, Trigger.CONNECTED)

    def finish_stop(self, call: PendingCall, response: HttpResponse | None) -> None:
        if response is not None and response.status // 100 != 2:
            self.emit(RuntimeCallFailed(slot=call.slot, operation=call.kind.value,
                                        detail=f"HTTP {response.status}"))

    # ---- lifecycle operations ------------------------------------------------------------

    def close(self, record: SessionRecord, trigger: Trigger, reason: str,
              now: float) -> SessionRecord:
        slot = record.slot
        if slot is not None:
            if record.state in HOSTED_STATES and trigger is not Trigger.RUNTIME_ENDED:
                self.call(CallKind.STOP, slot, stop_session_request(), now)
            self.table.release(slot)
        self.table.dequeue(record.session_id)
        self.table.drop_uploads(record.session_id)
        closed = self.transition(
            record, trigger, slot=None, assign_at=None, runtime_session_id=None,
            selected_transport=None, capabilities=None, schema=None,
            server_wires=None, expires_at=None,
            purge_at=now + self.config.closed_retention, close_reason=reason)
        self.emit(SessionClosed(session_id=record.session_id, reason=reason))
        self.prune_closed()
        return closed

    def prune_closed(self) -> None:
        """Forget the CLOSED sessions beyond ``max_closed_sessions``, oldest first."""
        closed = [r for r in self.table if r.state is S.CLOSED]
        excess = len(closed) - self.config.max_closed_sessions
        if excess > 0:
            closed.sort(key=lambda r: r.purge_at if r.purge_at is not None else 0.0)
            for record in closed[:excess]:
                self.table.purge(record.session_id)

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
                        selected_transport=None, capabilities=None, schema=None,
                        server_wires=None)

    def fill_slots(self, now: float) -> None:
        """Hand free slots to the queue head, in FIFO order."""
        while self.table.queue:
            slot = self.table.free_slot(self.calls.starting_slots())
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
        for value in (self.poll_at, self.limiter.next_deadline(), self.calls.next_deadline()):
            if value is not None:
                times.append(value)
        return min(times) if times else None

    def run_due(self, now: float) -> None:
        """Run the session timers due at ``now`` (overdue calls are the machine's)."""
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
                self.poll(record, now)
        self.limiter.expire(now)
        self.fill_slots(now)
        hosted = any(r.state in HOSTED_STATES for r in self.table)
        if not hosted:
            self.poll_at = None
        elif self.poll_at is None:
            self.poll_at = now + self.config.runtime_poll_interval
