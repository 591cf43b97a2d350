"""The coordinator in front of the real RuntimeMachine (in memory, fake clock)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from reactor_proto.coordinator import CoordinatorConfig, SessionState
from reactor_proto.http import HttpRequest, HttpResponse

from .coordinator_harness import KEYS, Driver, PairedCoordinator, body_of

runtime_pkg = pytest.importorskip("reactor_proto.runtime")
runtime_harness = pytest.importorskip("tests.core.runtime_harness")


class ServedRuntime:
    """Adapts RuntimeMachine (whose HTTP entry point is ``handle_request``) to the
    paired harness's ``Runtime`` protocol."""

    def __init__(self, **overrides: Any) -> None:
        self.machine = runtime_pkg.RuntimeMachine(runtime_harness.make_config(**overrides),
                                                  rng=random.Random(3))

    def handle_http(self, request: HttpRequest, now: float) -> HttpResponse:
        response: HttpResponse = self.machine.handle_request(request, now)
        return response


def _driver(runtimes: list[ServedRuntime]) -> Driver:
    d = Driver(runtime_poll_interval=1.0)
    d.config = CoordinatorConfig(api_keys=KEYS, runtime_poll_interval=1.0)
    d.runtimes = runtimes  # type: ignore[assignment]
    d.machine = PairedCoordinator(d.config, runtimes, rng=random.Random(7))
    return d


def test_full_flow_through_the_real_runtime() -> None:
    served = ServedRuntime()
    d = _driver([served])
    jwt = d.token()
    sid = d.create_id(jwt)
    snapshot = body_of(d.get(jwt, sid))
    assert snapshot["state"] == "WAITING"
    assert snapshot["selected_transport"] == {"protocol": "webrtc", "version": "1.0"}
    assert {t["name"] for t in snapshot["capabilities"]["tracks"]} == {"webcam", "main_video"}
    assert d.transport(jwt, sid, "GET", "/ice_servers").status == 200
    registered = d.transport(jwt, sid, "POST", "/connections")
    assert registered.status == 201
    cid = body_of(registered)["connection_id"]
    offer = d.transport(jwt, sid, "POST", f"/connections/{cid}/sdp_params",
                        json_body=runtime_harness.OFFER_BODY)
    assert offer.status == 202, offer.body
    assert d.transport(jwt, sid, "GET", f"/connections/{cid}/sdp_params").status == 202
    served.machine.answer_created(cid, runtime_harness.ANSWER_SDP, d.now)
    answer = d.transport(jwt, sid, "GET", f"/connections/{cid}/sdp_params")
    assert answer.status == 200
    assert "max-message-size:262144" in body_of(answer)["sdp_answer"]
    served.machine.transport_connected(cid, d.now)
    d.advance(1.0)
    assert d.machine.session_state(sid) is SessionState.ACTIVE

    slot = d.request("POST", f"/sessions/{sid}/uploads", headers=d.auth(jwt),
                     json_body={"name": "a.bin", "size": 3, "mime_type": "x/y"})
    assert slot.status == 201, slot.body
    upload = body_of(slot)
    assert upload["presigned_url"].startswith("http://coord.test:8443/uploads/")
    assert upload["path"].startswith(f"sessions/{sid}/uploads/")
    assert d.request("PUT", f"/uploads/{upload['presigned_id']}", body=b"abc").status == 200
    assert d.request("PUT", f"/uploads/{upload['presigned_id']}", body=b"abc").status == 409

    assert d.delete(jwt, sid).status == 200
    assert served.machine.state.value.upper() == "READY"


def test_runtime_orphan_timeout_closes_the_coordinator_session() -> None:
    served = ServedRuntime(orphan_timeout=30.0)
    d = _driver([served])
    jwt = d.token()
    sid = d.create_id(jwt)
    served.machine.handle_timeout(d.now + 30.0)        # nobody connected within the grace
    d.advance(1.0)
    assert d.machine.session_state(sid) is SessionState.CLOSED
    second = d.create_id(jwt)                          # the slot is free again
    assert d.state(jwt, second) == "WAITING"
