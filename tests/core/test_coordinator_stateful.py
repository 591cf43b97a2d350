"""An adversarial client against the coordinator (hypothesis RuleBasedStateMachine).

Checks: no exception escapes, every response is a well-formed HTTP answer with a JSON body
(never a 500), deadlines are never in the past after ``handle_timeout``, and once every
session is deleted or expired and time passes, no session, queue entry, slot, upload,
rate bucket or timer is left.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from reactor_proto.coordinator import InternalError, RateLimit
from reactor_proto.http import HttpResponse

from .coordinator_harness import SECRET_A, SECRET_B, Driver

VALID = {200, 201, 202, 204, 400, 401, 404, 405, 409, 413, 422, 426, 429, 501, 502}
SUFFIXES = ["", "/info", "/uploads", "/transport/webrtc/ice_servers",
            "/transport/webrtc/connections", "/transport/webrtc/connections/1234/sdp_params",
            "/transport/webrtc/nothing"]
METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]
BODIES = st.one_of(st.none(), st.binary(max_size=64),
                   st.sampled_from([b"{}", b"null", b'{"reason":"x"}',
                                    b'{"model":{"name":"helios"}}',
                                    b'{"name":"a","size":1,"mime_type":"x/y"}', b"[", b'"\xff"']))


class CoordinatorClient(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.d = Driver(slots=2, assign_delay=0.5, max_session_seconds=40.0,
                        closed_retention=5.0, runtime_poll_interval=1.0,
                        rate_limit=RateLimit(burst=40, per_second=20), max_body_bytes=512)
        self.jwts: list[str] = []
        self.sessions: list[str] = ["not-a-session"]
        self.uploads: list[str] = ["nope"]

    def check(self, response: HttpResponse) -> None:
        assert response.status in VALID, (response.status, response.body)
        if response.body:
            json.loads(response.body)
        assert response.header("access-control-allow-origin") == "*"
        if response.status == 201 and b"session_id" in response.body:
            self.sessions.append(json.loads(response.body)["session_id"])
        if response.status == 201 and b"presigned_id" in response.body:
            self.uploads.append(json.loads(response.body)["presigned_id"])

    @rule(secret=st.sampled_from([SECRET_A, SECRET_B, "rk_bogus"]),
          scoped=st.booleans())
    def mint(self, secret: str, scoped: bool) -> None:
        body = ({"authorization_details": [{"type": "session", "constraints": {
            "max_session_duration_seconds": 10}}], "expires_after": 30} if scoped else None)
        response = self.d.request("POST", "/tokens", headers=(("reactor-api-key", secret),),
                                  json_body=body)
        self.check(response)
        if response.status == 200:
            self.jwts.append(json.loads(response.body)["jwt"])

    def jwt(self, index: int) -> str:
        return self.jwts[index % len(self.jwts)] if self.jwts else "no.token.here"

    @rule(index=st.integers(0, 20))
    def create(self, index: int) -> None:
        self.check(self.d.create(self.jwt(index)))

    @rule(index=st.integers(0, 20), session=st.integers(0, 50), suffix=st.sampled_from(SUFFIXES),
          method=st.sampled_from(METHODS), body=BODIES, transport=st.booleans())
    def session_request(self, index: int, session: int, suffix: str, method: str,
                        body: bytes | None, transport: bool) -> None:
        sid = self.sessions[session % len(self.sessions)]
        self.check(self.d.request(method, f"/sessions/{sid}{suffix}", body=body,
                                  headers=self.d.auth(self.jwt(index), transport=transport)))

    @rule(upload=st.integers(0, 20), body=st.binary(max_size=8))
    def put_upload(self, upload: int, body: bytes) -> None:
        self.check(self.d.request("PUT", f"/uploads/{self.uploads[upload % len(self.uploads)]}",
                                  body=body))

    @rule(method=st.sampled_from(METHODS), path=st.text(max_size=30), body=BODIES,
          headers=st.lists(st.tuples(st.sampled_from(["authorization", "reactor-api-key",
                                                      "reactor-api-version", "host", "x"]),
                                     st.text(max_size=20)), max_size=3))
    def garbage(self, method: str, path: str, body: bytes | None,
                headers: list[tuple[str, str]]) -> None:
        self.check(self.d.request(method, "/" + path, body=body, headers=tuple(headers)))

    @rule(seconds=st.sampled_from([0.0, 0.3, 1.0, 5.0, 12.0, 45.0]))
    def wait(self, seconds: float) -> None:
        self.d.advance(seconds)
        deadline = self.d.machine.next_deadline()
        assert deadline is None or deadline > self.d.now

    @rule(slot=st.integers(0, 1), what=st.sampled_from(["connect", "orphan", "fail", "recover"]))
    def runtime_event(self, slot: int, what: str) -> None:
        if what == "connect":
            self.d.runtimes[slot].connect()
        elif what == "orphan":
            self.d.runtimes[slot].orphan_timeout()
        elif what == "fail":
            self.d.machine.runtime_failed(slot, self.d.now)
        else:
            self.d.machine.runtime_recovered(slot, self.d.now)

    @invariant()
    def no_internal_errors(self) -> None:
        assert not any(isinstance(e, InternalError) for e in self.d.events)

    def teardown(self) -> None:
        d = self.d
        for slot in range(2):
            d.machine.runtime_recovered(slot, d.now)
        d.advance(10.0)
        tokens = [d.token(SECRET_A), d.token(SECRET_B)]
        for sid in self.sessions:
            for jwt in tokens:
                response = d.delete(jwt, sid)
                for _ in range(5):  # the teardown's own burst of deletes may be rate limited
                    if response.status != 429:
                        break
                    d.advance(float(response.header("retry-after") or 1))
                    response = d.delete(jwt, sid)
                assert response.status in (200, 404)
        d.advance(100.0)
        empty: dict[str, Any] = {"sessions": 0, "queued": 0, "slots_held": 0, "uploads": 0,
                                 "rate_buckets": 0, "poll_timer": 0}
        assert d.machine.bookkeeping() == empty
        assert d.machine.next_deadline() is None
        assert not any(isinstance(e, InternalError) for e in d.events)


CoordinatorClient.TestCase.settings = settings(max_examples=60, stateful_step_count=40,
                                               deadline=None)
test_coordinator_adversarial_client = CoordinatorClient.TestCase
