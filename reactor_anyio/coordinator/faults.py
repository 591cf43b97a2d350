"""Fault injection for the coordinator emulator: the plan, its JSON form, and the wrapper
that applies it in front of the coordinator machine.

Faults are test instrumentation, not protocol policy, so they live in the adapter: the
machine never knows a request was delayed, dropped or answered by a fault.  See
``docs/faults.md`` for the user-facing description and a JSON example.

A :class:`Fault` matches a route (``"POST /sessions"``, ``"GET /sessions/*/info"``; ``*`` is
exactly one path segment, a method of ``*`` is any method), decides *when* (every matching
request; only the ``nth``; the first ``times``; each with ``probability`` drawn from the plan's
seeded RNG) and does exactly ONE thing (its *kind*, :class:`FaultKind`).  Each fault counts the
requests its route matched, whether or not it fired; when several faults fire for one
request, the first in plan order wins.
"""

from __future__ import annotations

import enum
import logging
import math
import random
import re
import socket
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import anyio
import anyio.abc
import attrs
from anyio.abc import SocketAttribute

from reactor_proto.coordinator.routes import error_reply, json_reply
from reactor_proto.errors import DecodeError, LocalProtocolError
from reactor_proto.http import HttpRequest, HttpResponse
from reactor_proto.jsonfields import Fields, dumps, is_json_number, loads_bounded

from ..http import ConnectionTakeover, HandlerResult

log = logging.getLogger("reactor_anyio.coordinator.faults")

MAX_PLAN_BYTES = 1024 * 1024
MAX_FAULTS = 1000
MAX_DELAY = 3600.0
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD", "*"})
_SEGMENT = re.compile(r"\*|[A-Za-z0-9._~-]{1,128}")
MALFORMED_BODY = b"<html><body>502 Bad Gateway (fault injected: not JSON)</body></html>"
#: A truncated answer promises this many bytes more than it sends.
TRUNCATED_MISSING = 64


class FaultKind(enum.StrEnum):
    STATUS = "status"
    DELAY = "delay"
    RESET = "reset"
    MALFORMED = "malformed"
    TRUNCATED = "truncated"
    NO_ANSWER = "no_answer"
    DROP_PEER = "drop_peer"
    KILL_RUNTIME = "kill_runtime"
    EXPIRE_SESSION = "expire_session"
    VERSION = "version"


#: Kinds written as ``"<kind>": true``.
FLAG_KINDS = (FaultKind.RESET, FaultKind.MALFORMED, FaultKind.TRUNCATED, FaultKind.NO_ANSWER,
              FaultKind.DROP_PEER, FaultKind.KILL_RUNTIME, FaultKind.EXPIRE_SESSION)
#: Kinds that act on the session (or runtime) and then let the request through.
SIDE_EFFECT_KINDS = frozenset({FaultKind.DROP_PEER, FaultKind.KILL_RUNTIME,
                               FaultKind.EXPIRE_SESSION})


_NUMBER_FIELDS = ("retry_after", "delay", "probability")
_INT_FIELDS = ("status", "version", "nth", "times")


