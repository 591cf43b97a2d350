"""A fake network for property tests: the real client, runtime and coordinator machines on one
fake clock, with every wire crossing delayed at random within the protocol's timing.

Delivery rules (what makes a schedule LEGAL): each leg (HTTP request, HTTP response, an SDP
step, a channel message) takes at most ``MAX_LEG`` seconds; channels are ordered (SCTP);
nothing arrives on a channel before it is open, nor at a peer that was closed; a request the
client cancelled may still reach the server (its answer is not delivered).  Independent
events (the two channels opening, each end's view of the transport) are ordered at random.
"""

from __future__ import annotations

import heapq
import itertools
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
    ClientMachine,
    ClosePeer,
    CreatePeer,
    Deadlines,
    DetachTrack,
    OperationCompleted,
    Phase,
    SendChannel,
    SendHttp,
)
from reactor_proto.constants import ORPHAN_TIMEOUT, SERVER_PING_CHECK_PERIOD, SERVER_PING_TIMEOUT
from reactor_proto.coordinator import ApiKey, CoordinatorConfig
from reactor_proto.http import HttpRequest, HttpResponse
from reactor_proto.runtime import (
    CloseTransport,
    CreateAnswer,
    RuntimeConfig,
    RuntimeMachine,
    SendControl,
    SendData,
    SessionState,
    SetInputFlow,
    SetOutputFlow,
)
from reactor_proto.runtime.config import DEFAULT_NEGOTIATION_TIMEOUT
from reactor_proto.schema import parse_openapi

from .client_harness import HELIOS_LIKE_SCHEMA, OFFER_SDP, answer_sdp
from .coordinator_harness import PairedCoordinator, Served

KEY = "rk_live_depth_property_key_01"
#: Longest one-way delay of any leg (HTTP request, response, SDP step, channel message).
MAX_LEG = 2.0
#: The documented upper bound of one connect (or reconnect): every phase deadline added up.
CONNECT_BOUND = sum(float(v) for v in attrs.asdict(Deadlines()).values())
ORPHAN = ORPHAN_TIMEOUT
#: Long enough for the runtime to notice a silent client: a connection that never came up
#: (negotiation deadline), or one that stopped pinging (watchdog), plus one check period.
NEGOTIATION_SLACK = DEFAULT_NEGOTIATION_TIMEOUT + SERVER_PING_TIMEOUT + SERVER_PING_CHECK_PERIOD


def leg(rnd: random.Random) -> float:
    """A one-way delay: mostly short, sometimes near the bound, sometimes zero."""
    return rnd.choice((0.0, 0.001, 0.02, 0.2, 1.0, MAX_LEG)) * rnd.random()


class Endpoint:
    """One client machine and what the network knows about its peer connections."""

    def __init__(self, net: Net, client: ClientMachine, name: str) -> None:
        self.net = net
        self.client = client
        self.name = name
        self.peer_to_cid: dict[int, int] = {}
        self.closed_peers: set[int] = set()
        self.cancelled: set[int] = set()
        self.open_at: dict[tuple[int, str], float] = {}
        self.fifo: dict[tuple[str, int, str], float] = {}
        self.completed: dict[int, OperationCompleted] = {}
        self.vanished = False
        self.publish_ops: list[int] = []

    def phase(self) -> Phase:
        """The client's phase (a call, so that type checkers do not narrow it across steps)."""
        return self.client.phase

    def done(self, op: int) -> OperationCompleted | None:
        return self.completed.get(op)

    def cid(self) -> int | None:
        peer = self.client.peer_id
        return None if peer is None else self.peer_to_cid.get(peer)

    def publishing(self) -> bool:
        return "webcam" in self.client.published_tracks and self.client.phase is Phase.READY

    def ordered(self, key: tuple[str, int, str], earliest: float) -> float:
        """Delivery time on an ordered channel: never before an earlier message."""
        at = max(earliest, self.fifo.get(key, 0.0))
        self.fifo[key] = at
        return at


