"""Fault injection for the coordinator emulator: the wrapper that applies a fault plan
(``fault_plan.py``) in front of the coordinator machine.

Faults are test instrumentation, not protocol policy, so they live in the adapter: the
machine never knows a request was delayed, dropped or answered by a fault (the side-effect
faults use its public inputs: ``expire_session``, ``runtime_failed``, ``transport_dropped``).
Each fault counts the requests its route matched, whether or not it fired; when several
faults fire for one request, the first in plan order wins.  The plan's names are re-exported
here.
"""

from __future__ import annotations

import logging
import random
import socket
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

import anyio
import anyio.abc
import attrs
from anyio.abc import SocketAttribute

from reactor_proto.coordinator.routes import error_reply, json_reply
from reactor_proto.http import HttpRequest, HttpResponse

from ..http import ConnectionTakeover, HandlerResult
from .fault_plan import (
    FLAG_KINDS,
    MAX_DELAY,
    MAX_FAULTS,
    MAX_PLAN_BYTES,
    METHODS,
    SIDE_EFFECT_KINDS,
    Fault,
    FaultKind,
    FaultPlan,
    RoutePattern,
    coerce_plan,
    parse_fault_plan,
)

__all__ = [
    "FLAG_KINDS",
    "MALFORMED_BODY",
    "MAX_DELAY",
    "MAX_FAULTS",
    "MAX_PLAN_BYTES",
    "METHODS",
    "SIDE_EFFECT_KINDS",
    "AppliedFault",
    "Fault",
    "FaultInjector",
    "FaultKind",
    "FaultPlan",
    "FaultTarget",
    "RequestRecord",
    "RoutePattern",
    "coerce_plan",
    "parse_fault_plan",
    "session_of",
    "status_response",
]

log = logging.getLogger("reactor_anyio.coordinator.faults")

MALFORMED_BODY = b"<html><body>502 Bad Gateway (fault injected: not JSON)</body></html>"
#: A truncated answer promises this many bytes more than it sends.
TRUNCATED_MISSING = 64


# ---- applying a plan ----------------------------------------------------------------------


class FaultTarget(Protocol):
    """The side effects a fault can have; ``session_id`` None = every live session.  Each
    returns how many sessions (or runtimes) it affected."""

    async def drop_peer(self, session_id: str | None) -> int: ...

    async def kill_runtime(self, session_id: str | None) -> int: ...

    async def expire_session(self, session_id: str | None) -> int: ...


@attrs.frozen(kw_only=True)
class AppliedFault:
    index: int          # position in the plan
    kind: FaultKind
    method: str
    path: str           # the request path (never headers: they may carry credentials)
    at: float           # arrival, on the injector's clock


@attrs.frozen(kw_only=True)
class RequestRecord:
    """One request as it arrived (faulted or not), for tests and for measuring retries."""

    method: str
    path: str
    at: float
    fault: FaultKind | None


def session_of(path: str) -> str | None:
    """The session id in ``/sessions/{id}/...``, else ``None``."""
    parts = path.split("?", 1)[0].split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "sessions" and parts[2] else None


def status_response(fault: Fault) -> HttpResponse:
    assert fault.status is not None
    extra: tuple[tuple[str, str], ...] = ()
    if fault.retry_after is not None:
        value = fault.retry_after
        extra = (("retry-after", str(int(value)) if value == int(value) else f"{value:g}"),)
    body = fault.body if fault.body is not None else {
        "detail": f"fault injected: HTTP {fault.status}"}
    return json_reply(fault.status, body, extra)


def _abort_stream(stream: anyio.abc.ByteStream) -> None:
    """Make the coming close send RST instead of FIN (SO_LINGER 0)."""
    raw = stream.extra(SocketAttribute.raw_socket, None)
    if isinstance(raw, socket.socket):
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def _reset(stream: anyio.abc.ByteStream) -> None:
    _abort_stream(stream)


async def _truncated(stream: anyio.abc.ByteStream) -> None:
    body = b'{"detail":"this answer is cut short by a fault'
    head = (f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body) + TRUNCATED_MISSING}\r\n\r\n").encode("ascii")
    await stream.send(head + body)


class FaultInjector:
    """An HTTP handler that applies ``plan`` and passes everything else to ``handler``."""

    def __init__(self, plan: FaultPlan,
                 handler: Callable[[HttpRequest], Awaitable[HandlerResult]],
                 target: FaultTarget, *, max_log: int = 1000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.plan = plan
        self._handler = handler
        self._target = target
        self._rng = random.Random(plan.seed)
        self._counts = [0] * len(plan.faults)
        self._clock = clock
        self.applied: deque[AppliedFault] = deque(maxlen=max_log)
        self.requests: deque[RequestRecord] = deque(maxlen=max_log)

    def choose(self, method: str, path: str) -> tuple[int, Fault] | None:
        """Count the request against every matching fault; the first that fires, if any."""
        chosen: tuple[int, Fault] | None = None
        for index, fault in enumerate(self.plan.faults):
            if not fault.pattern.matches(method, path):
                continue
            self._counts[index] += 1
            if chosen is not None or not fault.fires(self._counts[index]):
                continue
            if fault.probability is not None and self._rng.random() >= fault.probability:
                continue
            chosen = (index, fault)
        return chosen

    async def __call__(self, request: HttpRequest) -> HandlerResult:
        path, at = request.path, self._clock()
        chosen = self.choose(request.method, path)
        if chosen is None:
            self.requests.append(RequestRecord(method=request.method, path=path, at=at,
                                               fault=None))
            return await self._handler(request)
        index, fault = chosen
        kind = fault.kind
        self.requests.append(RequestRecord(method=request.method, path=path, at=at, fault=kind))
        self.applied.append(AppliedFault(index=index, kind=kind, method=request.method,
                                         path=path, at=at))
        log.info("fault %d (%s) applied to %s %s", index, kind.value, request.method, path)
        if kind is FaultKind.STATUS:
            return status_response(fault)
        if kind is FaultKind.VERSION:
            assert fault.version is not None
            return error_reply(fault.version, f"fault injected: version check failed with "
                                              f"HTTP {fault.version}")
        if kind is FaultKind.NO_ANSWER:
            return json_reply(202, None)
        if kind is FaultKind.MALFORMED:
            response = json_reply(200, None)
            return HttpResponse(status=200, headers=response.headers, body=MALFORMED_BODY)
        if kind is FaultKind.RESET:
            return ConnectionTakeover(run=_reset)
        if kind is FaultKind.TRUNCATED:
            return ConnectionTakeover(run=_truncated)
        if kind is FaultKind.DELAY:
            assert fault.delay is not None
            await anyio.sleep(fault.delay)
        else:
            session_id = session_of(path)
            effect = {FaultKind.DROP_PEER: self._target.drop_peer,
                      FaultKind.KILL_RUNTIME: self._target.kill_runtime,
                      FaultKind.EXPIRE_SESSION: self._target.expire_session}[kind]
            await effect(session_id)
        return await self._handler(request)
