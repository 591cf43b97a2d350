"""Every route and every status-code path of the coordinator, as one table plus focused tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from reactor_proto.coordinator.routes import (
    Route,
    RouteName,
    check_api_versions,
    check_webrtc_version,
    match_path,
    parse_create_session,
    parse_delete_reason,
)
from reactor_proto.errors import DecodeError
from reactor_proto.http import HttpResponse

from .coordinator_harness import API_HEADERS, SECRET_A, Driver, body_of

Case = Callable[[Driver, str, str], HttpResponse]


def _post_sessions(body: bytes | None, headers: Any = None) -> Case:
    def run(d: Driver, jwt: str, sid: str) -> HttpResponse:
        return d.request("POST", "/sessions", body=body,
                         headers=d.auth(jwt) if headers is None else headers(jwt))
    return run


def _with_versions(*versions: tuple[str, str]) -> Callable[[str], Any]:
    return lambda jwt: (("authorization", f"Bearer {jwt}"), *versions)


#: (malformed input, request, expected status) -- the table reported to the lead.
STATUS_TABLE: list[tuple[str, Case, int]] = [
    ("unknown path", lambda d, j, s: d.request("GET", "/nope"), 404),
    ("path with ..", lambda d, j, s: d.request("GET", "/sessions/../tokens"), 404),
    ("empty path segment", lambda d, j, s: d.request("GET", "/sessions//info"), 404),
    ("transport path too deep",
     lambda d, j, s: d.request("GET", f"/sessions/{s}/transport/webrtc/a/b/c/d/e"), 404),
    ("GET /tokens", lambda d, j, s: d.request("GET", "/tokens"), 405),
    ("PATCH /sessions/{id}", lambda d, j, s: d.request("PATCH", f"/sessions/{s}"), 405),
    ("DELETE transport", lambda d, j, s: d.request(
        "DELETE", f"/sessions/{s}/transport/webrtc/connections"), 405),
    ("body over the limit", lambda d, j, s: d.request(
        "POST", "/sessions", body=b"x" * 2048, headers=d.auth(j)), 413),
    ("POST /tokens without key", lambda d, j, s: d.request("POST", "/tokens"), 401),
    ("POST /tokens blank key", lambda d, j, s: d.request(
        "POST", "/tokens", headers=(("reactor-api-key", "  "),)), 401),
    ("POST /tokens unknown key", lambda d, j, s: d.request(
        "POST", "/tokens", headers=(("reactor-api-key", "rk_wrong"),)), 401),
    ("POST /tokens malformed JSON", lambda d, j, s: d.request(
        "POST", "/tokens", headers=(("reactor-api-key", SECRET_A),), body=b"{"), 400),
    ("POST /tokens body not an object", lambda d, j, s: d.request(
        "POST", "/tokens", headers=(("reactor-api-key", SECRET_A),), body=b"[1]"), 422),
    ("POST /tokens expires_after 0", lambda d, j, s: d.request(
        "POST", "/tokens", headers=(("reactor-api-key", SECRET_A),),
        json_body={"expires_after": 0}), 422),
    ("POST /tokens two authorization_details", lambda d, j, s: d.request(
        "POST", "/tokens", headers=(("reactor-api-key", SECRET_A),),
        json_body={"authorization_details": [{"type": "session"}, {"type": "session"}]}), 422),
    ("POST /tokens max_session_duration_seconds 86401", lambda d, j, s: d.request(
        "POST", "/tokens", headers=(("reactor-api-key", SECRET_A),),
        json_body={"authorization_details": [{"type": "session", "constraints": {
            "max_session_duration_seconds": 86401}}]}), 422),
    ("no Authorization", lambda d, j, s: d.request("GET", f"/sessions/{s}",
                                                    headers=API_HEADERS), 401),
    ("Authorization not Bearer", lambda d, j, s: d.request(
        "GET", f"/sessions/{s}", headers=(("authorization", f"Basic {j}"), *API_HEADERS)), 401),
    ("Bearer with empty token", lambda d, j, s: d.request(
        "GET", f"/sessions/{s}", headers=(("authorization", "Bearer "), *API_HEADERS)), 401),
    ("bad signature", lambda d, j, s: d.request(
        "GET", f"/sessions/{s}", headers=d.auth(j[:-2] + "xx")), 401),
    ("token not three parts", lambda d, j, s: d.request(
        "GET", f"/sessions/{s}", headers=d.auth("garbage")), 401),
    ("token too long", lambda d, j, s: d.request(
        "GET", f"/sessions/{s}", headers=d.auth("a" * 9000)), 401),
    ("missing Reactor-API-Version", _post_sessions(
        b"{}", _with_versions(("reactor-api-accept-version", "1"))), 426),
    ("Reactor-API-Version 0", _post_sessions(
        b"{}", _with_versions(("reactor-api-version", "0"), ("reactor-api-accept-version", "1"))),
     426),
    ("Reactor-API-Version 2", _post_sessions(
        b"{}", _with_versions(("reactor-api-version", "2"), ("reactor-api-accept-version", "1"))),
     501),
    ("Reactor-API-Version 'one'", _post_sessions(
        b"{}", _with_versions(("reactor-api-version", "one"),
                              ("reactor-api-accept-version", "1"))), 501),
    ("Reactor-API-Accept-Version 7", _post_sessions(
        b"{}", _with_versions(("reactor-api-version", "1"),
                              ("reactor-api-accept-version", "7"))), 501),
    ("Reactor-WebRTC-Version 0.9", lambda d, j, s: d.request(
        "GET", f"/sessions/{s}/transport/webrtc/ice_servers",
        headers=(("authorization", f"Bearer {j}"), ("reactor-webrtc-version", "0.9"))), 426),
    ("Reactor-WebRTC-Version 2.0", lambda d, j, s: d.request(
        "GET", f"/sessions/{s}/transport/webrtc/ice_servers",
        headers=(("authorization", f"Bearer {j}"), ("reactor-webrtc-version", "2.0"))), 501),
    ("Reactor-WebRTC-Version 'x'", lambda d, j, s: d.request(
        "GET", f"/sessions/{s}/transport/webrtc/ice_servers",
        headers=(("authorization", f"Bearer {j}"), ("reactor-webrtc-version", "x"))), 501),
    ("POST /sessions malformed JSON", _post_sessions(b'{"model":'), 400),
    ("POST /sessions invalid UTF-8", _post_sessions(b'{"a":"\xff"}'), 400),
    ("POST /sessions no body", _post_sessions(None), 422),
    ("POST /sessions model missing", _post_sessions(b"{}"), 422),
    ("POST /sessions model.name number", _post_sessions(b'{"model":{"name":5}}'), 422),
    ("POST /sessions model.name empty", _post_sessions(b'{"model":{"name":""}}'), 422),
    ("POST /sessions unknown model", _post_sessions(b'{"model":{"name":"other"}}'), 422),
    ("POST /sessions no webrtc transport", _post_sessions(
        b'{"model":{"name":"helios"},"supported_transports":[{"protocol":"ws","version":"1"}]}'),
     422),
    ("POST /sessions transport entry not an object", _post_sessions(
        b'{"model":{"name":"helios"},"supported_transports":[1]}'), 422),
    ("GET unknown session", lambda d, j, s: d.get(j, "0" * 8), 404),
    ("GET /info unknown session", lambda d, j, s: d.get(j, "abc", "/info"), 404),
    ("DELETE unknown session", lambda d, j, s: d.delete(j, "abc"), 404),
    ("DELETE reason not a string", lambda d, j, s: d.request(
        "DELETE", f"/sessions/{s}", headers=d.auth(j), json_body={"reason": 5}), 422),
    ("DELETE reason too long", lambda d, j, s: d.request(
        "DELETE", f"/sessions/{s}", headers=d.auth(j), json_body={"reason": "r" * 300}), 422),
    ("DELETE malformed JSON", lambda d, j, s: d.request(
        "DELETE", f"/sessions/{s}", headers=d.auth(j), body=b"{"), 400),
    ("PUT restart of a WAITING session", lambda d, j, s: d.request(
        "PUT", f"/sessions/{s}", headers=d.auth(j)), 409),
    ("transport for unknown session", lambda d, j, s: d.transport(
        j, "missing", "GET", "/ice_servers"), 404),
    ("uploads malformed JSON", lambda d, j, s: d.request(
        "POST", f"/sessions/{s}/uploads", headers=d.auth(j), body=b"nope"), 400),
    ("uploads with a bad Host", lambda d, j, s: d.request(
        "POST", f"/sessions/{s}/uploads", headers=d.auth(j), host="bad host",
        json_body={"name": "a", "size": 1, "mime_type": "x/y"}), 400),
    ("PUT unknown upload", lambda d, j, s: d.request("PUT", "/uploads/nope", body=b"x"), 404),
    ("request URL unparsable", lambda d, j, s: d.request("GET", "/x", host="[::1"), 400),
]


@pytest.mark.parametrize(("name", "case", "status"), STATUS_TABLE,
                         ids=[row[0] for row in STATUS_TABLE])
def test_status_table(name: str, case: Case, status: int) -> None:
    d = Driver(max_body_bytes=1024)
    jwt = d.token()
    sid = d.create_id(jwt)
    response = case(d, jwt, sid)
    assert response.status == status, response.body
    detail = body_of(response)["detail"]
    assert isinstance(detail, str)
    assert detail
    assert response.header("access-control-allow-origin") == "*"
    assert response.header("content-type") == "application/json"


def test_405_names_allowed_methods() -> None:
    d = Driver()
    response = d.request("GET", "/tokens")
    assert response.header("allow") == "POST, OPTIONS"


@pytest.mark.parametrize("path", ["/tokens", "/sessions", "/sessions/x", "/sessions/x/info",
                                  "/sessions/x/uploads", "/uploads/y",
                                  "/sessions/x/transport/webrtc/connections/1234/sdp_params"])
def test_preflight(path: str) -> None:
    d = Driver()
    response = d.request("OPTIONS", path, headers=(("origin", "https://app.example"),))
    assert response.status == 204
    allowed = (response.header("access-control-allow-headers") or "").lower()
    for name in ("authorization", "content-type", "reactor-api-key", "reactor-api-version",
                 "reactor-api-accept-version", "reactor-webrtc-version"):
        assert name in allowed
    assert "DELETE" in (response.header("access-control-allow-methods") or "")
    assert response.header("access-control-expose-headers") == "Retry-After"


def test_forced_version_failure_spares_delete_and_tokens() -> None:
    for forced in (426, 501):
        d = Driver(force_version_status=forced)
        jwt = d.token()
        assert d.create(jwt).status == forced
        assert d.transport(jwt, "x", "GET", "/ice_servers").status == forced
        assert d.delete(jwt, "x").status == 404      # DELETE is not version-checked


def test_rate_limit_with_retry_after() -> None:
    from reactor_proto.coordinator import RateLimit

    d = Driver(rate_limit=RateLimit(burst=3, per_second=0.4))
    jwt = d.token()                                   # 1 token used
    assert d.get(jwt, "x").status == 404              # 2
    assert d.get(jwt, "x").status == 404              # 3
    limited = d.get(jwt, "x")
    assert limited.status == 429
    assert limited.header("retry-after") == "3"       # ceil(1 / 0.4) = 3
    assert "rate limit" in body_of(limited)["detail"]
    d.now += 2.0
    assert d.get(jwt, "x").status == 429
    assert d.get(jwt, "x").header("retry-after") == "1"
    d.now += 0.6
    assert d.get(jwt, "x").status == 404
    token_limited = d.request("POST", "/tokens", headers=(("reactor-api-key", SECRET_A),))
    assert token_limited.status == 429
    deadline = d.machine.next_deadline()
    assert deadline is not None
    assert deadline > d.now
    d.advance(60.0)
    assert d.machine.bookkeeping()["rate_buckets"] == 0


def test_match_path() -> None:
    assert match_path("/sessions/abc/transport/webrtc/connections/1001/sdp_params") == Route(
        name=RouteName.TRANSPORT, session_id="abc", rest="/connections/1001/sdp_params")
    assert match_path("/sessions/abc/transport/webrtc") is None
    assert match_path("/sessions/abc/other") is None
    assert match_path("sessions") is None
    assert match_path("/uploads/u1") == Route(name=RouteName.UPLOAD_PUT, upload_id="u1")
    assert match_path("/") is None


def test_version_checks_accept_the_current_versions() -> None:
    assert check_api_versions(API_HEADERS, None) is None
    assert check_api_versions((("Reactor-API-Version", " 1 "),
                               ("REACTOR-API-ACCEPT-VERSION", "1")), None) is None
    assert check_webrtc_version((), None) is None
    assert check_webrtc_version((("reactor-webrtc-version", "1"),), None) is None
    assert check_webrtc_version((("reactor-webrtc-version", "1.0"),), None) is None
    problem = check_api_versions((("reactor-api-version", "x" * 100),
                                  ("reactor-api-accept-version", "1")), None)
    assert problem is not None
    assert problem[0] == 501
    assert len(problem[1]) < 200


def test_parse_create_session_and_delete_reason() -> None:
    body = parse_create_session({"model": {"name": "helios", "version": "2"},
                                 "extra_args": {"a": 1}, "client_info": {"sdk_type": "js"}})
    assert (body.model_name, body.model_version) == ("helios", "2")
    with pytest.raises(DecodeError, match=r"model\.version"):
        parse_create_session({"model": {"name": "helios", "version": 2}})
    with pytest.raises(DecodeError, match="extra_configs"):
        parse_create_session({"model": {"name": "helios"}, "extra_configs": []})
    assert parse_delete_reason(None) is None
    assert parse_delete_reason({}) is None
    assert parse_delete_reason({"reason": "bye"}) == "bye"
