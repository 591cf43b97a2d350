"""Bookkeeping of HTTP exchanges: in flight (with a deadline) or waiting to be (re)sent.

One *exchange* is a logical request that may be sent several times (polls, retries).  Each
sending gets a fresh ``request_id``; a response is matched by that id, so a reply to a
request the machine stopped waiting for (cancelled, timed out, superseded by a reconnect)
finds nothing and is dropped.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from ..http import HttpRequest
from .actions import CancelHttp, SendHttp

#: Marks a create-session exchange whose connect() was cancelled while it was in flight.
ABANDONED = "abandoned"


class Purpose(enum.Enum):
    TOKEN = "POST /tokens"
    CREATE_SESSION = "POST /sessions"
    START_SESSION = "POST /start_session"
    LOCAL_SESSION = "GET /session"
    POLL_SESSION = "GET /sessions/{id}"
    RESTART_SESSION = "PUT /sessions/{id}"
    ICE_SERVERS = "GET ice_servers"
    REGISTER = "POST connections"
    OFFER = "POST sdp_params"
    POLL_ANSWER = "GET sdp_params"
    TERMINATE = "terminate session"
    UPLOAD_SLOT = "POST uploads"
    UPLOAD_PUT = "PUT upload"


@attrs.define(kw_only=True, eq=False)
class Exchange:
    purpose: Purpose
    request: HttpRequest
    flow: bool
    op: int | None = None
    request_id: int | None = None
    deadline: float | None = None
    wake_at: float | None = None
    retries: int = 0
    polls: int = 0
    context: Any = None

    @property
    def in_flight(self) -> bool:
        return self.request_id is not None


class ExchangeTable:
    """All exchanges of one client; hands out request ids and tracks their timers."""

    def __init__(self) -> None:
        self._all: list[Exchange] = []
        self._next_request_id = 0

    def __iter__(self) -> Iterator[Exchange]:
        return iter(list(self._all))

    def __len__(self) -> int:
        return len(self._all)

    def send(self, exchange: Exchange, now: float, timeout: float) -> SendHttp:
        """Mark ``exchange`` in flight and return the action that sends it."""
        if exchange not in self._all:
            self._all.append(exchange)
        self._next_request_id += 1
        exchange.request_id = self._next_request_id
        exchange.deadline = now + timeout
        exchange.wake_at = None
        return SendHttp(request_id=exchange.request_id, request=exchange.request,
                        timeout=timeout)

    def schedule(self, exchange: Exchange, at: float) -> None:
        """Send ``exchange`` again at time ``at`` (a poll or a retry)."""
        if exchange not in self._all:
            self._all.append(exchange)
        exchange.request_id = None
        exchange.deadline = None
        exchange.wake_at = at

    def take(self, request_id: int) -> Exchange | None:
        """The exchange waiting for ``request_id``, no longer in flight; None if stale."""
        for exchange in self._all:
            if exchange.request_id == request_id:
                exchange.request_id = None
                exchange.deadline = None
                return exchange
        return None

    def finish(self, exchange: Exchange) -> None:
        if exchange in self._all:
            self._all.remove(exchange)

    def due(self, now: float) -> tuple[list[Exchange], list[Exchange]]:
        """(exchanges whose wake time has come, in-flight exchanges past their deadline)."""
        wake = [e for e in self._all if e.wake_at is not None and e.wake_at <= now]
        late = [e for e in self._all if e.deadline is not None and e.deadline <= now]
        return wake, late

    def next_deadline(self) -> float | None:
        times = [t for e in self._all for t in (e.wake_at, e.deadline) if t is not None]
        return min(times) if times else None

    def cancel(self, predicate: Callable[[Exchange], bool]) -> list[CancelHttp]:
        """Forget matching exchanges; returns cancel actions for those in flight."""
        actions: list[CancelHttp] = []
        for exchange in list(self._all):
            if predicate(exchange):
                if exchange.request_id is not None:
                    actions.append(CancelHttp(request_id=exchange.request_id))
                self._all.remove(exchange)
        return actions

    def find(self, purpose: Purpose) -> Exchange | None:
        for exchange in self._all:
            if exchange.purpose is purpose:
                return exchange
        return None
