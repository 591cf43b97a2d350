"""Parts of the paired-connection harness (:mod:`.paired`): the constants, the fixtures (SDPs,
a Helios-like model, server answers), :class:`ScriptedServer`, the scripted :class:`Faults`,
the :class:`Stepped` proxies, and the client side (:class:`Endpoint`, :class:`FakePeer`)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from reactor_proto.client import (
    ClientConfig,
    ClientEvent,
    ClientMachine,
    Deadlines,
    OperationCompleted,
    Phase,
    PrepareSparePeer,
    SendChannel,
    SendHttp,
)
from reactor_proto.constants import ORPHAN_TIMEOUT, SERVER_PING_CHECK_PERIOD, SERVER_PING_TIMEOUT
from reactor_proto.http import HttpRequest, HttpResponse
from reactor_proto.runtime import (
    RuntimeMachine,
)
from reactor_proto.runtime.config import DEFAULT_NEGOTIATION_TIMEOUT

if TYPE_CHECKING:
    from .paired import Paired

KEY = "rk_live_depth_property_key_01"
#: Longest one-way delay of any leg (HTTP request, response, SDP step, channel message).
MAX_LEG = 2.0
#: The documented upper bound of one connect (or reconnect): every phase deadline added up.
CONNECT_BOUND = sum(float(v) for v in attrs.asdict(Deadlines()).values())
ORPHAN = ORPHAN_TIMEOUT
#: Long enough for the runtime to notice a silent client: a connection that never came up
#: (negotiation deadline), or one that stopped pinging (watchdog), plus one check period.
NEGOTIATION_SLACK = DEFAULT_NEGOTIATION_TIMEOUT + SERVER_PING_TIMEOUT + SERVER_PING_CHECK_PERIOD
# ---- fixtures: SDPs, the model, server answers ------------------------------------------------

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


def path_of(request: HttpRequest) -> str:
    return "/" + request.url.split("://", 1)[-1].partition("/")[2].split("?")[0]


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
        path = path_of(request)
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


# ---- scripted faults ------------------------------------------------------------------------

#: What a fault rule can match: ``http`` (a response, matched on "METHOD /path"), ``up``
#: (client -> runtime channel message) and ``down`` (runtime -> client), both matched on
#: "channel text".
KINDS = ("http", "up", "down")


@attrs.define
class Rule:
    kind: str
    effect: str
    contains: str
    times: int
    seconds: float = 0.0


class Faults:
    """Scripted faults: each rule hits the next ``times`` crossings of its kind whose
    description contains ``contains``; the first matching rule wins."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.fired: list[tuple[str, str, str]] = []

    def _add(self, kind: str, effect: str, contains: str, times: int, seconds: float) -> None:
        assert kind in KINDS, kind
        self.rules.append(Rule(kind=kind, effect=effect, contains=contains, times=times,
                               seconds=seconds))

    def drop(self, kind: str, contains: str = "", *, times: int = 1) -> None:
        self._add(kind, "drop", contains, times, 0.0)

    def delay(self, kind: str, seconds: float, contains: str = "", *, times: int = 1) -> None:
        self._add(kind, "delay", contains, times, seconds)

    def duplicate(self, kind: str, contains: str = "", *, times: int = 1) -> None:
        self._add(kind, "duplicate", contains, times, 0.0)

    def plan(self, kind: str, what: str) -> tuple[float, ...]:
        """Extra delays of the copies to deliver: () drops, two entries duplicate."""
        for rule in self.rules:
            if rule.kind == kind and rule.times > 0 and rule.contains in what:
                rule.times -= 1
                self.fired.append((kind, rule.effect, what))
                if rule.effect == "drop":
                    return ()
                if rule.effect == "duplicate":
                    return (0.0, 0.0)
                return (rule.seconds,)
        return (0.0,)


# ---- stepped machines: every input is one step ----------------------------------------------


def _inputs_of(cls: type) -> frozenset[str]:
    """A machine's inputs: its public methods that take ``now``."""
    names = set()
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if not name.startswith("_") and "now" in inspect.signature(member).parameters:
            names.add(name)
    return frozenset(names)


CLIENT_INPUTS = _inputs_of(ClientMachine)
RUNTIME_INPUTS = _inputs_of(RuntimeMachine)


class Stepped:
    """A machine as a test drives it: each input is a step (see the module docstring).
    Everything else (properties, queries, private state) reads through unchanged."""

    def __init__(self, raw: Any, inputs: frozenset[str], net: Paired) -> None:
        object.__setattr__(self, "_raw", raw)
        object.__setattr__(self, "_inputs", inputs)
        object.__setattr__(self, "_net", net)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._raw, name)
        if name not in self._inputs:
            return value
        net = self._net

        def step(*args: Any, **kwargs: Any) -> Any:
            if net.pumping:  # called from inside the network: the running pump goes on
                return value(*args, **kwargs)
            net.assert_drained()
            try:
                return value(*args, **kwargs)
            finally:
                net.pump()

        return step


