"""Fault plans for the coordinator emulator: :class:`Fault`, :class:`FaultPlan` and their
JSON form.  ``faults.py`` applies a plan in front of the coordinator machine.

A :class:`Fault` matches a route (``"POST /sessions"``, ``"GET /sessions/*/info"``; ``*`` is
exactly one path segment, a method of ``*`` is any method), decides *when* (every matching
request; only the ``nth``; the first ``times``; each with ``probability`` drawn from the plan's
seeded RNG) and does exactly ONE thing (its *kind*, :class:`FaultKind`).  See
``docs/faults.md`` for the user-facing description and a JSON example.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from reactor_proto.errors import DecodeError, LocalProtocolError
from reactor_proto.jsonfields import Fields, dumps, is_json_number, loads_bounded

MAX_PLAN_BYTES = 1024 * 1024
MAX_FAULTS = 1000
MAX_DELAY = 3600.0
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD", "*"})
_SEGMENT = re.compile(r"\*|[A-Za-z0-9._~-]{1,128}")


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
