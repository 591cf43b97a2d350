"""The documented error vocabulary (docs/protocol §11.1; docs/protocol/11-errors.md), decided in
the core: which code a failure gets, with the specific cause kept beside it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto import errors as E
from reactor_proto.client import ClientConfig, ErrorOccurred, ReactorStatus
from reactor_proto.errors import Failure, documented
from tests.core.paired import Endpoint, reply, scripted_client

CLASSES = [E.ReactorError, E.LocalProtocolError, E.InvalidStateError, E.MessageTooLargeError,
           E.RemoteProtocolError, E.NetworkError, E.RequestTimeoutError, E.UnauthorizedError,
           E.NotFoundError, E.ConflictError, E.RateLimitedError, E.BadRequestError,
           E.ServerError, E.VersionMismatchError, E.SessionTerminalError, E.SessionGoneError,
           E.TransportError, E.DisconnectedError, E.AbortedError]
TABLE = {Failure.CONNECT: ("CONNECTION_FAILED", "api"),
         Failure.RECONNECT: ("RECONNECTION_FAILED", "api"),
         Failure.TRANSPORT: ("GPU_CONNECTION_ERROR", "gpu"),
         Failure.SEND: ("MESSAGE_SEND_FAILED", "gpu"),
         Failure.PUBLISH: ("TRACK_PUBLISH_FAILED", "gpu"),
         Failure.UNPUBLISH: ("TRACK_UNPUBLISH_FAILED", "gpu"),
         Failure.UPLOAD: ("UPLOAD_FAILED", "api")}

errors = st.builds(
    lambda cls, code, comp, rec, retry: cls("it broke", code=code, component=comp,
                                             recoverable=rec, retry_after=retry),
    st.sampled_from(CLASSES),
    st.one_of(st.none(), st.sampled_from([c.value for c in E.ErrorCode])),
    st.one_of(st.none(), st.sampled_from(["api", "gpu", "local"])),
    st.one_of(st.none(), st.booleans()),
    st.one_of(st.none(), st.floats(0, 60)))


@given(errors, st.sampled_from(list(Failure)), st.one_of(st.none(), st.floats(0, 10)))
def test_documented_form_keeps_the_class_and_the_cause(
        error: E.ReactorError, failure: Failure, hint: float | None) -> None:
    before = (error.code, error.component, error.cause)
    out = documented(error, failure, retry_after=hint)
    assert (error.code, error.component, error.cause) == before  # the original is untouched
    assert type(out) is type(error) and out.message == error.message
    assert out.recoverable is error.recoverable
    assert out.component in ("api", "gpu")
    if failure is Failure.OTHER:
        assert out.code == error.code
    else:
        code, component = TABLE[failure]
        assert (out.code, out.component) == (code, component)
        if error.code != code:
            assert out.cause == (error.cause if error.code in E.DOCUMENTED_CODES
                                 else error.code)
    assert str(out) == f"[{out.component}:{out.code}] {out.message}"
    assert out.retry_after == (error.retry_after if error.retry_after is not None else hint)
    again = documented(out, failure, retry_after=hint)
    assert (again.code, again.cause, again.component) == (out.code, out.cause, out.component)


def test_every_error_is_a_runtime_error_as_the_docs_say() -> None:
    assert all(issubclass(cls, RuntimeError) for cls in CLASSES)


# ---- the machine picks the failure --------------------------------------------------------


def reported(h: Endpoint) -> list[E.ReactorError]:
    return [e.error for e in h.of_type(ErrorOccurred)]


def test_a_wrong_api_key_is_connection_failed_caused_by_unauthorized() -> None:
    h = scripted_client(ClientConfig.create("helios", api_key="rk_x", api_url="https://api.example.test"))
    h.server.on("POST", "/tokens", lambda r: reply(401, {"detail": "bad key"}))
    op = h.connect()
    done = h.completed(op)
    assert done is not None and isinstance(done.error, E.UnauthorizedError)
    error = done.public_error
    assert isinstance(error, E.UnauthorizedError)
    assert (error.code, error.component, error.cause) == ("CONNECTION_FAILED", "api",
                                                          "UNAUTHORIZED")
    assert reported(h) == [error] and h.machine.last_error is error


def ready() -> Endpoint:
    h = scripted_client()
    h.connect()
    h.run_until(lambda: h.machine.status is ReactorStatus.READY)
    return h


def test_a_lost_transport_is_gpu_connection_error_with_a_retry_hint() -> None:
    h = ready()
    h.machine.peer_state(h.current_peer(), "failed", h.now)
    h.pump()
    error = reported(h)[-1]
    assert (error.code, error.component, error.cause) == ("GPU_CONNECTION_ERROR", "gpu",
                                                          "TRANSPORT_ERROR")
    assert error.recoverable and error.retry_after == h.config.reconnect_delay


def test_a_reconnect_to_a_gone_session_is_reconnection_failed() -> None:
    h = ready()
    h.machine.disconnect(h.now, recoverable=True)
    h.pump()
    h.server.on("POST", "/connections", lambda r: reply(400, {"detail": "no session"}))
    op = h.machine.reconnect(h.now)
    h.pump()
    h.run_until(lambda: h.completed(op) is not None)
    error = h.completed(op).public_error  # type: ignore[union-attr]
    assert isinstance(error, E.SessionGoneError)
    assert (error.code, error.cause) == ("RECONNECTION_FAILED", "SESSION_GONE")
    assert not error.recoverable
    assert reported(h)[-1] is error


@pytest.mark.parametrize(("call", "code"), [
    (lambda m, now: m.send_command("start", {}, now), "MESSAGE_SEND_FAILED"),
    (lambda m, now: m.publish_track("webcam", now), "TRACK_PUBLISH_FAILED"),
    (lambda m, now: m.unpublish_track("webcam", now), "TRACK_UNPUBLISH_FAILED"),
    (lambda m, now: m.reconnect(now), "RECONNECTION_FAILED"),
    (lambda m, now: m.upload("a.png", "image/png", b"x", now), "UPLOAD_FAILED"),
])
def test_a_refused_call_raises_and_emits_the_documented_error(call, code) -> None:  # type: ignore[no-untyped-def]
    h = scripted_client()
    with pytest.raises(E.ReactorError) as raised:
        call(h.machine, h.now)
    h.collect()
    assert raised.value.code == code and raised.value.component in ("api", "gpu")
    assert reported(h) == [raised.value] and h.machine.last_error is raised.value


def test_send_before_connect_says_to_call_connect_first() -> None:
    h = scripted_client()
    with pytest.raises(E.InvalidStateError, match=r"call connect\(\) first") as raised:
        h.machine.send_command("start", {}, h.now)
    assert raised.value.cause == "INVALID_STATE"


def test_connect_while_connecting_is_a_typed_runtime_error() -> None:
    h = scripted_client(auto_http=False)
    h.connect()
    with pytest.raises(RuntimeError) as raised:
        h.machine.connect(h.now)
    assert isinstance(raised.value, E.InvalidStateError)
    assert raised.value.code == "CONNECTION_FAILED"


def test_a_refused_publish_is_track_publish_failed_caused_by_the_runtime_code() -> None:
    h = scripted_client(ClientConfig(model_name="echo", local=True, api_url="http://localhost:8080"))
    h.connect()
    h.run_until(lambda: h.machine.status is ReactorStatus.READY)
    tracks = [t.name for t in h.machine.tracks if t.direction == "sendonly"]
    if not tracks:
        pytest.skip("the scripted descriptor declares no sendonly track")
    op = h.machine.publish_track(tracks[0], h.now)
    h.pump()
    request = h.channel_texts("control")[-1]
    h.machine.channel_message(h.current_peer(), "control", json.dumps(
        {"type": "response", "method": "publish_track", "request_id": request["request_id"],
         "error": {"code": "PUBLISHER_SLOT_TAKEN", "message": "taken"}}), h.now)
    h.pump()
    done = h.completed(op)
    assert done is not None and done.error is not None
    assert done.error.code == "PUBLISHER_SLOT_TAKEN"  # the machine's own record is specific
    assert done.public_error is not None
    assert (done.public_error.code, done.public_error.cause) == ("TRACK_PUBLISH_FAILED",
                                                                 "PUBLISHER_SLOT_TAKEN")
    assert reported(h)[-1] is done.public_error


# ---- fetch_jwt_token's core half -----------------------------------------------------------


def test_token_request_and_its_answers() -> None:
    from reactor_proto.client.tokens import token_error, token_from_response, token_request

    request = token_request("rk_k", "https://api.example.test/")
    assert (request.method, request.url) == ("POST", "https://api.example.test/tokens")
    assert ("reactor-api-key", "rk_k") in request.headers
    with pytest.raises(E.LocalProtocolError):
        token_request("rk_k", "http://api.example.test")  # a key never goes over plain http
    assert token_from_response(reply(200, {"jwt": "a.b.c"})) == "a.b.c"
    with pytest.raises(E.UnauthorizedError) as raised:
        token_from_response(reply(401, {"detail": "bad key"}))
    assert (raised.value.code, raised.value.cause) == ("CONNECTION_FAILED", "UNAUTHORIZED")
    with pytest.raises(E.DecodeError) as bad:
        token_from_response(reply(200, {"token": 1}))
    assert bad.value.code == "CONNECTION_FAILED"
    lost = token_error(E.NetworkError("refused"))
    assert (lost.code, lost.cause, lost.recoverable) == ("CONNECTION_FAILED", "NETWORK_ERROR",
                                                         True)


def test_repr_and_record_carry_the_cause() -> None:
    error = documented(E.RateLimitedError("slow down", retry_after=2.0, status=429),
                       Failure.CONNECT)
    assert "cause='RATE_LIMITED'" in repr(error) and "retry_after=2.0" in repr(error)
    assert error.to_dict() == {"code": "CONNECTION_FAILED", "message": "slow down",
                               "timestamp": None, "recoverable": True, "component": "api",
                               "retry_after": 2.0, "cause": "RATE_LIMITED"}
    assert type(error.code) is str and type(error.component) is str