# ---- the client side ------------------------------------------------------------------------


@attrs.define
class FakePeer:
    peer_id: int
    tracks: list[str]
    closed: bool = False
    answer: str | None = None


class Endpoint:
    """One client machine and what the network knows about it and its peer connections."""

    def __init__(self, net: Paired, raw: ClientMachine, name: str, *, auto_http: bool,
                 auto_peer: bool) -> None:
        self.net = net
        self.raw = raw
        self.client: Any = Stepped(raw, CLIENT_INPUTS, net)
        self.name = name
        #: False: requests stay in ``inflight`` until the test answers them itself.
        self.auto_http = auto_http
        #: False: the test plays the peer connection (offer, answer, states, channels).
        self.auto_peer = auto_peer
        self.events: list[ClientEvent] = []
        self.statuses: list[str] = []
        self.results: dict[int, OperationCompleted] = {}
        self.inflight: dict[int, SendHttp] = {}
        self.cancelled: list[int] = []
        self.requests: list[HttpRequest] = []
        self.peers: dict[int, FakePeer] = {}
        self.sent: list[SendChannel] = []
        self.attached: list[str] = []
        self.detached: list[str] = []
        #: client peer -> (runtime connection id, negotiation id)
        self.peer_to_link: dict[int, tuple[int, int]] = {}
        self.open_at: dict[tuple[int, str], float] = {}
        self.fifo: dict[tuple[str, int, str], float] = {}
        self.vanished = False
        self.publish_ops: list[int] = []
        #: spare peers asked for (PrepareSparePeer), discards (DiscardSparePeer), and whether
        #: the adapter would hold one now (until the next CreatePeer or DiscardSparePeer)
        self.spares: list[PrepareSparePeer] = []
        self.spare_discards = 0
        self.spare_held = False

    # -- the test's view -------------------------------------------------------------------

    @property
    def machine(self) -> Any:
        return self.client

    @property
    def config(self) -> ClientConfig:
        return self.raw.config

    @property
    def server(self) -> ScriptedServer:
        assert self.net.scripted is not None, "not a scripted-server harness"
        return self.net.scripted

    @property
    def now(self) -> float:
        return self.net.now

    @now.setter
    def now(self, value: float) -> None:
        self.net.now = value

    def phase(self) -> Phase:
        """The client's phase (a call, so that type checkers do not narrow it across steps)."""
        return self.raw.phase

    def pump(self) -> None:
        self.net.pump()

    collect = pump

    def perform(self, action: object) -> None:
        self.net.perform_client(self, action)

    def advance(self, seconds: float) -> None:
        self.net.run(seconds)

    def run_until(self, predicate: Callable[[], bool], limit: float = 600.0) -> None:
        if not self.net.run(limit, stop=predicate):
            raise AssertionError("condition not reached before the time limit")

    def connect(self, **kwargs: Any) -> int:
        op: int = self.client.connect(self.now, **kwargs)
        return op

    def completed(self, op: int) -> OperationCompleted | None:
        return self.results.get(op)

    done = completed

    def result(self, op: int) -> OperationCompleted:
        """The completion of ``op``, which must have completed."""
        done = self.results.get(op)
        assert done is not None, f"op {op} did not complete"
        return done

    def of_type(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def channel_texts(self, channel: str) -> list[dict[str, Any]]:
        return [json.loads(s.text) for s in self.sent if s.channel == channel]

    def paths(self) -> list[str]:
        return [f"{r.method} /{r.url.split('://', 1)[-1].partition('/')[2]}"
                for r in self.requests]

    def current_peer(self) -> int:
        peer = self.raw.peer_id
        assert peer is not None
        return peer

    def cid(self) -> int | None:
        peer = self.raw.peer_id
        link = None if peer is None else self.peer_to_link.get(peer)
        return None if link is None else link[0]

    def publishing(self) -> bool:
        return "webcam" in self.raw.published_tracks and self.raw.phase is Phase.READY

    def open_peer(self, peer: int) -> bool:
        known = self.peers.get(peer)
        return known is not None and not known.closed and not self.vanished

    def ordered(self, key: tuple[str, int, str], earliest: float) -> float:
        """Delivery time on an ordered channel: never before an earlier message."""
        at = max(earliest, self.fifo.get(key, 0.0))
        self.fifo[key] = at
        return at
