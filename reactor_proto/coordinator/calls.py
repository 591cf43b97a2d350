"""Runtime calls in flight: what each one is for, and what to do when it completes.

A call is opened when the machine queues its action and closed by the adapter's
``runtime_replied`` / ``runtime_call_failed`` or by its deadline (``runtime_call_timeout``
seconds; the adapter may never answer).  The record says everything the completion needs,
so the machine holds no other continuation: the client request it answers (if any), the
session it concerns and, for an upload slot, how to rewrite the runtime's reply.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

import attrs

from ..http import HttpRequest
from .actions import AssignGpu, ForwardToRuntime, PollRuntime, ReleaseRuntime, RuntimeCall


class CallKind(enum.StrEnum):
    """What a call does; the value is the operation named in ``RuntimeCallFailed``."""

    START = "start_session"
    POLL = "get_session"
    STOP = "stop_session"
    TRANSPORT = "transport"
    UPLOAD_SLOT = "upload_slot"
    UPLOAD_PUT = "upload_put"
    STEPS = "step_results"


class View(enum.StrEnum):
    """What a client ``GET`` answered after a poll shows."""

    SESSION = "session"
    INFO = "info"


@attrs.frozen(kw_only=True)
class UploadContext:
    """How the runtime's upload slot is rewritten into the coordinator's."""

    host: str
    scheme: str
    runtime_session_id: str


@attrs.frozen(kw_only=True)
class PendingCall:
    call_id: int
    kind: CallKind
    slot: int
    deadline: float
    session_id: str | None = None
    #: The client request answered when this call completes (``None``: nobody waits).
    request_id: int | None = None
    view: View | None = None
    upload: UploadContext | None = None

    def action(self, request: HttpRequest) -> RuntimeCall:
        if self.kind is CallKind.START:
            return AssignGpu(call_id=self.call_id, slot=self.slot, request=request)
        if self.kind is CallKind.POLL:
            return PollRuntime(call_id=self.call_id, slot=self.slot, request=request)
        if self.kind is CallKind.STOP:
            return ReleaseRuntime(call_id=self.call_id, slot=self.slot, request=request)
        return ForwardToRuntime(call_id=self.call_id, slot=self.slot, request=request)


class CallBook:
    """The calls in flight, by id (ids count up from 1 and are never reused)."""

    def __init__(self, limit: int) -> None:
        self._calls: dict[int, PendingCall] = {}
        self._last_id = 0
        self.limit = limit

    def __len__(self) -> int:
        return len(self._calls)

    def __iter__(self) -> Iterator[PendingCall]:
        return iter(list(self._calls.values()))

    @property
    def full(self) -> bool:
        return len(self._calls) >= self.limit

    def open(self, *, kind: CallKind, slot: int, deadline: float,
             session_id: str | None = None, request_id: int | None = None,
             view: View | None = None, upload: UploadContext | None = None) -> PendingCall:
        self._last_id += 1
        call = PendingCall(call_id=self._last_id, kind=kind, slot=slot, deadline=deadline,
                           session_id=session_id, request_id=request_id, view=view,
                           upload=upload)
        self._calls[call.call_id] = call
        return call

    def pop(self, call_id: int) -> PendingCall | None:
        return self._calls.pop(call_id, None)

    def polling(self, session_id: str) -> bool:
        return any(c.kind is CallKind.POLL and c.session_id == session_id
                   for c in self._calls.values())

    def starting_slots(self) -> set[int]:
        """Slots with a start in flight: each is handed to nobody until its start ends."""
        return {c.slot for c in self._calls.values() if c.kind is CallKind.START}

    def next_deadline(self) -> float | None:
        return min((c.deadline for c in self._calls.values()), default=None)

    def overdue(self, now: float) -> list[PendingCall]:
        """Remove and return the calls whose deadline has passed."""
        due = [c for c in self._calls.values() if c.deadline <= now]
        for call in due:
            del self._calls[call.call_id]
        return due