class _Problem(Exception):
    """A bad fault field: ``field`` (relative to the fault), the value, and why."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        super().__init__(f"{field}: {reason}, got {value!r}")
        self.field = field
        self.value = value
        self.reason = reason


@attrs.frozen(kw_only=True)
class RoutePattern:
    """``METHOD /path/with/*/segments``; ``*`` matches exactly one non-empty segment."""

    method: str
    segments: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> RoutePattern:
        method, _, path = text.strip().partition(" ")
        method, path = method.upper(), path.strip()
        if method not in METHODS:
            raise _Problem("route", text, f"method must be one of {sorted(METHODS)}")
        if not path.startswith("/") or path == "/":
            raise _Problem("route", text, "expected 'METHOD /path'")
        segments = tuple(path[1:].split("/"))
        for segment in segments:
            if not _SEGMENT.fullmatch(segment):
                raise _Problem("route", text, f"bad path segment {segment!r} (a literal or *)")
        return cls(method=method, segments=segments)

    def matches(self, method: str, path: str) -> bool:
        if self.method != "*" and self.method != method.upper():
            return False
        parts = path.split("?", 1)[0].split("/")[1:]
        if len(parts) != len(self.segments):
            return False
        return all((want == "*" and got != "") or want == got
                   for want, got in zip(self.segments, parts, strict=True))

    def __str__(self) -> str:
        return f"{self.method} /{'/'.join(self.segments)}"


def _finite(value: float | None, field: str, low: float, high: float) -> None:
    if value is not None and not (math.isfinite(value) and low <= value <= high):
        raise _Problem(field, value, f"must be a number between {low:g} and {high:g}")


def _is_set(values: Mapping[str, Any], kind: FaultKind) -> bool:
    value = values.get(kind.value)
    return bool(value) if kind in FLAG_KINDS else value is not None


def _validate(values: Mapping[str, Any]) -> None:
    """Raise :class:`_Problem` for the first bad field of a fault given as field values."""
    route = values["route"]
    if not isinstance(route, str):
        raise _Problem("route", route, "must be a string 'METHOD /path'")
    RoutePattern.parse(route)
    for name in _INT_FIELDS:
        value = values.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise _Problem(name, value, "must be an integer")
    for name in _NUMBER_FIELDS:
        value = values.get(name)
        if value is not None and not is_json_number(value):
            raise _Problem(name, value, "must be a number")
    actions = [kind.value for kind in FaultKind if _is_set(values, kind)]
    if len(actions) != 1:
        raise _Problem("kind", actions,
                       f"exactly one of {[k.value for k in FaultKind]} must be given")
    status, retry_after, body = values.get("status"), values.get("retry_after"), \
        values.get("body")
    if status is not None and not 200 <= status <= 599:
        raise _Problem("status", status, "must be an HTTP status 200..599")
    if status is None and retry_after is not None:
        raise _Problem("retry_after", retry_after, "only allowed together with status")
    if status is None and body is not None:
        raise _Problem("body", body, "only allowed together with status")
    _finite(retry_after, "retry_after", 0.0, 86_400.0)
    _finite(values.get("delay"), "delay", 0.0, MAX_DELAY)
    version = values.get("version")
    if version is not None and version not in (426, 501):
        raise _Problem("version", version, "must be 426 or 501")
    nth, times = values.get("nth"), values.get("times")
    if nth is not None and times is not None:
        raise _Problem("times", times, "nth and times are exclusive")
    for name, count in (("nth", nth), ("times", times)):
        if count is not None and count < 1:
            raise _Problem(name, count, "must be >= 1")
    probability = values.get("probability")
    if probability is not None and not (math.isfinite(probability) and 0.0 < probability <= 1.0):
        raise _Problem("probability", probability, "must be in (0, 1]")
    if body is not None:
        try:
            dumps(body)
        except (TypeError, ValueError):
            raise _Problem("body", body, "must be JSON-serialisable") from None


@attrs.frozen(kw_only=True)
class Fault:
    """One fault; give ``route`` and exactly one action (see :class:`FaultKind`)."""

    route: str
    status: int | None = None
    retry_after: float | None = None
    body: Any = None
    delay: float | None = None
    reset: bool = False
    malformed: bool = False
    truncated: bool = False
    no_answer: bool = False
    drop_peer: bool = False
    kill_runtime: bool = False
    expire_session: bool = False
    version: int | None = None
    nth: int | None = None
    times: int | None = None
    probability: float | None = None
    pattern: RoutePattern = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        try:
            _validate({field.name: getattr(self, field.name)
                       for field in attrs.fields(Fault) if field.init})
        except _Problem as problem:
            raise LocalProtocolError(f"Fault.{problem}") from None
        object.__setattr__(self, "pattern", RoutePattern.parse(self.route))

    @property
    def kind(self) -> FaultKind:
        return next(kind for kind in FaultKind
                    if _is_set({kind.value: getattr(self, kind.value)}, kind))

    def fires(self, count: int) -> bool:
        """Whether the ``count``-th (1-based) matching request is selected by nth/times."""
        if self.nth is not None:
            return count == self.nth
        if self.times is not None:
            return count <= self.times
        return True

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"route": self.route}
        kind = self.kind
        out[kind.value] = True if kind in FLAG_KINDS else getattr(self, kind.value)
        for name in ("retry_after", "body", "nth", "times", "probability"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@attrs.frozen(kw_only=True)
class FaultPlan:
    """Faults in priority order, and the seed of the RNG that ``probability`` draws from."""

    faults: tuple[Fault, ...] = ()
    seed: int = 0

    def __attrs_post_init__(self) -> None:
        if len(self.faults) > MAX_FAULTS:
            raise LocalProtocolError(f"FaultPlan.faults: at most {MAX_FAULTS} faults, "
                                     f"got {len(self.faults)}")

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "faults": [fault.to_json() for fault in self.faults]}

    @classmethod
    def from_json(cls, data: bytes | str) -> FaultPlan:
        """Parse a plan; :class:`DecodeError` naming the field (e.g. ``faults[2].status``)."""
        return parse_fault_plan(loads_bounded(data, what="fault plan",
                                              max_bytes=MAX_PLAN_BYTES))

    @classmethod
    def load(cls, path: str | Path) -> FaultPlan:
        return cls.from_json(Path(path).read_bytes())


_KNOWN = frozenset({"route", "body", *_NUMBER_FIELDS, *_INT_FIELDS,
                    *(kind.value for kind in FLAG_KINDS)})


def _parse_fault(fields: Fields) -> Fault:
    for key in fields.raw:
        if key not in _KNOWN:
            raise DecodeError(f"{fields.where(key)}: unknown key; expected one of "
                              f"{sorted(_KNOWN)}", field=fields.where(key), value=key)
    kwargs: dict[str, Any] = {"route": fields.req_str("route"), "body": fields.raw.get("body")}
    for name in _NUMBER_FIELDS:
        kwargs[name] = fields.opt_number(name)
    for name in _INT_FIELDS:
        kwargs[name] = fields.opt_int(name)
    for kind in FLAG_KINDS:
        kwargs[kind.value] = bool(fields.opt_bool(kind.value))
    try:
        _validate(kwargs)
    except _Problem as problem:
        where = fields.where(problem.field)
        raise DecodeError(f"{where}: {problem.reason}, got {problem.value!r}", field=where,
                          value=problem.value) from None
    return Fault(**kwargs)


def parse_fault_plan(obj: Any) -> FaultPlan:
    """A decoded JSON document -> :class:`FaultPlan`: ``{"seed": int, "faults": [...]}`` or
    a bare list of faults.  Unknown keys are refused (a typo must not silently disable a
    fault).  Raises :class:`DecodeError` naming the field."""
    if isinstance(obj, list):
        obj = {"faults": obj}
    plan = Fields(obj, "")
    for key in plan.raw:
        if key not in ("seed", "faults"):
            raise DecodeError(f"{key}: unknown key; expected 'seed' or 'faults'", field=key,
                              value=key)
    seed = plan.opt_int("seed") or 0
    entries = plan.opt_list("faults") or []
    if len(entries) > MAX_FAULTS:
        raise DecodeError(f"faults: at most {MAX_FAULTS} faults, got {len(entries)}",
                          field="faults", value=len(entries))
    faults = tuple(_parse_fault(Fields(entry, f"faults[{index}]"))
                   for index, entry in enumerate(entries))
    return FaultPlan(faults=faults, seed=seed)


def coerce_plan(faults: FaultPlan | Sequence[Fault] | str | Path | None) -> FaultPlan:
    """What ``CoordinatorEmulator(faults=...)`` accepts: a plan, faults, or a JSON file path."""
    if faults is None:
        return FaultPlan()
    if isinstance(faults, FaultPlan):
        return faults
    if isinstance(faults, str | Path):
        return FaultPlan.load(faults)
    items = tuple(faults)
    for index, item in enumerate(items):
        if not isinstance(item, Fault):
            raise LocalProtocolError(f"faults[{index}]: expected a Fault, got "
                                     f"{type(item).__name__}")
    return FaultPlan(faults=items)


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
