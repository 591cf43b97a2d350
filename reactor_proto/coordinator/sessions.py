"""Session records, the FIFO queue for a free runtime slot, slot and upload bookkeeping.

This module only stores; every state change is decided by the transition table in
``machine.py``.  Records are frozen and replaced with ``attrs.evolve``.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Collection, Iterator, Mapping
from typing import Any

import attrs


class SessionState(enum.StrEnum):
    """Coordinator session states (docs/protocol §1.4).  ``SUSPENDED`` exists on the wire but
    this emulator never enters it."""

    CREATED = "CREATED"
    PENDING = "PENDING"
    SUSPENDED = "SUSPENDED"
    WAITING = "WAITING"
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    CLOSED = "CLOSED"


#: States in which a runtime hosts the session (transport and upload routes are forwarded).
HOSTED_STATES = frozenset({SessionState.WAITING, SessionState.ACTIVE})


@attrs.frozen(kw_only=True)
class SessionRecord:
    session_id: str
    owner: str                      # API key id (JWT ``sub``)
    model_name: str
    model_version: str | None
    state: SessionState
    created_at: float               # monotonic
    expires_at: float | None        # monotonic deadline of the maximum duration
    expires_at_unix: float | None   # the same instant in Unix seconds, as reported
    slot: int | None = None         # reserved or hosting runtime slot
    assign_at: float | None = None  # when the reserved slot's start_session is attempted
    runtime_session_id: str | None = None
    selected_transport: Mapping[str, Any] | None = None
    capabilities: Mapping[str, Any] | None = None
    schema: Mapping[str, Any] | None = None
    server_wires: tuple[str, ...] | None = None  # the hosting runtime's ``server_info.wire``
    purge_at: float | None = None   # CLOSED records are forgotten at this time
    close_reason: str | None = None
    generation: str = "streamed"    # §15.2, passed to the runtime's start_session


class SessionTable:
    """All bookkeeping of the coordinator, so one place can say whether it is empty."""

    def __init__(self, slot_count: int) -> None:
        self._sessions: dict[str, SessionRecord] = {}
        self._queue: deque[str] = deque()
        self._slots: list[str | None] = [None] * slot_count
        self._failed_slots: set[int] = set()
        self._uploads: dict[str, str] = {}   # presigned upload id -> session id

    # ---- sessions ------------------------------------------------------------------------

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    def __iter__(self) -> Iterator[SessionRecord]:
        return iter(list(self._sessions.values()))

    def get(self, session_id: str) -> SessionRecord | None:
        return self._sessions.get(session_id)

    def put(self, record: SessionRecord) -> None:
        self._sessions[record.session_id] = record

    def purge(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)
        self.dequeue(session_id)
        self.drop_uploads(session_id)

    def live_count(self, owner: str) -> int:
        return sum(1 for r in self._sessions.values()
                   if r.owner == owner and r.state is not SessionState.CLOSED)

    # ---- FIFO queue ----------------------------------------------------------------------

    @property
    def queue(self) -> tuple[str, ...]:
        return tuple(self._queue)

    def enqueue(self, session_id: str, *, front: bool = False) -> None:
        if session_id in self._queue:
            return
        if front:
            self._queue.appendleft(session_id)
        else:
            self._queue.append(session_id)

    def dequeue(self, session_id: str) -> None:
        if session_id in self._queue:
            self._queue.remove(session_id)

    def pop_next(self) -> str | None:
        return self._queue.popleft() if self._queue else None

    # ---- runtime slots -------------------------------------------------------------------

    @property
    def slot_count(self) -> int:
        return len(self._slots)

    def holder(self, slot: int) -> str | None:
        return self._slots[slot]

    def free_slot(self, busy: Collection[int] = ()) -> int | None:
        """The lowest slot that is neither held, out of service, nor ``busy``."""
        for index, holder in enumerate(self._slots):
            if holder is None and index not in self._failed_slots and index not in busy:
                return index
        return None

    def reserve(self, slot: int, session_id: str) -> None:
        self._slots[slot] = session_id

    def release(self, slot: int) -> None:
        self._slots[slot] = None

    def set_failed(self, slot: int, failed: bool) -> None:
        if failed:
            self._failed_slots.add(slot)
        else:
            self._failed_slots.discard(slot)

    def held_slots(self) -> tuple[int, ...]:
        return tuple(i for i, holder in enumerate(self._slots) if holder is not None)

    # ---- uploads -------------------------------------------------------------------------

    def add_upload(self, upload_id: str, session_id: str) -> None:
        self._uploads[upload_id] = session_id

    def upload_session(self, upload_id: str) -> str | None:
        return self._uploads.get(upload_id)

    def upload_count(self, session_id: str) -> int:
        return sum(1 for sid in self._uploads.values() if sid == session_id)

    def drop_uploads(self, session_id: str) -> None:
        for upload_id in [u for u, sid in self._uploads.items() if sid == session_id]:
            del self._uploads[upload_id]

    # ---- introspection (tests, metrics) --------------------------------------------------

    def counts(self) -> dict[str, int]:
        return {"sessions": len(self._sessions), "queued": len(self._queue),
                "slots_held": len(self.held_slots()), "uploads": len(self._uploads)}
