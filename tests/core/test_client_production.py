"""The client machine against a scripted coordinator: token, session, poll, retries."""

from __future__ import annotations

import json

import pytest

from reactor_proto.client import ClientConfig, ErrorOccurred, Phase, ReactorStatus
from reactor_proto.client.config import PollSchedule, RetryPolicy, is_loopback_host
from reactor_proto.errors import (
    LocalProtocolError,
    RateLimitedError,
    SessionGoneError,
    SessionTerminalError,
    UnauthorizedError,
    VersionMismatchError,
)

from .paired import Endpoint, descriptor, reply, scripted_client

KEY = "rk_secret_key_123"


def prod(**options: object) -> Endpoint:
    config = ClientConfig.create("helios", api_key=KEY, api_url="https://api.example.test",
                                 **options)
    return scripted_client(config)


def ready_with_jwt() -> Endpoint:
    """A production client given a JWT (no token exchange), connected to READY."""
    h = scripted_client(ClientConfig.create("helios", api_url="https://api.example.test", jwt="j"))
    h.connect()
    h.run_until(lambda: h.machine.status is ReactorStatus.READY)
    return h


def test_production_sequence_headers_and_secrets() -> None:
    h = prod()
    h.server.session_polls_until_ready = 2
    op = h.connect()
    h.run_until(lambda: h.completed(op) is not None)
    assert h.completed(op).error is None  # type: ignore[union-attr]
    assert h.paths()[:5] == ["POST /tokens", "POST /sessions", "GET /sessions/s-1",
                             "GET /sessions/s-1", "GET /sessions/s-1"]
    token, create, *rest = h.server.requests
    assert token.headers == (("reactor-api-key", KEY),)
    for request in [create, *rest]:
        assert all(KEY not in value for _, value in request.headers)
        assert KEY.encode() not in (request.body or b"")
    assert ("authorization", "Bearer jwt-1") in create.headers
    assert ("reactor-api-accept-version", "1") in create.headers
    body = json.loads(create.body or b"")
    assert body["model"] == {"name": "helios"}
    assert body["supported_transports"] == [{"protocol": "webrtc", "version": "1.0"}]
    assert "extra_args" not in body
    assert h.statuses == ["connecting", "waiting", "ready"]
    assert KEY not in repr(h.config)


def test_session_poll_gaps_follow_the_schedule() -> None:
    h = prod()
    h.server.session_polls_until_ready = 4
    h.connect()
    h.run_until(lambda: h.machine.status is ReactorStatus.READY)
    assert h.server.session_polls == 5


def test_delete_on_disconnect_and_404_means_gone() -> None:
    h = prod()
    h.connect()
    h.run_until(lambda: h.machine.status is ReactorStatus.READY)
    h.server.on("DELETE", "/sessions/s-1", lambda r: reply(404, {"detail": "gone"}))
    op = h.machine.disconnect(h.now, reason="bye")
    h.pump()
    assert h.completed(op) is not None
    assert h.machine.phase is Phase.IDLE
    delete = h.server.requests[-1]
    assert delete.method == "DELETE"
    assert json.loads(delete.body or b"") == {"reason": "bye"}
    assert not h.of_type(ErrorOccurred)


def test_adopted_session_is_never_deleted() -> None:
    h = prod()
    op = h.connect(session_id="s-1")
    h.run_until(lambda: h.completed(op) is not None)
    assert h.paths()[:2] == ["POST /tokens", "GET /sessions/s-1"]
    h.machine.disconnect(h.now)
    h.pump()
    assert not any(p.startswith("DELETE") for p in h.paths())


def test_jwt_given_directly_skips_token_exchange() -> None:
    h = scripted_client(ClientConfig.create("helios", api_url="https://api.example.test",
                                    jwt="given-jwt"))
    h.connect()
    h.run_until(lambda: h.machine.status is ReactorStatus.READY)
    assert h.paths()[0] == "POST /sessions"
    assert ("authorization", "Bearer given-jwt") in h.server.requests[0].headers


def test_adopt_with_jwt_polls_directly() -> None:
    h = scripted_client(ClientConfig.create("helios", api_url="https://api.example.test", jwt="j"))
    op = h.connect(session_id="s-1")
    h.run_until(lambda: h.completed(op) is not None)
    assert h.paths()[0] == "GET /sessions/s-1"


