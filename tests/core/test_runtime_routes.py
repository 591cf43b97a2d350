"""HTTP routes of the runtime machine: every route, good and malformed input."""

from __future__ import annotations

import json

import pytest

from reactor_proto.runtime import CreateAnswer, SessionStarted, SessionState

from .runtime_harness import ANSWER_SDP, BASE, MAPPING, OFFER_BODY, OFFER_SDP, Harness

CID_PATH = f"{BASE}/connections/{{cid}}/sdp_params"


def started(**overrides: object) -> Harness:
    harness = Harness(**overrides)  # type: ignore[arg-type]
    assert harness.start().status == 200
    return harness


# (description, method, path, body bytes or None, expected status)
MALFORMED = [
    ("unknown route", "GET", "/nope", None, 404),
    ("trailing slash", "GET", "/session/", None, 404),
    ("wrong method on /session", "POST", "/session", None, 405),
    ("wrong method on /health", "DELETE", "/health", None, 405),
    ("start_session bad JSON", "POST", "/start_session", b"{", 400),
    ("start_session not UTF-8", "POST", "/start_session", b"\xff\xfe", 400),
    ("start_session not an object", "POST", "/start_session", b"[1]", 422),
    ("start_session extra_args not an object", "POST", "/start_session",
     b'{"extra_args": 3}', 422),
    ("wrong session id", "GET", "/sessions/other/transport/webrtc/ice_servers", None, 404),
    ("register wrong sid", "POST", "/sessions/x/transport/webrtc/connections", None, 404),
    ("offer to unknown connection", "POST", f"{BASE}/connections/4242/sdp_params",
     json.dumps(OFFER_BODY).encode(), 404),
    ("connection id not a number", "POST", f"{BASE}/connections/abc/sdp_params",
     json.dumps(OFFER_BODY).encode(), 422),
    ("connection id out of range", "GET", f"{BASE}/connections/10000/sdp_params", None, 422),
    ("connection id 1000", "GET", f"{BASE}/connections/1000/sdp_params", None, 422),
    ("connection id with sign", "GET", f"{BASE}/connections/+1002/sdp_params", None, 422),
    ("answer poll unknown id", "GET", f"{BASE}/connections/4242/sdp_params", None, 404),
    ("legacy offer bad JSON", "POST", f"{BASE}/sdp_params", b"{nope", 400),
    ("legacy offer missing sdp_offer", "POST", f"{BASE}/sdp_params", b"{}", 422),
    ("legacy offer empty body", "POST", f"{BASE}/sdp_params", None, 422),
    ("legacy offer not an SDP", "POST", f"{BASE}/sdp_params", b'{"sdp_offer": "hello"}', 422),
    ("legacy offer bad direction", "PUT", f"{BASE}/sdp_params", json.dumps(
        {"sdp_offer": OFFER_SDP, "track_mapping": [dict(MAPPING[0], direction="sendrecv")]}
    ).encode(), 422),
    ("legacy offer unknown track", "POST", f"{BASE}/sdp_params", json.dumps(
        {"sdp_offer": OFFER_SDP, "track_mapping": [dict(MAPPING[0], name="ghost")]}
    ).encode(), 422),
    ("legacy offer track direction flipped", "POST", f"{BASE}/sdp_params", json.dumps(
        {"sdp_offer": OFFER_SDP, "track_mapping": [dict(MAPPING[0], direction="sendonly")]}
    ).encode(), 422),
    ("legacy poll bad connection_id", "GET", f"{BASE}/sdp_params?connection_id=x", None, 422),
    ("legacy poll unknown connection_id", "GET", f"{BASE}/sdp_params?connection_id=4242",
     None, 404),
    ("legacy ICE before any offer", "POST", f"{BASE}/ice_candidates",
     b'{"candidates": []}', 404),
    ("upload bad JSON", "POST", "/sessions/local/uploads", b"{]", 400),
    ("upload missing name", "POST", "/sessions/local/uploads",
     b'{"size": 3, "mime_type": "a/b"}', 400),
    ("upload size 0", "POST", "/sessions/local/uploads",
     b'{"name": "a", "size": 0, "mime_type": "a/b"}', 400),
    ("upload too large", "POST", "/sessions/local/uploads",
     b'{"name": "a", "size": 99999999999, "mime_type": "a/b"}', 413),
    ("upload wrong sid", "POST", "/sessions/nope/uploads",
     b'{"name": "a", "size": 3, "mime_type": "a/b"}', 404),
    ("PUT upload not a UUID", "PUT", "/uploads/..%2F..%2Fetc", b"abc", 422),
    ("PUT upload upper-case UUID", "PUT", "/uploads/6F1C1E3A-0B1C-4D2E-8F3A-1B2C3D4E5F60",
     b"abc", 422),
    ("PUT upload unknown", "PUT", "/uploads/6f1c1e3a-0b1c-4d2e-8f3a-1b2c3d4e5f60", b"abc", 404),
    ("GET upload", "GET", "/uploads/6f1c1e3a-0b1c-4d2e-8f3a-1b2c3d4e5f60", None, 405),
    ("body over the limit", "POST", "/start_session", b" " * 70_000, 413),
]


