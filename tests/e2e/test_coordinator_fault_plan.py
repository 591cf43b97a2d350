"""The fault plan: model, validation, JSON loading, route matching, selection (synchronous)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_anyio.coordinator.faults import (
    FLAG_KINDS,
    MAX_FAULTS,
    Fault,
    FaultInjector,
    FaultKind,
    FaultPlan,
    RoutePattern,
    coerce_plan,
    parse_fault_plan,
    session_of,
    status_response,
)
from reactor_anyio.coordinator.jwt_keys import JwtKeys
from reactor_proto.coordinator import InvalidTokenError
from reactor_proto.errors import DecodeError, LocalProtocolError

EXAMPLE = {
    "seed": 7,
    "faults": [
        {"route": "POST /tokens", "status": 503, "retry_after": 1, "nth": 1},
        {"route": "GET /sessions/*", "delay": 0.5, "times": 2},
        {"route": "GET /sessions/*/transport/webrtc/connections/*/sdp_params",
         "no_answer": True},
        {"route": "* /sessions", "version": 426, "probability": 0.5},
        {"route": "POST /sessions", "status": 429, "body": {"detail": "slow down"}},
    ],
}


def test_example_plan_round_trips_through_json() -> None:
    plan = FaultPlan.from_json(json.dumps(EXAMPLE))
    assert plan.seed == 7
    assert [f.kind for f in plan.faults] == [FaultKind.STATUS, FaultKind.DELAY,
                                             FaultKind.NO_ANSWER, FaultKind.VERSION,
                                             FaultKind.STATUS]
    assert plan.to_json() == EXAMPLE
    assert FaultPlan.from_json(json.dumps(plan.to_json())) == plan


def test_plan_file_and_bare_list(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(EXAMPLE["faults"]))
    plan = FaultPlan.load(path)
    assert plan.seed == 0 and len(plan.faults) == 5
    assert coerce_plan(str(path)) == plan
    assert coerce_plan(path) == plan


def test_coerce_plan_accepts_python_objects() -> None:
    fault = Fault(route="GET /sessions/*", reset=True)
    assert coerce_plan(None) == FaultPlan()
    assert coerce_plan([fault]) == FaultPlan(faults=(fault,))
    plan = FaultPlan(faults=(fault,), seed=3)
    assert coerce_plan(plan) is plan
    with pytest.raises(LocalProtocolError, match=r"faults\[0\]: expected a Fault, got dict"):
        coerce_plan([{"route": "GET /x", "reset": True}])  # type: ignore[list-item]


def test_parser_fed_whole_byte_at_a_time_and_with_trailing_garbage() -> None:
    text = json.dumps(EXAMPLE).encode()
    assert FaultPlan.from_json(text) == FaultPlan.from_json(text.decode())
    # The loader has no streaming interface: every strict prefix is incomplete JSON.
    for end in range(len(text)):
        with pytest.raises(DecodeError):
            FaultPlan.from_json(text[:end])
    with pytest.raises(DecodeError, match="not valid JSON"):
        FaultPlan.from_json(text + b"}garbage")


@pytest.mark.parametrize(("doc", "field", "message"), [
    ({"faults": [{"route": "GET /x"}]}, "faults[0].kind", "exactly one of"),
    ({"faults": [{"route": "GET /x", "reset": True, "delay": 1}]}, "faults[0].kind",
     "exactly one of"),
    ({"faults": [{"route": "GET /x", "status": 99}]}, "faults[0].status", "200..599"),
    ({"faults": [{"route": "GET /x", "status": "503"}]}, "faults[0].status", "an integer"),
    ({"faults": [{"route": "GET /x", "delay": -1}]}, "faults[0].delay", "between"),
    ({"faults": [{"route": "GET /x", "delay": 1e9}]}, "faults[0].delay", "between"),
    ({"faults": [{"route": "GET /x", "version": 400}]}, "faults[0].version", "426 or 501"),
    ({"faults": [{"route": "GET /x", "reset": True, "retry_after": 1}]},
     "faults[0].retry_after", "only allowed together with status"),
    ({"faults": [{"route": "GET /x", "reset": True, "body": "x"}]}, "faults[0].body",
     "only allowed together with status"),
    ({"faults": [{"route": "GET /x", "reset": True, "nth": 1, "times": 2}]},
     "faults[0].times", "exclusive"),
    ({"faults": [{"route": "GET /x", "reset": True, "nth": 0}]}, "faults[0].nth", ">= 1"),
    ({"faults": [{"route": "GET /x", "reset": True, "times": -2}]}, "faults[0].times",
     ">= 1"),
    ({"faults": [{"route": "GET /x", "reset": True, "probability": 0}]},
     "faults[0].probability", "(0, 1]"),
    ({"faults": [{"route": "GET /x", "reset": True, "probabilty": 0.5}]},
     "faults[0].probabilty", "unknown key"),
    ({"faults": [{"route": "FETCH /x", "reset": True}]}, "faults[0].route", "method"),
    ({"faults": [{"route": "GET x", "reset": True}]}, "faults[0].route", "METHOD /path"),
    ({"faults": [{"route": "GET /", "reset": True}]}, "faults[0].route", "METHOD /path"),
    ({"faults": [{"route": "GET /a//b", "reset": True}]}, "faults[0].route", "segment"),
    ({"faults": [{"route": "GET /a*", "reset": True}]}, "faults[0].route", "segment"),
    ({"faults": [{"reset": True}]}, "faults[0].route", "required"),
    ({"faults": [{"route": "GET /x", "reset": "yes"}]}, "faults[0].reset", "a boolean"),
    ({"faults": [7]}, "faults[0]", "a JSON object"),
    ({"faults": {}}, "faults", "an array"),
    ({"seed": "x"}, "seed", "an integer"),
    ({"sed": 1}, "sed", "unknown key"),
    ("plan", "", "a JSON object"),
])
def test_bad_documents_name_the_field(doc: Any, field: str, message: str) -> None:
    with pytest.raises(DecodeError) as info:
        parse_fault_plan(doc)
    assert info.value.field == field
    assert message in info.value.message


def test_too_many_faults_and_too_large_documents() -> None:
    many = [{"route": "GET /x", "reset": True}] * (MAX_FAULTS + 1)
    with pytest.raises(DecodeError, match="at most"):
        parse_fault_plan(many)
    with pytest.raises(LocalProtocolError, match="at most"):
        FaultPlan(faults=(Fault(route="GET /x", reset=True),) * (MAX_FAULTS + 1))
    with pytest.raises(DecodeError, match="exceeds the limit"):
        FaultPlan.from_json(b"[" + b" " * (2 * 1024 * 1024) + b"]")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"route": 5, "reset": True}, "route: must be a string"),
    ({"route": "GET /x", "status": 503.0}, "status: must be an integer"),
    ({"route": "GET /x", "status": True}, "status: must be an integer"),
    ({"route": "GET /x", "delay": "1"}, "delay: must be a number"),
    ({"route": "GET /x", "delay": math.nan}, "delay: must be a number"),
    ({"route": "GET /x", "status": 500, "body": {1, 2}}, "body: must be JSON-serialisable"),
    ({"route": "GET /x", "status": 500, "retry_after": math.inf}, "retry_after"),
    ({"route": "GET /x", "reset": True, "probability": 1.5}, "probability"),
])
def test_python_faults_are_validated(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(LocalProtocolError, match=message) as info:
        Fault(**kwargs)
    assert str(info.value.message).startswith("Fault.")


@pytest.mark.parametrize(("pattern", "method", "path", "expected"), [
    ("POST /sessions", "POST", "/sessions", True),
    ("POST /sessions", "post", "/sessions?x=1", True),
    ("POST /sessions", "GET", "/sessions", False),
    ("* /sessions", "DELETE", "/sessions", True),
    ("GET /sessions/*", "GET", "/sessions/abc", True),
    ("GET /sessions/*", "GET", "/sessions/", False),
    ("GET /sessions/*", "GET", "/sessions/abc/info", False),
    ("GET /sessions/*/transport/webrtc/connections/*/sdp_params", "GET",
     "/sessions/s1/transport/webrtc/connections/1234/sdp_params", True),
    ("GET /sessions/*/transport/webrtc/connections/*/sdp_params", "GET",
     "/sessions/s1/transport/webrtc/sdp_params", False),
])
def test_route_patterns(pattern: str, method: str, path: str, expected: bool) -> None:
    route = RoutePattern.parse(pattern)
    assert route.matches(method, path) is expected
    assert RoutePattern.parse(str(route)) == route


def _injector(*faults: Fault, seed: int = 0) -> FaultInjector:
    async def handler(request: Any) -> Any:
        raise AssertionError("not called in selection tests")

    return FaultInjector(FaultPlan(faults=faults, seed=seed), handler, target=None)  # type: ignore[arg-type]


def test_nth_times_and_priority() -> None:
    injector = _injector(Fault(route="GET /a", status=500, nth=2),
                         Fault(route="GET /a", reset=True, times=3),
                         Fault(route="GET /b", delay=1.0))
    picks = [injector.choose("GET", "/a") for _ in range(5)]
    assert [p[0] if p else None for p in picks] == [1, 0, 1, None, None]
    assert injector.choose("GET", "/b") is not None
    assert injector.choose("GET", "/c") is None


def test_probability_is_seeded_and_roughly_right() -> None:
    def run(seed: int) -> list[bool]:
        injector = _injector(Fault(route="GET /a", reset=True, probability=0.3), seed=seed)
        return [injector.choose("GET", "/a") is not None for _ in range(2000)]

    first = run(11)
    assert first == run(11)
    assert first != run(12)
    assert 0.25 < sum(first) / len(first) < 0.35


def test_status_response_and_session_of() -> None:
    response = status_response(Fault(route="GET /a", status=429, retry_after=2))
    assert response.status == 429 and response.header("retry-after") == "2"
    assert json.loads(response.body) == {"detail": "fault injected: HTTP 429"}
    response = status_response(Fault(route="GET /a", status=503, retry_after=0.25,
                                     body=["x"]))
    assert response.header("retry-after") == "0.25" and json.loads(response.body) == ["x"]
    assert response.header("access-control-allow-origin") == "*"
    assert session_of("/sessions/abc/transport/webrtc/ice_servers") == "abc"
    assert session_of("/sessions/abc?x") == "abc"
    assert session_of("/sessions") is None
    assert session_of("/tokens") is None


_fault_strategy = st.builds(
    lambda route, kind, value, count, use_nth, probability: Fault(
        route=route, **{kind.value: value(kind)},
        **({} if count is None else {"nth" if use_nth else "times": count}),
        **({} if probability is None else {"probability": probability})),
    route=st.sampled_from(["GET /sessions/*", "POST /sessions", "* /tokens",
                           "PUT /sessions/*/transport/webrtc/connections/*/sdp_params"]),
    kind=st.sampled_from(list(FaultKind)),
    value=st.just(lambda kind: True if kind in FLAG_KINDS else {
        FaultKind.STATUS: 503, FaultKind.DELAY: 0.25, FaultKind.VERSION: 501}[kind]),
    count=st.none() | st.integers(1, 100),
    use_nth=st.booleans(),
    probability=st.none() | st.floats(0.01, 1.0),
)


@given(st.lists(_fault_strategy, max_size=8), st.integers(0, 2**32))
def test_round_trip_property(faults: list[Fault], seed: int) -> None:
    plan = FaultPlan(faults=tuple(faults), seed=seed)
    assert FaultPlan.from_json(json.dumps(plan.to_json())) == plan


def test_jwt_keys_sign_verify_and_reject() -> None:
    keys = JwtKeys()
    claims = {"sub": "key-1", "iat": 1, "exp": 2, "jti": "ab"}
    token = keys.sign(claims)
    assert keys.verify(token) == claims           # expired, but expiry is the core's job
    other = JwtKeys(b"x" * 32)
    with pytest.raises(InvalidTokenError, match="Signature"):
        other.verify(token)
    with pytest.raises(InvalidTokenError):
        keys.verify("not.a.token")
    header, payload, signature = token.split(".")
    with pytest.raises(InvalidTokenError):
        keys.verify(f"{header}.{payload}x.{signature}")
    assert "x" * 8 not in repr(other)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        JwtKeys(b"short")
