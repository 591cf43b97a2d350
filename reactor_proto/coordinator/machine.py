"""The coordinator machine: the production API emulator's sessions, in one transition table.

Inputs (``now`` is monotonic seconds; none raises on remote input):

* ``receive_request(request, now) -> request_id``: a client request.  Its one answer is a
  :class:`~.actions.SendResponse` action with that id, queued by this call or, when the
  answer needs a runtime first, by a later input.  Any problem is an HTTP error response,
  an internal bug a 500 plus an :class:`InternalError` event.
* ``runtime_replied(call_id, response, now)`` / ``runtime_call_failed(call_id, detail,
  now)``: the outcome of a runtime call action (:class:`~.actions.AssignGpu`,
  :class:`~.actions.PollRuntime`, :class:`~.actions.ForwardToRuntime`,
  :class:`~.actions.ReleaseRuntime`).  Unknown or timed-out call ids are dropped.
* ``handle_timeout(now)``; faults: ``runtime_failed(slot, now)`` /
  ``runtime_recovered(slot, now)`` (a lost GPU), ``expire_session(session_id, now)`` (the
  maximum duration passes now), ``transport_dropped(session_id, now)`` (a peer dropped on
  the runtime side: poll it now).  Bad slot numbers raise :class:`LocalProtocolError`.

Unix times (``iat``/``exp``/``expires_at``) are ``now + unix_offset``, where the adapter
passes the difference between the wall clock and its monotonic clock, read once at start-up
(tests pass a constant).  Actions are drained with ``next_action()`` after EVERY call;
events are pulled with ``next_event()``.

Session lifecycle (docs/protocol §1.4), table :data:`TRANSITIONS` (``lifecycle.py``)::

    CREATED -queue-> PENDING -assigned-> WAITING -connected-> ACTIVE
    PENDING -assign_failed-> INACTIVE;  WAITING/ACTIVE -runtime_lost-> INACTIVE
    INACTIVE -restart-> PENDING;  WAITING/ACTIVE -runtime_ended-> CLOSED
    any but CLOSED -delete/expire-> CLOSED

A session enters PENDING in the call that creates it (the 201 body still says CREATED).
PENDING sessions wait in a FIFO queue; the head gets the first free slot, and
``assign_delay`` seconds later the slot's runtime is sent ``POST /start_session``; its
descriptor's ``selected_transport``/``capabilities``/``schema`` (and ``server_info.wire``,
when the runtime reports one) are copied into the session (WAITING).  Polling the
runtime's ``GET /session`` (every ``runtime_poll_interval``, after each forwarded transport
request, and before answering ``GET /sessions/{id}``) turns STREAMING into ACTIVE and an
idle runtime (its orphan timeout fired) into CLOSED.  A request that needs a (state,
trigger) pair missing from the table gets 409.  Closed sessions stay readable by ``GET``
for ``closed_retention`` seconds, then every trace of them is purged.

Decisions: transport and upload routes of a session without a runtime (CREATED, PENDING,
INACTIVE) get 409 naming the state; a CLOSED or unknown session, or another key's, gets 404.
DELETE is exempt from version checks (clients do not check them there, §3.7).  The maximum
duration counts from creation, queue time included.  A runtime whose ``start_session``
fails leaves the session INACTIVE (restartable with PUT) and its slot free.
"""

from __future__ import annotations

import random

from ..errors import LocalProtocolError
from ..http import HttpRequest, HttpResponse
from .actions import CoordinatorAction
from .calls import CallKind, PendingCall
from .config import CoordinatorConfig
from .events import CoordinatorEvent, InternalError, RuntimeCallFailed
from .forwarding import Forwarding
from .handlers import RouteHandlers, Sign, Verify
from .lifecycle import TRANSITIONS, Lifecycle, Trigger
from .routes import error_reply
from .sessions import SessionState

__all__ = ["TRANSITIONS", "CoordinatorMachine", "Sign", "Trigger", "Verify"]

#: A bound on timer rounds per input, so a pathological configuration cannot spin.
MAX_TIMER_ROUNDS = 1000