@pytest.mark.parametrize(("what", "method", "path", "body", "status"), MALFORMED,
                         ids=[row[0] for row in MALFORMED])
def test_malformed_input_status_table(what: str, method: str, path: str, body: bytes | None,
                                      status: int) -> None:
    harness = started(max_body_bytes=64_000)
    reply = harness.request(method, path, raw=body)
    assert reply.status == status, (what, reply.body)
    assert isinstance(reply.body["detail"], str)
    assert reply.body["detail"]
    assert reply.response.header("access-control-allow-origin") == "*"
    if status == 405:
        assert "OPTIONS" in (reply.response.header("allow") or "")


def test_field_errors_name_the_field() -> None:
    harness = started()
    reply = harness.request("POST", f"{BASE}/sdp_params", {"sdp_offer": 5})
    assert reply.status == 422
    assert "sdp_offer.sdp_offer" in reply.body["detail"]
    reply = harness.request("POST", f"{BASE}/sdp_params",
                            {"sdp_offer": OFFER_SDP, "track_mapping": [dict(MAPPING[0],
                                                                            name="ghost")]})
    assert "track_mapping[0].name" in reply.body["detail"]
    assert "ghost" in reply.body["detail"]


def test_transport_routes_need_a_running_session() -> None:
    harness = Harness()
    for method, path in (("POST", f"{BASE}/connections"), ("POST", f"{BASE}/sdp_params"),
                         ("POST", f"{BASE}/connections/1002/ice_candidates"),
                         ("POST", "/sessions/local/uploads")):
        reply = harness.request(method, path, {})
        assert (reply.status, reply.body) == (400, {"detail": "No session running"})
    assert harness.request("GET", f"{BASE}/ice_servers").status == 200
    assert harness.request("GET", f"{BASE}/sdp_params").status == 404


def test_start_session_descriptor_and_idempotence() -> None:
    harness = Harness()
    first = harness.start()
    assert first.status == 200
    body = first.body
    assert body["session_id"] == "local"
    assert body["cluster"] == "local"
    assert body["selected_transport"] == {"protocol": "webrtc", "version": "1.0"}
    assert body["model"] == {"name": "demo"}
    assert body["state"] == "WAITING"
    assert body["server_info"]["server_version"]
    caps = body["capabilities"]
    assert caps["emission_fps"] == 30.0
    assert caps["protocol_version"] == "1.2.3"
    prompt = next(c for c in caps["commands"] if c["name"] == "set_prompt")
    assert prompt["schema"]["prompt"] == {"type": "string", "required": True}
    assert prompt["schema"]["chunk"]["minimum"] == 0
    assert body["schema"]["openapi"].startswith("3.1")
    assert "/events/set_prompt" in body["schema"]["paths"]
    _, events = harness.take()
    assert SessionStarted(extra_args={}) in events
    again = harness.request("POST", "/start_session", {"extra_args": {"a": 1}})
    assert again.status == 200
    assert again.body == body
    assert harness.take()[1] == []
    assert harness.request("GET", "/session").body == body


def test_start_session_passes_extra_args_and_refuses_in_created() -> None:
    harness = Harness(start_ready=False)
    reply = harness.start()
    assert (reply.status, reply.body) == (400, {"detail": "Cannot start session in state "
                                                          "CREATED"})
    assert harness.request("GET", "/health").body == {"status": "healthy", "model": "demo",
                                                      "state": "CREATED"}
    harness.machine.model_loaded(harness.now)
    reply = harness.request("POST", "/start_session", {"extra_configs": {"seed": 3}})
    assert reply.status == 200
    assert SessionStarted(extra_args={"seed": 3}) in harness.take()[1]


def test_stop_session_statuses() -> None:
    harness = Harness()
    assert (harness.request("POST", "/stop_session").status, harness.request(
        "POST", "/stop_session").body) == (200, None)
    harness.start()
    reply = harness.request("POST", "/stop_session")
    assert (reply.status, reply.response.body) == (200, b"null")
    assert harness.machine.state is SessionState.READY
    closing = started(confirm_teardown=True)
    closing.request("POST", "/stop_session")
    assert closing.machine.state is SessionState.CLOSING
    reply = closing.request("POST", "/stop_session")
    assert (reply.status, reply.body) == (409, {"detail": "Cannot stop session in state "
                                                          "CLOSING"})
    assert closing.start().status == 400


