"""Control-channel requests in flight and notifications waiting for the channel.

Requests carry ``ctrl_<n>`` ids and a deadline; a response resolves exactly the request with
its id (responses for unknown ids are ignored, as the official client does).  Notifications
issued while a connection is being set up wait here and are flushed when the channels open;
if the attempt fails they are reported as failed, never dropped in silence (F21).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ..control import ControlNotification, ControlRequest, ControlResponse, encode_control
from ..errors import ControlRequestError, ReactorError, RequestTimeoutError


@attrs.define(kw_only=True, eq=False)
class PendingRequest:
    op: int
    method: str
    track: str
    deadline: float


@attrs.frozen(kw_only=True)
class QueuedNotification:
    event: str
    track: str


class ControlTracker:
    def __init__(self) -> None:
        self._counter = 0
        self._pending: dict[str, PendingRequest] = {}
        self.queued: list[QueuedNotification] = []

    def request(self, method: str, track: str, op: int, now: float, timeout: float) -> str:
        """Register a request and return the text to send on the control channel."""
        self._counter += 1
        request_id = f"ctrl_{self._counter}"
        self._pending[request_id] = PendingRequest(op=op, method=method, track=track,
                                                   deadline=now + timeout)
        return encode_control(ControlRequest(method=method, request_id=request_id,
                                             data={"name": track}))

    @staticmethod
    def notification(event: str, track: str) -> str:
        return encode_control(ControlNotification(event=event, data={"name": track}))

    def resolve(
        self, response: ControlResponse
    ) -> tuple[PendingRequest, ReactorError | None] | None:
        pending = self._pending.pop(response.request_id, None)
        if pending is None:
            return None
        if response.error is not None:
            return pending, ControlRequestError(pending.method, response.error.code,
                                                response.error.message)
        return pending, None

    def expire(self, now: float) -> list[tuple[PendingRequest, ReactorError]]:
        late = [(rid, p) for rid, p in self._pending.items() if p.deadline <= now]
        for rid, _ in late:
            del self._pending[rid]
        return [(p, RequestTimeoutError(
            f"control request {p.method!r} for track {p.track!r} got no response in time",
            component="gpu")) for _, p in late]

    def fail_all(self) -> list[PendingRequest]:
        pending = list(self._pending.values())
        self._pending.clear()
        return pending

    def is_pending(self, method: str, track: str) -> bool:
        return any(p.method == method and p.track == track for p in self._pending.values())

    def next_deadline(self) -> float | None:
        return min((p.deadline for p in self._pending.values()), default=None)

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def snapshot(self) -> Mapping[str, Any]:
        return {rid: (p.method, p.track) for rid, p in self._pending.items()}
