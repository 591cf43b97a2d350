"""An in-memory driver for the client machine: fake clock, scripted server, fake peer.

The scripted server answers like the official local runtime (or coordinator) by default;
tests override single routes with ``server.on(method, path_suffix, responder)``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import attrs

from reactor_proto.client import (
    ApplyAnswer,
    AttachTrack,
    CancelHttp,
    ClientConfig,
    ClientEvent,
    ClientMachine,
    ClosePeer,
    CreatePeer,
    DetachTrack,
    OperationCompleted,
    SendChannel,
    SendHttp,
    StatusChanged,
)
from reactor_proto.client.phases import STATUS_EDGES
from reactor_proto.http import HttpRequest, HttpResponse

CRLF = "\r\n"


def answer_sdp(ufrag: str = "srv1", *, max_message: int | None = 262144) -> str:
    lines = [
        "v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
        "a=fingerprint:sha-256 AA:BB:CC", "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "c=IN IP4 127.0.0.1", "a=mid:0", f"a=ice-ufrag:{ufrag}",
        "a=ice-pwd:abcdefghijklmnopqrstuvwx", "a=sendonly", "a=rtcp-mux",
        "a=rtpmap:96 VP8/90000",
        "a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "c=IN IP4 127.0.0.1", "a=mid:1",
        "a=sctp-port:5000",
    ]
    if max_message is not None:
        lines.append(f"a=max-message-size:{max_message}")
    return CRLF.join(lines) + CRLF


OFFER_SDP = answer_sdp("cli1").replace("a=sendonly", "a=recvonly")

TRACKS = [{"name": "main_video", "kind": "video", "direction": "recvonly"},
          {"name": "webcam", "kind": "video", "direction": "sendonly"}]

HELIOS_LIKE_SCHEMA = {
    "openapi": "3.1.0",
    "info": {"title": "helios", "version": "v1.0.0", "description": ""},
    "x-reactor": {"tracks": [{"name": "webcam", "kind": "video", "direction": "in"},
                             {"name": "main_video", "kind": "video", "direction": "out"}]},
    "paths": {
        "/events/schedule_prompt": {"post": {
            "operationId": "schedule_prompt", "summary": "Schedule a prompt",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {"prompt": {"type": "string"},
                               "chunk": {"type": "integer", "minimum": 0}},
                "required": ["prompt", "chunk"]}}}},
            "responses": {"202": {"description": "Event accepted"}}}},
        "/events/start": {"post": {
            "operationId": "start", "summary": "Start",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {}}}}},
            "responses": {"202": {"description": "Event accepted"}}}},
    },
    "webhooks": {},
    "components": {"schemas": {}},
}


def descriptor(state: str = "WAITING", *, schema: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "session_id": "local", "cluster": "local", "state": state,
        "server_info": {"server_version": "2.10.1"},
        "selected_transport": {"protocol": "webrtc", "version": "1.0"},
        "model": {"name": "helios"},
        "capabilities": {"protocol_version": "0.0.0", "tracks": TRACKS, "commands": [],
                         "emission_fps": None},
    }
    if schema:
        body["schema"] = HELIOS_LIKE_SCHEMA
    return body


def reply(status: int, body: Any = None, headers: tuple[tuple[str, str], ...] = ()) -> HttpResponse:
    raw = b"" if body is ... else json.dumps(body).encode()
    return HttpResponse(status=status, headers=(("content-type", "application/json"), *headers),
                        body=raw)


Responder = Callable[[HttpRequest], "HttpResponse | None"]


class ScriptedServer:
    """Answers the routes of a local runtime and of a coordinator; None = never answers."""

    def __init__(self) -> None:
        self.overrides: list[tuple[str, str, Responder]] = []
        self.answer_after_polls = 0
        self.answer_polls = 0
        self.answer_ufrag: str | None = None  # None: a fresh ufrag per connection id
        self.session_polls_until_ready = 0
        self.session_polls = 0
        self.requests: list[HttpRequest] = []
        self.connection_ids = iter(range(4821, 9999))

    def on(self, method: str, suffix: str, responder: Responder) -> None:
        self.overrides.insert(0, (method, suffix, responder))

    def handle(self, request: HttpRequest) -> HttpResponse | None:
        self.requests.append(request)
        path = request.url.split("://", 1)[-1].partition("/")[2]
        path = "/" + path.split("?")[0]
        for method, suffix, responder in self.overrides:
            if request.method == method and path.endswith(suffix):
                return responder(request)
        return self.default(request.method, path)

    def default(self, method: str, path: str) -> HttpResponse | None:
        if path == "/start_session":
            return reply(200, descriptor())
        if path == "/session":
            return reply(200, descriptor("STREAMING"))
        if path == "/stop_session":
            return reply(200, None)
        if path == "/tokens":
            return reply(200, {"jwt": "jwt-1"})
        if path == "/sessions" and method == "POST":
            return reply(201, {"session_id": "s-1", "model": {"name": "helios"},
                               "state": "CREATED"})
        if path.endswith("/ice_servers"):
            return reply(200, {"ice_servers": []})
        if path.endswith("/connections"):
            return reply(201, {"connection_id": next(self.connection_ids)})
        if path.endswith("/sdp_params") and method in ("POST", "PUT"):
            return reply(202, {"connection_id": 4821})
        if path.endswith("/sdp_params") and method == "GET":
            self.answer_polls += 1
            if self.answer_polls <= self.answer_after_polls:
                return reply(202, None)
            cid = path.split("/connections/")[-1].split("/")[0]
            ufrag = self.answer_ufrag or f"srv1-{cid}"
            return reply(200, {"sdp_answer": answer_sdp(ufrag), "connection_id": int(cid)})
        if path.endswith("/uploads") and method == "POST":
            return reply(201, {"presigned_id": "3f0c9c3e-1111-4222-8333-444455556666",
                               "presigned_url": "http://localhost:8080/uploads/3f0c9c3e-1111-"
                                                "4222-8333-444455556666",
                               "path": "sessions/local/uploads/x/photo.png"})
        if path.startswith("/uploads/") and method == "PUT":
            return reply(200, None)
        if path.startswith("/sessions/") and method == "GET":
            self.session_polls += 1
            body: dict[str, Any] = {"session_id": "s-1", "state": "PENDING",
                                    "model": {"name": "helios"}}
            if self.session_polls > self.session_polls_until_ready:
                body = descriptor("WAITING", schema=False) | {"session_id": "s-1"}
            return reply(200, body)
        if path.startswith("/sessions/") and method == "DELETE":
            return reply(200, None)
        return reply(404, {"detail": "Not Found"})


@attrs.define
class FakePeer:
    peer_id: int
    tracks: list[str]
    closed: bool = False
    answer: str | None = None


class Harness:
    """Runs the machine against the scripted server with instantaneous I/O by default."""

    def __init__(self, config: ClientConfig | None = None, *, server: ScriptedServer | None = None,
                 auto_peer: bool = True, auto_http: bool = True) -> None:
        self.config = config or ClientConfig(model_name="helios", local=True,
                                             api_url="http://localhost:8080")
        self.machine = ClientMachine(self.config, rng=random.Random(7))
        self.server = server or ScriptedServer()
        self.now = 0.0
        self.auto_peer = auto_peer
        self.auto_http = auto_http
        self.events: list[ClientEvent] = []
        self.inflight: dict[int, SendHttp] = {}
        self.cancelled: list[int] = []
        self.peers: dict[int, FakePeer] = {}
        self.sent: list[SendChannel] = []
        self.attached: list[str] = []
        self.detached: list[str] = []
        self.statuses: list[str] = []

    # -- pumping ----------------------------------------------------------------------------

    def pump(self) -> None:
        """Perform every queued action (repeatedly) and collect the events."""
        for _ in range(10_000):
            action = self.machine.next_action()
            if action is None:
                break
            self.perform(action)
        else:  # pragma: no cover - a runaway loop is a bug in the machine
            raise AssertionError("the machine produced actions forever")
        self.collect()

    def collect(self) -> None:
        while (event := self.machine.next_event()) is not None:
            if isinstance(event, StatusChanged):
                assert (event.previous, event.status) in STATUS_EDGES
                self.statuses.append(event.status.value)
            self.events.append(event)

    def perform(self, action: object) -> None:
        m = self.machine
        if isinstance(action, SendHttp):
            self.inflight[action.request_id] = action
            if self.auto_http:
                response = self.server.handle(action.request)
                if response is not None:
                    del self.inflight[action.request_id]
                    m.http_response(action.request_id, response, self.now)
        elif isinstance(action, CancelHttp):
            self.cancelled.append(action.request_id)
            self.inflight.pop(action.request_id, None)
        elif isinstance(action, CreatePeer):
            peer = FakePeer(peer_id=action.peer_id, tracks=[t.name for t in action.tracks])
            self.peers[action.peer_id] = peer
            if self.auto_peer:
                mids = {name: str(i) for i, name in enumerate(peer.tracks)}
                m.offer_created(action.peer_id, OFFER_SDP, mids, self.now)
        elif isinstance(action, ApplyAnswer):
            self.peers[action.peer_id].answer = action.sdp
            if self.auto_peer:
                m.answer_applied(action.peer_id, self.now)
                m.peer_state(action.peer_id, "connected", self.now)
                m.channel_opened(action.peer_id, "control", self.now)
                m.channel_opened(action.peer_id, "data", self.now)
        elif isinstance(action, SendChannel):
            self.sent.append(action)
        elif isinstance(action, AttachTrack):
            self.attached.append(action.track)
        elif isinstance(action, DetachTrack):
            self.detached.append(action.track)
        elif isinstance(action, ClosePeer):
            self.peers[action.peer_id].closed = True
        else:  # pragma: no cover
            raise AssertionError(f"unknown action {action!r}")

    def advance(self, seconds: float) -> None:
        """Move the fake clock forward, firing every timer on the way, in order."""
        end = self.now + seconds
        for _ in range(100_000):
            deadline = self.machine.next_deadline()
            if deadline is None or deadline > end:
                break
            self.now = max(self.now, deadline)
            self.machine.handle_timeout(self.now)
            self.pump()
        self.now = end

    def run_until(self, predicate: Callable[[], bool], limit: float = 600.0) -> None:
        end = self.now + limit
        while not predicate():
            deadline = self.machine.next_deadline()
            if deadline is None or deadline > end:
                raise AssertionError("condition not reached before the time limit")
            self.now = max(self.now, deadline)
            self.machine.handle_timeout(self.now)
            self.pump()

    # -- queries ------------------------------------------------------------------------------

    def completed(self, op: int) -> OperationCompleted | None:
        for event in self.events:
            if isinstance(event, OperationCompleted) and event.op == op:
                return event
        return None

    def of_type(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def channel_texts(self, channel: str) -> list[dict[str, Any]]:
        return [json.loads(s.text) for s in self.sent if s.channel == channel]

    def paths(self) -> list[str]:
        return [f"{r.method} /{r.url.split('://', 1)[-1].partition('/')[2]}"
                for r in self.server.requests]

    def connect(self, **kwargs: Any) -> int:
        op = self.machine.connect(self.now, **kwargs)
        self.pump()
        return op

    def current_peer(self) -> int:
        peer = self.machine.peer_id
        assert peer is not None
        return peer