def test_cors_everywhere_and_preflight() -> None:
    harness = Harness()
    reply = harness.request("OPTIONS", f"{BASE}/connections", headers=(
        ("origin", "http://page.example"), ("access-control-request-method", "POST")))
    assert reply.status == 204
    assert reply.response.body == b""
    assert reply.response.header("access-control-allow-origin") == "http://page.example"
    assert "POST" in (reply.response.header("allow") or "")
    assert "authorization" in (reply.response.header("access-control-allow-headers")
                               or "").lower()
    assert harness.request("OPTIONS", "/unknown").status == 204
    assert harness.request("GET", "/health").response.header(
        "access-control-allow-origin") == "*"


def test_ice_servers_default_empty_and_configured() -> None:
    from reactor_proto.bodies import IceServer

    assert Harness().request("GET", f"{BASE}/ice_servers").body == {"ice_servers": []}
    configured = Harness(ice_servers=(IceServer(urls=("turn:t:3478",), username="u",
                                                credential="p"),))
    assert configured.request("GET", f"{BASE}/ice_servers").body == {"ice_servers": [
        {"uris": ["turn:t:3478"], "credentials": {"username": "u", "password": "p"}}]}


def test_registration_and_answer_polling() -> None:
    harness = started()
    reply = harness.request("POST", f"{BASE}/connections")
    assert reply.status == 201
    cid = reply.body["connection_id"]
    assert 1002 <= cid <= 9999
    assert reply.body["track_map"]["tracks"][0]["name"] == "webcam"
    path = CID_PATH.format(cid=cid)
    poll = harness.request("GET", path)
    assert (poll.status, poll.response.body) == (202, b"null")
    offered = harness.offer(cid)
    assert (offered.status, offered.body) == (202, {"connection_id": cid})
    actions, _ = harness.take()
    assert [type(a) for a in actions] == [CreateAnswer]
    assert harness.request("GET", path).status == 202
    harness.answer(cid)
    for _ in range(2):  # R2: the answer stays pollable
        got = harness.request("GET", path)
        assert got.status == 200
        assert got.body["connection_id"] == cid
        assert "a=max-message-size:262144" in got.body["sdp_answer"]


def test_consumed_answers() -> None:
    harness = started(consume_answers=True)
    cid = harness.register()
    harness.offer(cid)
    harness.answer(cid)
    path = CID_PATH.format(cid=cid)
    assert harness.request("GET", path).status == 200
    assert harness.request("GET", path).status == 202


def test_answer_failure_is_visible() -> None:
    harness = started()
    cid = harness.register()
    harness.offer(cid)
    harness.machine.answer_failed(cid, "no codec", harness.now)
    reply = harness.request("GET", CID_PATH.format(cid=cid))
    assert reply.status == 500
    assert "no codec" in reply.body["detail"]


def test_connection_ceiling() -> None:
    harness = started(max_connections=2)
    harness.register()
    harness.register()
    assert harness.request("POST", f"{BASE}/connections").status == 503
    assert harness.request("POST", f"{BASE}/sdp_params", OFFER_BODY).status == 503


def test_ice_candidates_buffered_then_forwarded() -> None:
    from reactor_proto.runtime import AddIceCandidates

    harness = started(max_buffered_candidates=1)
    cid = harness.register()
    body = {"candidates": [{"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host",
                            "sdp_mid": "0", "sdp_mline_index": 0}] * 2, "is_final": True}
    path = f"{BASE}/connections/{cid}/ice_candidates"
    reply = harness.request("POST", path, body)
    assert (reply.status, reply.body) == (202, {})
    assert harness.request("POST", path, {"candidates": "x"}).status == 422
    assert harness.request("POST", f"{BASE}/connections/4242/ice_candidates", body).status == 404
    harness.offer(cid)
    (create,), _ = harness.take()
    assert isinstance(create, CreateAnswer)
    assert len(create.remote_candidates) == 1
    assert create.end_of_candidates
    assert harness.machine.connections.get(cid).candidates_dropped == 1  # type: ignore[union-attr]
    harness.request("POST", path, body)
    (add,), _ = harness.take()
    assert isinstance(add, AddIceCandidates)
    assert len(add.candidates) == 2