def test_wrong_api_key_fails_fast_with_unauthorized() -> None:
    h = prod()
    h.server.on("POST", "/tokens", lambda r: reply(401, {"detail": "invalid api key"}))
    op = h.connect()
    done = h.completed(op)
    assert done is not None
    assert isinstance(done.error, UnauthorizedError)
    assert h.now == 0.0
    assert h.machine.phase is Phase.IDLE
    assert KEY not in str(done.error)


def test_rate_limited_honours_retry_after_then_succeeds() -> None:
    h = prod()
    calls = {"n": 0}

    def limited(request: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            return reply(429, {"detail": "slow down"}, (("retry-after", "2"),))
        return reply(201, {"session_id": "s-1", "model": {"name": "helios"},
                           "state": "CREATED"})

    h.server.on("POST", "/sessions", limited)  # type: ignore[arg-type]
    op = h.connect()
    assert h.completed(op) is None
    h.advance(1.9)
    assert calls["n"] == 1
    h.advance(0.2)
    assert calls["n"] == 2
    h.run_until(lambda: h.completed(op) is not None)
    assert h.completed(op).error is None  # type: ignore[union-attr]


def test_retry_after_beyond_the_deadline_fails_at_once() -> None:
    h = prod()
    h.server.on("POST", "/sessions",
                lambda r: reply(429, {"detail": "later"}, (("retry-after", "3600"),)))
    op = h.connect()
    done = h.completed(op)
    assert done is not None
    assert isinstance(done.error, RateLimitedError)
    assert done.error.retry_after == 3600


def test_503_then_200_recovers_and_budget_is_bounded() -> None:
    h = prod()
    state = {"n": 0}

    def flaky(request: object) -> object:
        state["n"] += 1
        return reply(503, {"detail": "busy"}) if state["n"] < 3 else reply(
            200, {"ice_servers": []})

    h.server.on("GET", "/ice_servers", flaky)  # type: ignore[arg-type]
    op = h.connect()
    h.run_until(lambda: h.completed(op) is not None)
    assert h.completed(op).error is None  # type: ignore[union-attr]
    h2 = prod(retry=RetryPolicy(max_attempts=2))
    h2.server.on("GET", "/ice_servers", lambda r: reply(503, {"detail": "busy"}))
    op2 = h2.connect()
    h2.run_until(lambda: h2.completed(op2) is not None)
    assert h2.completed(op2).error.code == "SERVER_ERROR"  # type: ignore[union-attr]
    assert sum(p.endswith("/ice_servers") for p in h2.paths()) == 2
    assert h2.paths()[-1] == "DELETE /sessions/s-1"


def test_version_mismatch_is_not_retried() -> None:
    h = prod()
    h.server.on("POST", "/sessions", lambda r: reply(426, {"detail": "upgrade"}))
    op = h.connect()
    done = h.completed(op)
    assert done is not None
    assert isinstance(done.error, VersionMismatchError)
    assert done.error.code == "CLIENT_VERSION_TOO_OLD"


def test_terminal_session_state_fails_and_deletes() -> None:
    h = prod()
    h.server.on("GET", "/sessions/s-1", lambda r: reply(200, {
        "session_id": "s-1", "state": "CLOSED", "model": {"name": "helios"}}))
    op = h.connect()
    done = h.completed(op)
    assert done is not None
    assert isinstance(done.error, SessionTerminalError)


def test_session_never_ready_fails_at_deadline() -> None:
    h = prod()
    h.server.session_polls_until_ready = 10**9
    op = h.connect()
    h.run_until(lambda: h.completed(op) is not None, limit=1000)
    done = h.completed(op)
    assert done is not None
    assert done.error is not None
    assert done.error.code == "REQUEST_TIMEOUT"
    assert h.now == pytest.approx(h.config.deadlines.session_ready)
    gaps = PollSchedule(first=0.05, cap=2.0).worst_case_requests(180.0)
    assert h.server.session_polls == gaps


def test_hung_request_times_out_and_is_cancelled() -> None:
    h = prod(retry=RetryPolicy(max_attempts=1))
    h.server.on("POST", "/tokens", lambda r: None)
    op = h.connect()
    h.advance(10.0)
    done = h.completed(op)
    assert done is not None
    assert done.error is not None
    assert done.error.code == "REQUEST_TIMEOUT"
    assert h.cancelled == [1]
    h.machine.http_response(1, reply(200, {"jwt": "late"}), h.now)  # stale: ignored
    h.pump()
    assert h.machine.phase is Phase.IDLE


def test_network_failure_is_retried() -> None:
    from reactor_proto.errors import NetworkError

    h = prod()
    h.auto_http = False
    op = h.connect()
    (rid,) = h.inflight
    h.machine.http_failed(rid, NetworkError("connection reset"), h.now)
    h.auto_http = True
    h.pump()
    h.run_until(lambda: h.completed(op) is not None)
    assert h.completed(op).error is None  # type: ignore[union-attr]


def test_malformed_body_fails_with_decode_error() -> None:
    h = prod()
    h.server.on("POST", "/sessions", lambda r: reply(201, {"session": "nope"}))
    op = h.connect()
    done = h.completed(op)
    assert done is not None
    assert done.error is not None
    assert done.error.code == "DECODE_FAILED"


def test_reconnect_in_production_fetches_fresh_token_and_polls() -> None:
    h = prod()
    h.connect()
    h.run_until(lambda: h.machine.status is ReactorStatus.READY)
    h.machine.disconnect(h.now, recoverable=True)
    h.pump()
    count = len(h.server.requests)
    op = h.machine.reconnect(h.now)
    h.pump()
    h.run_until(lambda: h.completed(op) is not None)
    assert h.paths()[count:count + 2] == ["POST /tokens", "GET /sessions/s-1"]


def test_reconnect_session_404_is_gone() -> None:
    h = ready_with_jwt()
    h.machine.disconnect(h.now, recoverable=True)
    h.pump()
    h.server.on("GET", "/sessions/s-1", lambda r: reply(404, {"detail": "no such session"}))
    op = h.machine.reconnect(h.now)
    h.pump()
    done = h.completed(op)
    assert done is not None
    assert isinstance(done.error, SessionGoneError)


def test_config_checks() -> None:
    with pytest.raises(LocalProtocolError, match="plain http"):
        ClientConfig.create("helios", api_key=KEY, api_url="http://example.com")
    ClientConfig.create("helios", api_key=KEY, api_url="http://127.0.0.1:8081")
    with pytest.raises(LocalProtocolError, match="api_key"):
        ClientConfig.create("helios")
    with pytest.raises(LocalProtocolError, match="model_name"):
        ClientConfig.create("", local=True)
    with pytest.raises(LocalProtocolError, match="ping_interval"):
        ClientConfig.create("helios", local=True, ping_interval=0)
    assert ClientConfig.create("helios", local=True).api_url == "http://localhost:8080"
    assert is_loopback_host("[::1]")
    assert is_loopback_host("localhost")
    assert not is_loopback_host("example.com")


def test_local_with_api_key_skips_token_exchange() -> None:
    h = scripted_client(ClientConfig.create("helios", api_key=KEY, local=True))
    h.connect()
    assert h.paths()[0] == "POST /start_session"
    assert all(KEY not in v for r in h.server.requests for _, v in r.headers)


def test_poll_schedule_numbers() -> None:
    schedule = PollSchedule()
    assert [schedule.delay(i) for i in range(7)] == [0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0]
    assert schedule.worst_case_requests(15.0) == 21
    assert schedule.worst_case_requests(0.0) == 1


def test_cancel_while_creating_waits_for_the_session_and_deletes_it() -> None:
    h = prod()
    h.auto_http = False
    op = h.connect()
    (token_rid,) = h.inflight
    h.machine.http_response(token_rid, reply(200, {"jwt": "j"}), h.now)
    h.inflight.pop(token_rid)
    h.pump()
    (create_rid,) = h.inflight
    stop = h.machine.abort(h.now)
    h.pump()
    done = h.completed(op)
    assert done is not None and done.error is not None and done.error.code == "ABORTED"
    assert h.machine.phase is Phase.TERMINATING and h.completed(stop) is None
    h.machine.http_response(create_rid, reply(201, {"session_id": "late-1", "model": {
        "name": "helios"}, "state": "CREATED"}), h.now)
    h.inflight.pop(create_rid)
    h.pump()
    (delete_rid,) = h.inflight
    assert h.inflight[delete_rid].request.method == "DELETE"
    assert h.inflight[delete_rid].request.url.endswith("/sessions/late-1")
    h.machine.http_response(delete_rid, reply(200, None), h.now)
    h.inflight.pop(delete_rid)
    h.pump()
    assert h.completed(stop) is not None and h.machine.phase is Phase.IDLE


def test_cancel_while_creating_gives_up_at_the_deadline() -> None:
    h = prod()
    h.server.on("POST", "/sessions", lambda r: None)
    h.connect()
    stop = h.machine.abort(h.now)
    h.pump()
    h.run_until(lambda: h.completed(stop) is not None)
    assert h.machine.phase is Phase.IDLE and h.machine.is_quiescent()


def test_cancel_while_starting_local_session_stops_it() -> None:
    h = scripted_client()
    h.auto_http = False
    h.connect()
    (start_rid,) = h.inflight
    stop = h.machine.abort(h.now)
    h.pump()
    h.auto_http = True
    h.machine.http_response(start_rid, reply(200, descriptor()), h.now)
    h.inflight.pop(start_rid)
    h.pump()
    assert h.paths()[-1] == "POST /stop_session"
    assert h.completed(stop) is not None


def test_cancel_while_joining_a_running_local_session_leaves_it() -> None:
    h = scripted_client()
    h.auto_http = False
    h.connect()
    (start_rid,) = h.inflight
    stop = h.machine.abort(h.now)
    h.pump()
    h.machine.http_response(start_rid, reply(409, {"detail": "running"}), h.now)
    h.inflight.pop(start_rid)
    h.pump()
    assert h.completed(stop) is not None
    assert not h.inflight  # nothing to stop: the session was not ours


def test_reconnect_to_a_closed_session_reports_it_gone() -> None:
    h = ready_with_jwt()
    h.machine.disconnect(h.now, recoverable=True)
    h.pump()
    h.server.on("GET", "/sessions/s-1", lambda r: reply(200, {
        "session_id": "s-1", "state": "CLOSED", "model": {"name": "helios"}}))
    op = h.machine.reconnect(h.now)
    h.pump()
    done = h.completed(op)
    assert done is not None and isinstance(done.error, SessionGoneError)
    assert h.machine.session_id is None


def test_reconnect_restarts_an_inactive_session_on_a_new_gpu() -> None:
    h = ready_with_jwt()
    h.machine.channel_closed(h.current_peer(), "data", h.now)  # the GPU went away
    h.pump()
    state = {"restarted": False}

    def session(request: object) -> object:
        if not state["restarted"]:
            return reply(200, {"session_id": "s-1", "state": "INACTIVE",
                               "model": {"name": "helios"}})
        return reply(200, descriptor("WAITING", schema=False) | {"session_id": "s-1"})

    def restart(request: object) -> object:
        state["restarted"] = True
        return reply(200, None)

    h.server.on("GET", "/sessions/s-1", session)  # type: ignore[arg-type]
    h.server.on("PUT", "/sessions/s-1", restart)  # type: ignore[arg-type]
    op = h.machine.reconnect(h.now)
    h.pump()
    h.run_until(lambda: h.completed(op) is not None)
    assert h.completed(op).error is None  # type: ignore[union-attr]
    assert "PUT /sessions/s-1" in h.paths()
    assert h.machine.session_id == "s-1"


def test_reconnect_gives_up_when_a_restarted_session_stays_inactive() -> None:
    h = ready_with_jwt()
    h.machine.disconnect(h.now, recoverable=True)
    h.pump()
    h.server.on("GET", "/sessions/s-1", lambda r: reply(200, {
        "session_id": "s-1", "state": "INACTIVE", "model": {"name": "helios"}}))
    h.server.on("PUT", "/sessions/s-1", lambda r: reply(200, None))
    op = h.machine.reconnect(h.now)
    h.pump()
    done = h.completed(op)
    assert done is not None and isinstance(done.error, SessionTerminalError)
