"""Adversarial clients against the runtime machine (hypothesis), and requests fed through the
server HTTP framing whole, byte at a time and with trailing garbage."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from reactor_proto.http import HttpResponse, HttpServerConnection
from reactor_proto.runtime import InternalErrorOccurred, SessionState

from .runtime_harness import (
    ANSWER_SDP,
    BASE,
    OFFER_BODY,
    PING,
    Harness,
    command,
    control_request,
    notification,
    runtime,
)

VALID_STATUSES = {200, 201, 202, 204, 400, 404, 405, 409, 413, 422, 500, 503}
PATHS = [
    "/start_session", "/session", "/stop_session", "/health", f"{BASE}/ice_servers",
    f"{BASE}/connections", f"{BASE}/sdp_params", f"{BASE}/ice_candidates",
    "/sessions/local/uploads", "/sessions/other/uploads", "/uploads/x", "/nope",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8)
bodies = st.one_of(
    st.none(), st.binary(max_size=40), json_values.map(lambda v: json.dumps(v).encode()),
    st.just(json.dumps(OFFER_BODY).encode()),
    st.just(b'{"name": "a", "size": 3, "mime_type": "a/b"}'),
    st.just(b'{"candidates": [{"candidate": "c"}], "is_final": true}'))
messages = st.one_of(
    st.text(max_size=30), st.just(PING), st.just(runtime("requestSchema")),
    st.just(command("set_prompt", {"prompt": "x"})), st.just(command("nope", {})),
    json_values.map(json.dumps),
    st.just(control_request("publish_track", "webcam")),
    st.just(notification("unpublish_track", "webcam")),
    st.just(notification("resume_track", "main_video")))


class AdversarialClients(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.harness = Harness()
        self.known: list[int] = [1001, 4242]

    def check(self, status: int) -> None:
        assert status in VALID_STATUSES
        assert status != 500 or self.harness.machine.connections  # only answer failures
        assert not any(isinstance(e, InternalErrorOccurred) for e in self.harness.events)
        self.harness.take()

    @rule(method=st.sampled_from(["GET", "POST", "PUT", "OPTIONS", "DELETE"]),
          path=st.sampled_from(PATHS), body=bodies)
    def random_route(self, method: str, path: str, body: bytes | None) -> None:
        reply = self.harness.request(method, path, raw=body)
        if reply.status == 201 and "connection_id" in (reply.body or {}):
            self.known.append(reply.body["connection_id"])
        self.check(reply.status)

    @rule(index=st.integers(0, 20), method=st.sampled_from(["GET", "POST", "PUT"]),
          leaf=st.sampled_from(["sdp_params", "ice_candidates"]), body=bodies)
    def connection_route(self, index: int, method: str, leaf: str, body: bytes | None) -> None:
        cid = self.known[index % len(self.known)]
        reply = self.harness.request(method, f"{BASE}/connections/{cid}/{leaf}", raw=body)
        self.check(reply.status)

    @rule()
    def start(self) -> None:
        self.check(self.harness.start().status)

    @rule(index=st.integers(0, 20), answer=st.booleans())
    def adapter_finishes_negotiation(self, index: int, answer: bool) -> None:
        conn = self.harness.machine.connections.get(self.known[index % len(self.known)])
        if conn is None or not conn.awaiting_answer:
            return
        if answer:
            self.harness.answer(conn.connection_id, ANSWER_SDP)
        else:
            self.harness.machine.answer_failed(conn.connection_id, "failed", self.harness.now)

    @rule(index=st.integers(0, 20))
    def transport_connects(self, index: int) -> None:
        conn = self.harness.machine.connections.get(self.known[index % len(self.known)])
        if conn is not None and conn.answer is not None:
            self.harness.machine.transport_connected(conn.connection_id, self.harness.now)
            self.harness.take()

    @rule(index=st.integers(0, 20))
    def transport_closes(self, index: int) -> None:
        self.harness.machine.transport_closed(self.known[index % len(self.known)],
                                              self.harness.now)
        self.harness.take()

    @rule(index=st.integers(0, 20), text=messages, control=st.booleans())
    def channel_message(self, index: int, text: str, control: bool) -> None:
        cid = self.known[index % len(self.known)]
        if control:
            self.harness.control(cid, text)
        else:
            self.harness.data(cid, text)
        assert not any(isinstance(e, InternalErrorOccurred) for e in self.harness.events)
        self.harness.take()

    @rule(seconds=st.floats(0, 40))
    def time_passes(self, seconds: float) -> None:
        self.harness.advance(seconds)
        deadline = self.harness.machine.next_deadline()
        assert deadline is None or deadline > self.harness.now
        self.harness.take()

    @precondition(lambda self: self.harness.machine.state is not SessionState.CREATED)
    @rule()
    def everyone_leaves_and_grace_passes(self) -> None:
        machine = self.harness.machine
        for conn in list(machine.connections):
            machine.transport_closed(conn.connection_id, self.harness.now)
        self.harness.run_until(self.harness.now + 61.0)
        self.harness.take()
        assert machine.state is SessionState.READY
        assert len(machine.connections) == 0
        assert machine.slots == {}
        assert len(machine.uploads) == 0
        assert machine.next_deadline() is None
        assert machine.orphan_deadline is None

    @invariant()
    def bookkeeping_is_consistent(self) -> None:
        machine = self.harness.machine
        if machine.state not in (SessionState.WAITING, SessionState.STREAMING,
                                 SessionState.ORPHANED):
            assert len(machine.connections) == 0
            assert len(machine.uploads) == 0
        installed = machine.connected_users()
        assert (installed > 0) == (machine.state is SessionState.STREAMING)
        assert set(machine.slots.values()) <= {c.connection_id for c in machine.connections}


TestAdversarialClients = AdversarialClients.TestCase
TestAdversarialClients.settings = settings(max_examples=60, stateful_step_count=40,
                                           deadline=None)


# ---- through the server framing -------------------------------------------------------------


def serve(data: bytes, chunk: int | None) -> list[int]:
    """Feed request bytes to HttpServerConnection (whole or in chunks) and the machine."""
    harness = Harness()
    harness.start()
    connection = HttpServerConnection()
    statuses: list[int] = []
    pieces = [data] if chunk is None else [data[i:i + chunk] for i in range(0, len(data), chunk)]
    for piece in [*pieces, b""]:
        got = connection.receive(piece)
        while got is not None:
            if isinstance(got, HttpResponse):
                statuses.append(got.status)
                return statuses
            response = harness.machine.handle_request(got, harness.now)
            statuses.append(response.status)
            connection.send(response)
            if not connection.keep_alive:
                return statuses
            connection.start_next_cycle()
            got = connection.poll()
    return statuses


def raw_request(method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: localhost:8080\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


REQUESTS = [
    raw_request("POST", "/start_session", b"{}"),
    raw_request("GET", "/session"),
    raw_request("POST", f"{BASE}/connections"),
    raw_request("POST", f"{BASE}/sdp_params", json.dumps(OFFER_BODY).encode()),
    raw_request("POST", "/sessions/local/uploads", b'{"name":"a","size":1,"mime_type":"a/b"}'),
    raw_request("OPTIONS", f"{BASE}/connections"),
]


def test_requests_whole_bytewise_and_with_trailing_garbage() -> None:
    for data in REQUESTS:
        whole = serve(data, None)
        assert whole == serve(data, 1)
        assert whole[0] in {200, 201, 202, 204}
        garbage = serve(data + b"\x00garbage\r\n\r\n", None)
        assert garbage[0] == whole[0]
        assert all(s in VALID_STATUSES | {431} for s in garbage)
    pipelined = b"".join(REQUESTS)
    assert serve(pipelined, None) == serve(pipelined, 7) == [200, 200, 201, 202, 201, 204]


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(REQUESTS))
def test_arbitrary_bytes_never_raise(noise: bytes, prefix: bytes) -> None:
    for data in (noise, prefix + noise, prefix[: len(noise) % (len(prefix) + 1)] + noise):
        statuses = serve(data, None)
        assert all(100 <= s <= 599 and s != 500 for s in statuses)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["GET", "POST", "PUT"]), st.sampled_from(PATHS),
                          bodies), max_size=8))
def test_route_sequences_answer_valid_statuses(calls: list[tuple[str, str, Any]]) -> None:
    harness = Harness()
    for method, path, body in calls:
        reply = harness.request(method, path, raw=body)
        assert reply.status in VALID_STATUSES
        assert reply.status != 500
        assert reply.response.header("access-control-allow-origin") == "*"
    harness.collect()
    assert not any(isinstance(e, InternalErrorOccurred) for e in harness.events)


def test_fuzz_regression_nul_request_line() -> None:
    # fuzz/harness_runtime_routes: a NUL request line is refused with 400 whole or split.
    assert serve(b"\x00\n\n", None) == serve(b"\x00\n\n", 1) == [400]