class Net:
    """The shared clock, the event queue and the delivery rules."""

    def __init__(self, rnd: random.Random, *, front: bool = False, orphan: float = ORPHAN,
                 max_session: float | None = None) -> None:
        self.rnd = rnd
        self.now = 0.0
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        config = RuntimeConfig(model_name="helios",
                               model_schema=parse_openapi(HELIOS_LIKE_SCHEMA),
                               orphan_timeout=orphan)
        self.runtime = RuntimeMachine(config, rng=random.Random(rnd.random()))
        self.front: PairedCoordinator | None = None
        if front:
            self.front = PairedCoordinator(
                CoordinatorConfig(api_keys=(ApiKey(key_id="k1", secret=KEY),),
                                  model_name="helios", max_session_seconds=max_session,
                                  closed_retention=5.0),
                [Served(self.runtime.handle_request)], rng=random.Random(9))
        self.endpoints: list[Endpoint] = []
        self.cid_to_endpoint: dict[int, tuple[Endpoint, int]] = {}
        self.slot_grants: list[tuple[float, int]] = []
        self.checks: list[Callable[[], None]] = []

    # ---- setup ------------------------------------------------------------------------------

    def add_client(self, **options: Any) -> Endpoint:
        name = f"c{len(self.endpoints)}"
        if self.front is None:
            config = ClientConfig.create("helios", local=True, **options)
        else:
            config = ClientConfig.create("helios", api_key=KEY,
                                         api_url="https://api.example.test", **options)
        endpoint = Endpoint(self, ClientMachine(config, rng=random.Random(self.rnd.random())),
                            name)
        self.endpoints.append(endpoint)
        return endpoint

    # ---- scheduling -------------------------------------------------------------------------

    def at(self, when: float, call: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (max(when, self.now), next(self._seq), call))

    def after(self, delay: float, call: Callable[[], None]) -> None:
        self.at(self.now + delay, call)

    def _deadlines(self) -> list[float]:
        times = [e.client.next_deadline() for e in self.endpoints if not e.vanished]
        times += [self.runtime.next_deadline(),
                  self.front.next_deadline() if self.front is not None else None]
        return [t for t in times if t is not None]

    def run(self, seconds: float, stop: Callable[[], bool] = lambda: False) -> bool:
        """Advance up to ``seconds``; True when ``stop()`` became true on the way."""
        end = self.now + seconds
        self.pump()
        for _ in range(200_000):
            if stop():
                return True
            candidates = self._deadlines()
            if self._queue:
                candidates.append(self._queue[0][0])
            if not candidates or min(candidates) > end:
                self.now = end
                return stop()
            self.now = max(self.now, min(candidates))
            while self._queue and self._queue[0][0] <= self.now:
                heapq.heappop(self._queue)[2]()
                self.pump()
            for endpoint in self.endpoints:
                if not endpoint.vanished:
                    endpoint.client.handle_timeout(self.now)
            self.runtime.handle_timeout(self.now)
            if self.front is not None:
                self.front.handle_timeout(self.now)
            self.pump()
        clients = [(e.client.phase, e.client.next_deadline()) for e in self.endpoints]
        raise AssertionError(f"the schedule never settles: now={self.now} {clients} "
                             f"runtime={self.runtime.next_deadline()} queue={self._queue[:1]}")

    def pump(self) -> None:
        for _ in range(1000):
            progressed = False
            for endpoint in self.endpoints:
                progressed |= self._client_step(endpoint)
            progressed |= self._runtime_step()
            if self.front is not None:
                while self.front.next_event() is not None:
                    progressed = True
            for check in self.checks:
                check()
            if not progressed:
                return
        raise AssertionError("no quiescence")

    # ---- client side ------------------------------------------------------------------------

    def _client_step(self, e: Endpoint) -> bool:
        progressed = False
        while (action := e.client.next_action()) is not None:
            progressed = True
            if not e.vanished:
                self._perform_client(e, action)
        while (event := e.client.next_event()) is not None:
            progressed = True
            if isinstance(event, OperationCompleted):
                e.completed[event.op] = event
        return progressed

    def serve(self, request: HttpRequest) -> HttpResponse:
        if self.front is not None:
            return self.front.handle_http(request, self.now)
        return self.runtime.handle_request(request, self.now)

    def _perform_client(self, e: Endpoint, action: object) -> None:
        rnd = self.rnd
        if isinstance(action, SendHttp):
            self.after(leg(rnd), lambda: self._arrive(e, action))
        elif isinstance(action, CancelHttp):
            e.cancelled.add(action.request_id)
        elif isinstance(action, CreatePeer):
            mids = {t.name: str(i) for i, t in enumerate(action.tracks)}
            offer = OFFER_SDP.replace("cli1", f"cli{action.peer_id}")
            self.after(leg(rnd), lambda: self._if_peer(
                e, action.peer_id, lambda: e.client.offer_created(action.peer_id, offer, mids,
                                                                  self.now)))
        elif isinstance(action, ApplyAnswer):
            self.after(leg(rnd), lambda: self._applied(e, action))
        elif isinstance(action, SendChannel):
            cid = e.peer_to_cid[action.peer_id]
            at = e.ordered(("up", action.peer_id, action.channel), self.now + leg(rnd))
            deliver = (self.runtime.control_message if action.channel == "control"
                       else self.runtime.data_message)
            self.at(at, lambda: self._if_peer(
                e, action.peer_id, lambda: deliver(cid, action.text, self.now)))
        elif isinstance(action, ClosePeer):
            e.closed_peers.add(action.peer_id)
            closing = e.peer_to_cid.get(action.peer_id)
            if closing is not None:
                self.after(leg(rnd), lambda: self.runtime.transport_closed(closing, self.now))
        elif not isinstance(action, AttachTrack | DetachTrack):
            raise AssertionError(action)

    def _if_peer(self, e: Endpoint, peer: int, call: Callable[[], None]) -> None:
        if peer not in e.closed_peers and not e.vanished:
            call()

    def _arrive(self, e: Endpoint, action: SendHttp) -> None:
        if e.vanished:
            return
        # The request reaches the server even when the client has given up on it since.
        response = self.serve(action.request)
        rid = action.request_id

        def back() -> None:
            if rid not in e.cancelled and not e.vanished:
                e.client.http_response(rid, response, self.now)

        self.after(leg(self.rnd), back)

    def _applied(self, e: Endpoint, action: ApplyAnswer) -> None:
        peer = action.peer_id
        if peer in e.closed_peers or e.vanished:
            return
        e.client.answer_applied(peer, self.now)
        cid = next(int(line.rsplit("-", 1)[1]) for line in action.sdp.splitlines()
                   if line.startswith("a=ice-ufrag:srv-"))
        e.peer_to_cid[peer] = cid
        self.cid_to_endpoint[cid] = (e, peer)
        self.after(leg(self.rnd), lambda: self._if_peer(e, peer, lambda: self._up(e, peer, cid)))

    def _up(self, e: Endpoint, peer: int, cid: int) -> None:
        """ICE/DTLS/SCTP come up, if the runtime still has its end of the connection: the
        runtime sees it first, then the client sees its state and its two channels open, in a
        random order.  If the runtime dropped it meanwhile, the client's ICE fails instead."""
        if cid not in self.runtime.connections:
            self.after(leg(self.rnd) * 5, lambda: self._if_peer(
                e, peer, lambda: e.client.peer_state(peer, "failed", self.now)))
            return
        self.runtime.transport_connected(cid, self.now)
        connected = self.now + leg(self.rnd)
        self.at(connected, lambda: self._if_peer(
            e, peer, lambda: e.client.peer_state(peer, "connected", self.now)))
        for label in ("control", "data"):
            opened = connected + leg(self.rnd)
            e.open_at[(peer, label)] = opened
            self.at(opened, lambda label=label: self._if_peer(  # type: ignore[misc]
                e, peer, lambda: e.client.channel_opened(peer, label, self.now)))

    def drop(self, e: Endpoint) -> None:
        """A recoverable network failure: both ends see the transport go, in either order."""
        peer = e.client.peer_id
        if peer is None or peer not in e.peer_to_cid:
            return
        cid = e.peer_to_cid[peer]
        self.after(leg(self.rnd), lambda: self._if_peer(
            e, peer, lambda: e.client.peer_state(peer, "failed", self.now)))
        self.after(leg(self.rnd), lambda: self.runtime.transport_closed(cid, self.now))

    def vanish(self, e: Endpoint, *, transport_noticed: bool) -> None:
        """The client process dies: nothing more from or to it; the runtime may notice."""
        e.vanished = True
        if transport_noticed:
            for cid in e.peer_to_cid.values():
                self.after(leg(self.rnd) * 10, lambda cid=cid: (  # type: ignore[misc]
                    self.runtime.transport_closed(cid, self.now)))

    # ---- runtime side -----------------------------------------------------------------------

    def _runtime_step(self) -> bool:
        progressed = False
        while (action := self.runtime.next_action()) is not None:
            progressed = True
            self._perform_runtime(action)
        while self.runtime.next_event() is not None:
            progressed = True
        return progressed

    def _perform_runtime(self, action: object) -> None:
        rt = self.runtime
        if isinstance(action, CreateAnswer):
            cid, negotiation = action.connection_id, action.negotiation_id
            self.after(leg(self.rnd), lambda: rt.answer_created(
                cid, answer_sdp(f"srv-{cid}"), self.now, negotiation_id=negotiation))
        elif isinstance(action, SendData | SendControl):
            if isinstance(action, SendControl):
                self._note_grant(action)
            target = self.cid_to_endpoint.get(action.connection_id)
            if target is None:
                return
            e, peer = target
            label = "data" if isinstance(action, SendData) else "control"
            earliest = max(self.now + leg(self.rnd), e.open_at.get((peer, label), 0.0))
            at = e.ordered(("down", peer, label), earliest)
            self.at(at, lambda: self._if_peer(
                e, peer, lambda: e.client.channel_message(peer, label, action.text, self.now)))
        elif isinstance(action, CloseTransport):
            target = self.cid_to_endpoint.get(action.connection_id)
            if target is not None:
                e, peer = target
                how = self.rnd.choice(("peer_closed", "data_closed"))
                self.after(leg(self.rnd), lambda: self._if_peer(e, peer, lambda: (
                    e.client.peer_state(peer, "closed", self.now) if how == "peer_closed"
                    else e.client.channel_closed(peer, "data", self.now))))
        elif not isinstance(action, SetOutputFlow | SetInputFlow):
            pass  # ICE candidates and teardown have no counterpart in this fake network

    def _note_grant(self, action: SendControl) -> None:
        """Each successful publish_track answer is sent while the slot is the asker's."""
        try:
            message = json.loads(action.text)
        except ValueError:
            return
        if (isinstance(message, dict) and message.get("type") == "response"
                and message.get("method") == "publish_track" and "error" not in message):
            assert self.runtime.slots.get("webcam") == action.connection_id, message
            self.slot_grants.append((self.now, action.connection_id))

    # ---- what "all gone" means ----------------------------------------------------------------

    def assert_runtime_empty(self) -> None:
        rt = self.runtime
        assert rt.state is SessionState.READY, rt.state
        assert len(rt.connections) == 0
        assert rt.slots == {}
        assert len(rt.uploads) == 0
        assert rt.orphan_deadline is None
        assert rt.next_deadline() is None

    def assert_front_empty(self) -> None:
        assert self.front is not None
        assert self.front.bookkeeping() == {"sessions": 0, "queued": 0, "slots_held": 0,
                                            "uploads": 0, "rate_buckets": 0, "poll_timer": 0}
        assert self.front.next_deadline() is None
