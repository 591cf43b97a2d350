"""Transport and upload routes forwarded to the runtime hosting the session."""

from __future__ import annotations

import json

from reactor_proto.coordinator import SessionState

from .coordinator_harness import Driver, body_of


def test_transport_routes_are_rewritten_to_the_runtime_session() -> None:
    d = Driver(assign_delay=1.0)
    jwt = d.token()
    sid = d.create_id(jwt)
    pending = d.transport(jwt, sid, "GET", "/ice_servers")
    assert pending.status == 409
    assert "PENDING" in body_of(pending)["detail"]
    d.advance(1.0)
    registered = d.transport(jwt, sid, "POST", "/connections")
    assert registered.status == 201
    assert body_of(registered) == {"connection_id": 1234}
    offer = d.transport(jwt, sid, "POST", "/connections/1234/sdp_params",
                        json_body={"sdp_offer": "v=0", "track_mapping": []})
    assert offer.status == 202
    answer = d.request("GET", f"/sessions/{sid}/transport/webrtc/connections/1234/sdp_params"
                       "?x=1", headers=d.auth(jwt, transport=True))
    assert answer.status == 200
    assert answer.header("access-control-allow-origin") == "*"
    forwarded = [r for r in d.runtimes[0].requests if "/transport/" in r.url]
    assert [r.url for r in forwarded] == [
        "http://runtime.internal/sessions/local/transport/webrtc/connections",
        "http://runtime.internal/sessions/local/transport/webrtc/connections/1234/sdp_params",
        "http://runtime.internal/sessions/local/transport/webrtc/connections/1234/sdp_params"
        "?x=1"]
    for request in forwarded:
        auth = [v for k, v in request.headers if k.lower() == "authorization"]
        assert auth == ["Bearer local"]
        assert jwt not in repr(request.headers)
    assert json.loads(forwarded[1].body or b"") == {"sdp_offer": "v=0", "track_mapping": []}


def test_transport_connect_makes_the_session_active_immediately() -> None:
    d = Driver(runtime_poll_interval=100.0)
    jwt = d.token()
    sid = d.create_id(jwt)
    d.runtimes[0].connect()
    d.transport(jwt, sid, "GET", "/connections/1234/sdp_params")
    assert d.machine.session_state(sid) is SessionState.ACTIVE


def test_transport_runtime_raising_is_502() -> None:
    d = Driver()
    jwt = d.token()
    sid = d.create_id(jwt)
    d.runtimes[0].raise_on = "/transport/"
    assert d.transport(jwt, sid, "GET", "/ice_servers").status == 502


def test_closed_session_transport_is_404() -> None:
    d = Driver()
    jwt = d.token()
    sid = d.create_id(jwt)
    d.delete(jwt, sid)
    assert d.transport(jwt, sid, "GET", "/ice_servers").status == 404


def test_upload_slot_and_put_are_forwarded() -> None:
    d = Driver()
    jwt = d.token()
    sid = d.create_id(jwt)
    slot = d.request("POST", f"/sessions/{sid}/uploads", headers=d.auth(jwt),
                     json_body={"name": "a.png", "size": 3, "mime_type": "image/png"})
    assert slot.status == 201
    body = body_of(slot)
    upload_id = body["presigned_id"]
    assert body["presigned_url"] == f"http://coord.test:8443/uploads/{upload_id}"
    assert body["path"] == f"sessions/{sid}/uploads/{upload_id}/a.png"
    put = d.request("PUT", f"/uploads/{upload_id}", body=b"abc",
                    headers=(("content-type", "image/png"), ("authorization", "x")))
    assert put.status == 200
    assert d.runtimes[0].uploads[upload_id] == b"abc"
    last = d.runtimes[0].requests[-1]
    assert last.headers == (("host", "runtime.internal"), ("content-type", "image/png"),
                            ("authorization", "Bearer local"))
    assert d.machine.bookkeeping()["uploads"] == 1
    d.delete(jwt, sid)
    assert d.machine.bookkeeping()["uploads"] == 0
    assert d.request("PUT", f"/uploads/{upload_id}", body=b"abc").status == 404


def test_upload_slot_needs_a_runtime_and_a_sane_runtime_reply() -> None:
    d = Driver(assign_delay=5.0)
    jwt = d.token()
    sid = d.create_id(jwt)
    payload = {"name": "a", "size": 1, "mime_type": "x/y"}
    assert d.request("POST", f"/sessions/{sid}/uploads", headers=d.auth(jwt),
                     json_body=payload).status == 409
    d.advance(5.0)
    d.runtimes[0].upload_reply = {"presigned_id": "../../etc", "presigned_url": "u", "path": "p"}
    bad = d.request("POST", f"/sessions/{sid}/uploads", headers=d.auth(jwt), json_body=payload)
    assert bad.status == 502
    d.runtimes[0].upload_reply = None
    d.runtimes[0].session_id = "other"          # runtime now 404s our rewritten path
    passthrough = d.request("POST", f"/sessions/{sid}/uploads", headers=d.auth(jwt),
                            json_body=payload)
    assert passthrough.status == 404


def test_upload_put_body_limit() -> None:
    d = Driver(max_upload_bytes=4)
    assert d.request("PUT", "/uploads/u", body=b"12345").status == 413
