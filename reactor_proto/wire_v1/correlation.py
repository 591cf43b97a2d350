"""Request ids and their replies on one v1 connection (docs/protocol §6.8.3), sans-IO.

The client allocates ids; each reply is a ``RESPONSE`` carrying the id of its request, on the
channel the request went out on.  :class:`Correlator` is the bounded table a client keeps per
connection: it mints ids (a counter, so nothing random is needed), refuses a reused or empty
id, matches each reply to its request, refuses a reply to nothing, and hands back requests
whose deadline passed or that a lost connection abandoned.
"""

from __future__ import annotations

from typing import Any

import attrs

from reactor_proto.errors import (
    ErrorCode,
    InvalidStateError,
    LocalProtocolError,
    RemoteProtocolError,
)
from reactor_proto.wire_v1.enums import MessageKind
from reactor_proto.wire_v1.envelopes import Channel, ControlServerMessage, DataServerMessage


class UnexpectedReplyError(RemoteProtocolError):
    """The peer sent a reply that answers no request in flight (or is not a reply)."""

    def __init__(self, message: str, *, request_id: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.request_id = request_id


@attrs.frozen(kw_only=True)
class Pending:
    """A request in flight: its id, channel, what it was (for errors) and its deadline."""

    request_id: str
    channel: Channel
    what: str
    deadline: float


@attrs.define
class Correlator:
    max_in_flight: int = 1024
    prefix: str = ""  # e.g. a per-connection tag, so ids of two connections never meet
    _next: int = attrs.field(default=1, init=False)
    _pending: dict[str, Pending] = attrs.field(factory=dict, init=False)

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def new_id(self) -> str:
        """A fresh id, unique on this correlator for its whole life."""
        request_id = f"{self.prefix}{self._next}"
        self._next += 1
        return request_id

    def begin(self, *, channel: Channel, what: str, deadline: float,
              request_id: str | None = None) -> Pending:
        """Record a request about to be sent; mints the id unless one is given."""
        if request_id is None:
            request_id = self.new_id()
        if not request_id:
            raise LocalProtocolError(f"{what}: a request needs a non-empty request_id")
        if request_id in self._pending:
            raise LocalProtocolError(
                f"{what}: request_id {request_id!r} is already in flight "
                f"({self._pending[request_id].what})")
        if len(self._pending) >= self.max_in_flight:
            raise InvalidStateError(
                f"{what}: {self.max_in_flight} requests already in flight on this connection",
                code=ErrorCode.INVALID_STATE)
        pending = Pending(request_id=request_id, channel=Channel(channel), what=what,
                          deadline=deadline)
        self._pending[request_id] = pending
        return pending

    def is_reply(self, message: DataServerMessage | ControlServerMessage) -> bool:
        """True for messages that answer a request (a ``RESPONSE`` with an id); broadcasts
        (``NOTIFICATION``) are not replies and never touch the table."""
        return message.kind is MessageKind.RESPONSE and bool(message.request_id)

    def resolve(self, message: DataServerMessage | ControlServerMessage) -> Pending:
        """The request ``message`` answers, removed from the table.

        Raises :class:`UnexpectedReplyError` for a reply to nothing: an unknown or already
        answered id, a non-``RESPONSE``, or a reply on the other channel.
        """
        request_id = message.request_id
        if not self.is_reply(message):
            raise UnexpectedReplyError(
                f"not a reply (kind {message.kind.name}, request_id {request_id!r})",
                request_id=request_id)
        pending = self._pending.get(request_id)
        if pending is None:
            raise UnexpectedReplyError(f"reply to no request in flight: {request_id!r}",
                                       request_id=request_id)
        channel = Channel.DATA if isinstance(message, DataServerMessage) else Channel.CONTROL
        if channel is not pending.channel:
            raise UnexpectedReplyError(
                f"reply to {pending.what} ({request_id!r}) came on {channel.value}, "
                f"not {pending.channel.value}", request_id=request_id)
        del self._pending[request_id]
        return pending

    def next_deadline(self) -> float | None:
        return min((p.deadline for p in self._pending.values()), default=None)

    def expire(self, now: float) -> list[Pending]:
        """Remove and return the requests whose deadline has passed, oldest id first."""
        late = [p for p in self._pending.values() if p.deadline <= now]
        for pending in late:
            del self._pending[pending.request_id]
        return late

    def abandon_all(self) -> list[Pending]:
        """Remove and return every request in flight (the connection went away)."""
        pending = list(self._pending.values())
        self._pending.clear()
        return pending