def test_legacy_flat_routes() -> None:
    harness = started()
    assert harness.request("GET", f"{BASE}/sdp_params").status == 202  # WAITING: pending
    reply = harness.request("POST", f"{BASE}/sdp_params", {"sdp_offer": OFFER_SDP})
    assert (reply.status, reply.body) == (202, {"connection_id": 1001})
    assert harness.request("GET", f"{BASE}/sdp_params").status == 202
    warned = harness.request("POST", f"{BASE}/ice_candidates",
                             {"session_id": "x", "candidates": []})
    assert warned.status == 202
    assert "warning" in warned.body
    assert harness.request("POST", f"{BASE}/ice_candidates", {"candidates": []}).body == {}
    harness.answer(1001)
    got = harness.request("GET", f"{BASE}/sdp_params")
    assert got.status == 200
    assert got.body["connection_id"] == 1001
    assert harness.request("GET", f"{BASE}/sdp_params?connection_id=1001").status == 200
    harness.machine.transport_connected(1001, harness.now)
    actions, _ = harness.take()
    from reactor_proto.runtime import SetInputFlow, SetOutputFlow

    assert SetOutputFlow(connection_id=1001, track="main_video", paused=False) in actions
    assert SetInputFlow(connection_id=1001, track="webcam", enabled=True) in actions
    again = harness.request("PUT", f"{BASE}/sdp_params", {"sdp_offer": OFFER_SDP})
    assert again.status == 202
    (create,), _ = harness.take()
    assert isinstance(create, CreateAnswer)
    assert create.replaces


def test_legacy_poll_falls_back_to_any_answer() -> None:
    harness = started()
    cid = harness.connect()
    assert harness.request("GET", f"{BASE}/sdp_params").body["connection_id"] == cid
    harness.machine.transport_closed(cid, harness.now)
    harness.collect()
    assert harness.machine.state is SessionState.ORPHANED
    assert harness.request("GET", f"{BASE}/sdp_params").status == 202


def test_legacy_poll_404_when_streaming_without_answers() -> None:
    harness = started(consume_answers=True)
    harness.connect()
    assert harness.request("GET", f"{BASE}/sdp_params").status == 404


def test_uploads_routes() -> None:
    harness = started()
    reply = harness.request("POST", "/sessions/local/uploads",
                            {"name": "photo.jpg", "size": 3, "mime_type": "image/jpeg"},
                            headers=(("host", "127.0.0.1:9000"),))
    assert reply.status == 201
    upload_id = reply.body["presigned_id"]
    assert reply.body["presigned_url"] == f"http://localhost:8080/uploads/{upload_id}"
    assert reply.body["path"] == f"sessions/local/uploads/{upload_id}/photo.jpg"
    assert harness.request("PUT", f"/uploads/{upload_id}", raw=b"ab").status == 400
    assert harness.request("PUT", f"/uploads/{upload_id}", raw=b"abc").status == 200
    second = harness.request("PUT", f"/uploads/{upload_id}", raw=b"abc")
    assert (second.status, second.body) == (409, {"detail": "Upload already completed"})


def test_presigned_url_uses_a_sane_host_header_only() -> None:
    harness = started()
    harness.machine.handle_request  # noqa: B018 - the harness sets host localhost:8080
    from reactor_proto.http import HttpRequest

    for host, expected in (("127.0.0.1:9000", "127.0.0.1:9000"), ("[::1]:8080", "[::1]:8080"),
                           ("evil/path", "localhost:8080"), ("a b", "localhost:8080")):
        request = HttpRequest(method="POST", url="http://localhost:8080/sessions/local/uploads",
                              headers=(("host", host),),
                              body=b'{"name":"a","size":1,"mime_type":"a/b"}')
        body = json.loads(harness.machine.handle_request(request, harness.now).body)
        assert body["presigned_url"].startswith(f"http://{expected}/uploads/")
    harness.collect()


def test_upload_ids_come_from_the_rng() -> None:
    one, two = started(seed=1), started(seed=1)
    assert one.upload(b"x") == two.upload(b"x")


def test_store_budget_is_enforced() -> None:
    harness = started(max_total_upload_bytes=5, max_uploads=2)
    body = {"name": "a", "size": 3, "mime_type": "a/b"}
    assert harness.request("POST", "/sessions/local/uploads", body).status == 201
    assert harness.request("POST", "/sessions/local/uploads", body).status == 413
    assert harness.request("POST", "/sessions/local/uploads", dict(body, size=2)).status == 201
    assert harness.request("POST", "/sessions/local/uploads", dict(body, size=1)).status == 413


def test_put_on_unknown_connection_is_404_and_put_swaps_live_transport() -> None:
    harness = started()
    assert harness.offer(4242, "PUT").status == 404
    cid = harness.connect()
    harness.take()
    assert harness.offer(cid, "PUT").status == 202
    (create,), _ = harness.take()
    assert isinstance(create, CreateAnswer)
    assert create.replaces
    assert harness.request("GET", CID_PATH.format(cid=cid)).status == 202
    harness.answer(cid, ANSWER_SDP)
    harness.machine.transport_connected(cid, harness.now)
    _, events = harness.take()
    assert events == []  # swapped in place: no new ClientConnected