class CoordinatorMachine:
    """The coordinator role of the sans-IO core (see the module docstring)."""

    def __init__(self, config: CoordinatorConfig, *, slots: int, rng: random.Random,
                 sign: Sign, verify: Verify, unix_offset: float = 0.0) -> None:
        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 0:
            raise LocalProtocolError(f"slots: expected an integer >= 0, got {slots!r}")
        self._life = Lifecycle(config, slots, unix_offset)
        self._forwarding = Forwarding(self._life)
        self._handlers = RouteHandlers(self._life, self._forwarding, rng=rng, sign=sign,
                                       verify=verify)
        self._last_request_id = 0

    def __repr__(self) -> str:
        counts = self._life.table.counts()
        return f"CoordinatorMachine(slots={self._life.table.slot_count}, {counts})"

    # ---- inputs --------------------------------------------------------------------------

    def receive_request(self, request: HttpRequest, now: float) -> int:
        """Accept one client request; its answer is a ``SendResponse`` with the returned id.
        Never raises."""
        self._last_request_id += 1
        rid = self._last_request_id
        life = self._life
        life.awaiting.add(rid)
        try:
            self._advance(now)
            response = self._handlers.dispatch(request, rid, now)
            if response is not None:
                life.respond(rid, response)
            self._advance(now)
        except Exception as exc:
            life.emit(InternalError(detail=f"{type(exc).__name__}: {exc}"))
            life.respond(rid, error_reply(500, "internal error"))
        return rid

    def runtime_replied(self, call_id: int, response: HttpResponse, now: float) -> None:
        """The runtime answered call ``call_id`` (any status).  Never raises."""
        self._complete(call_id, response, None, now)

    def runtime_call_failed(self, call_id: int, detail: str, now: float) -> None:
        """Call ``call_id`` got no answer (the runtime raised, the link broke); ``detail``
        says why, for the :class:`RuntimeCallFailed` event.  Never raises."""
        self._complete(call_id, None, detail, now)

    def handle_timeout(self, now: float) -> None:
        """Run the timers due at ``now``.  Never raises (a bug becomes an event)."""
        self._guarded(now)

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
        self._guarded(now)

    def runtime_recovered(self, slot: int, now: float) -> None:
        """Put a failed slot back in service."""
        self._check_slot(slot)
        self._life.table.set_failed(slot, False)
        self._guarded(now)

    def expire_session(self, session_id: str, now: float) -> bool:
        """Fault injection: close a live session as if its maximum duration had passed
        (the same path as the duration timer).  False if it is unknown or CLOSED."""
        record = self._life.table.get(session_id)
        if record is None or record.state is SessionState.CLOSED:
            return False
        self._life.close(record, Trigger.EXPIRE, "expired", now)
        self._guarded(now)
        return True

    def transport_dropped(self, session_id: str, now: float) -> bool:
        """A peer of the session was dropped on the runtime side: poll its runtime now
        rather than at the next poll tick.  False if the session has no runtime."""
        record = self._life.table.get(session_id)
        polled = record is not None and self._life.poll(record, now) is not None
        self._guarded(now)
        return polled

    def _check_slot(self, slot: int) -> None:
        if isinstance(slot, bool) or not isinstance(slot, int) or not (
                0 <= slot < self._life.table.slot_count):
            raise LocalProtocolError(
                f"slot: expected 0..{self._life.table.slot_count - 1}, got {slot!r}")

    # ---- runtime call completion ---------------------------------------------------------

    def _complete(self, call_id: int, response: HttpResponse | None, detail: str | None,
                  now: float) -> None:
        call = self._life.calls.pop(call_id)
        if call is None:
            return          # stale: it timed out, or was never issued
        try:
            self._finish(call, response, detail, now)
        except Exception as exc:
            self._internal_error(exc, call)
        self._guarded(now)

    def _finish(self, call: PendingCall, response: HttpResponse | None, detail: str | None,
                now: float) -> None:
        life = self._life
        if response is None:
            life.emit(RuntimeCallFailed(slot=call.slot, operation=call.kind.value,
                                        detail=detail or "no answer"))
        if call.kind is CallKind.START:
            life.finish_start(call, response, now)
        elif call.kind is CallKind.POLL:
            life.finish_poll(call, response, now)
            if call.request_id is not None:
                self._handlers.answer_poll(call)
        elif call.kind is CallKind.STOP:
            life.finish_stop(call, response)
        else:
            self._forwarding.finish(call, response, now)

    def _internal_error(self, exc: Exception, call: PendingCall | None = None) -> None:
        self._life.emit(InternalError(detail=f"{type(exc).__name__}: {exc}"))
        if call is not None and call.request_id is not None:
            self._life.respond(call.request_id, error_reply(500, "internal error"))

    # ---- timers --------------------------------------------------------------------------

    def _guarded(self, now: float) -> None:
        try:
            self._advance(now)
        except Exception as exc:
            self._internal_error(exc)

    def _advance(self, now: float) -> None:
        """Run every timer due at ``now`` (and what they make due in turn)."""
        life = self._life
        for _ in range(MAX_TIMER_ROUNDS):
            for call in life.calls.overdue(now):
                try:
                    self._finish(call, None, f"no answer within "
                                 f"{life.config.runtime_call_timeout:g} s", now)
                except Exception as exc:
                    self._internal_error(exc, call)
            life.run_due(now)
            deadline = life.next_deadline()
            if deadline is None or deadline > now:
                return

    # ---- outputs -------------------------------------------------------------------------

    def next_action(self) -> CoordinatorAction | None:
        """The next action to perform; drain until ``None`` after every call."""
        return self._life.actions.popleft() if self._life.actions else None

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`handle_timeout` has work (absolute, like ``now``)."""
        return self._life.next_deadline()

    def next_event(self) -> CoordinatorEvent | None:
        return self._life.events.popleft() if self._life.events else None

    @property
    def events_dropped(self) -> int:
        return self._life.events_dropped

    # ---- read-only queries ---------------------------------------------------------------

    def session_state(self, session_id: str) -> SessionState | None:
        record = self._life.table.get(session_id)
        return None if record is None else record.state

    def session_slot(self, session_id: str) -> int | None:
        record = self._life.table.get(session_id)
        return None if record is None else record.slot

    def live_sessions(self) -> tuple[str, ...]:
        """Ids of the sessions that are not CLOSED, oldest first."""
        return tuple(r.session_id for r in self._life.table
                     if r.state is not SessionState.CLOSED)

    @property
    def queue(self) -> tuple[str, ...]:
        return self._life.table.queue

    @property
    def calls_in_flight(self) -> int:
        """Runtime calls queued and not answered yet."""
        return len(self._life.calls)

    @property
    def requests_open(self) -> int:
        """Client requests accepted and not answered yet."""
        return len(self._life.awaiting)

    def bookkeeping(self) -> dict[str, int]:
        """Sizes of every table and timer: all zero when the coordinator is idle."""
        counts = self._life.table.counts()
        counts["rate_buckets"] = len(self._life.limiter)
        counts["poll_timer"] = int(self._life.poll_at is not None)
        return counts
