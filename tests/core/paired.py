"""The paired-connection harness: client machines wired to a server in memory, on one fake clock.

The server is either our runtime machine (optionally behind our coordinator machine), or a
:class:`ScriptedServer` that answers HTTP like the official runtime/coordinator and lets a test
override single routes.  Only the peer connection is simulated (offer/answer texts and the
"transport is up" signals); every HTTP request and channel message is produced by one machine
and consumed by the other as it would cross the wire.

Three rules make it strict, in the h11/aioquic spirit:

* **Every step drains every outbox.**  Tests drive the machines through :class:`Stepped`
  proxies (``endpoint.client``, ``paired.runtime``): each input (any public method taking
  ``now``) first checks that nothing was left queued by an earlier step, then the harness
  performs every action of every machine until the network is quiet, and checks again.  An
  action the harness does not know how to perform fails the test.
* **Actions are checked as they are performed**: no client action names a peer the client
  closed, and every public status change follows a documented edge.
* **The wire is scripted**: each leg (HTTP request, HTTP response, SDP step, channel message)
  takes zero seconds by default, or a random time up to ``MAX_LEG`` (``delays=True``, the
  property tests); :class:`Faults` drops, delays or duplicates chosen HTTP responses and
  channel messages.  Channels stay ordered (SCTP); nothing arrives on a channel before it is
  open, nor at a peer that was closed; a request the client cancelled may still reach the
  server (its answer is not delivered).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import random
from collections.abc import Callable, Iterator
from typing import Any

from reactor_proto.client import (
    ApplyAnswer,
    AttachTrack,
    CancelHttp,
    ClientConfig,
    ClientMachine,
    CreatePeer,
    DetachTrack,
    DiscardSparePeer,
    OperationCompleted,
    Phase,
    PrepareSparePeer,
    SendChannel,
    SendHttp,
    StatusChanged,
)
from reactor_proto.client import ClosePeer as ClientClosePeer
from reactor_proto.client.phases import STATUS_EDGES
from reactor_proto.coordinator import ApiKey, CoordinatorConfig
from reactor_proto.http import HttpRequest, HttpResponse
from reactor_proto.runtime import (
    AddIceCandidates,
    CloseTransport,
    CommandReceived,
    CreateAnswer,
    RuntimeConfig,
    RuntimeEvent,
    RuntimeMachine,
    SendControl,
    SendData,
    SessionState,
    SetInputFlow,
    SetOutputFlow,
    SwapPeer,
    TeardownSession,
)
from reactor_proto.runtime import ClosePeer as RuntimeClosePeer
from reactor_proto.schema import parse_openapi

from .coordinator_harness import PairedCoordinator, Served
from .paired_parts import (  # noqa: F401 - the harness's names, used from here by tests
    CLIENT_INPUTS,
    CONNECT_BOUND,
    CRLF,
    HELIOS_LIKE_SCHEMA,
    KEY,
    KINDS,
    MAX_LEG,
    NEGOTIATION_SLACK,
    OFFER_SDP,
    ORPHAN,
    RUNTIME_INPUTS,
    TRACKS,
    Endpoint,
    FakePeer,
    Faults,
    Rule,
    ScriptedServer,
    Stepped,
    _inputs_of,
    answer_sdp,
    descriptor,
    path_of,
    reply,
)

# ---- the network ----------------------------------------------------------------------------


def random_leg(rnd: random.Random) -> float:
    """A one-way delay: mostly short, sometimes near the bound, sometimes zero."""
    return rnd.choice((0.0, 0.001, 0.02, 0.2, 1.0, MAX_LEG)) * rnd.random()


def runtime_config(orphan: float = ORPHAN) -> RuntimeConfig:
    return RuntimeConfig(model_name="helios", model_schema=parse_openapi(HELIOS_LIKE_SCHEMA),
                         orphan_timeout=orphan)


class Paired:
    """The shared clock, the event queue, the server and the delivery rules.

    ``Paired()`` is the runtime machine; ``front=True`` puts the coordinator machine in front
    of it (the production flow); ``scripted=True`` (or a :class:`ScriptedServer`) answers
    HTTP from a script instead, with no runtime.  ``delays=True`` gives every leg a random
    delay drawn from ``rnd``.
    """

    def __init__(self, rnd: random.Random | int | None = None, *, delays: bool = False,
                 front: bool = False, scripted: ScriptedServer | bool = False,
                 orphan: float = ORPHAN, max_session: float | None = None,
                 runtime_seed: int | None = None) -> None:
        self.rnd = rnd if isinstance(rnd, random.Random) else random.Random(rnd or 0)
        self.delays = delays
        self.now = 0.0
        self.pumping = False
        self.faults = Faults()
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.scripted: ScriptedServer | None = (
            (ScriptedServer() if scripted is True else scripted) or None)
        self._runtime: RuntimeMachine | None = None
        self.front: PairedCoordinator | None = None
        if self.scripted is None:
            seed = self.rnd.random() if runtime_seed is None else runtime_seed
            self._runtime = RuntimeMachine(runtime_config(orphan), rng=random.Random(seed))
            if front:
                self.front = self._coordinator(self._runtime, max_session)
        self.runtime: Any = (Stepped(self._runtime, RUNTIME_INPUTS, self)
                             if self._runtime is not None else None)
        self.endpoints: list[Endpoint] = []
        #: (connection id, negotiation id) -> the client peer at the other end
        self.links: dict[tuple[int, int], tuple[Endpoint, int]] = {}
        #: connection id -> the negotiation whose peer carries its traffic (SwapPeer)
        self.carrier: dict[int, int] = {}
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.runtime_events: list[RuntimeEvent] = []
        self.output_paused: dict[tuple[int, str], bool] = {}
        self.inputs: dict[tuple[int, str], bool] = {}
        self.slot_grants: list[tuple[float, int]] = []
        self.checks: list[Callable[[], None]] = []

    @staticmethod
    def _coordinator(runtime: RuntimeMachine, max_session: float | None) -> PairedCoordinator:
        # The coordinator's runtime calls are actions; PairedCoordinator performs them against
        # the runtime machine and checks nothing is left queued after each input.
        return PairedCoordinator(
            CoordinatorConfig(api_keys=(ApiKey(key_id="k1", secret=KEY),), model_name="helios",
                              max_session_seconds=max_session, closed_retention=5.0),
            [Served(runtime.handle_request)], rng=random.Random(9), unix_offset=1_700_000_000.0)

    # ---- setup ------------------------------------------------------------------------------

    def add_client(self, config: ClientConfig | None = None, *, seed: int | None = None,
                   auto_http: bool = True, auto_peer: bool = True, **options: Any) -> Endpoint:
        name = f"c{len(self.endpoints)}"
        # the tests written for the JSON wire pin it; v1 tests pass wire="v1" or "auto"
        options.setdefault("wire", "v0")
        if config is None:
            if self.scripted is not None:
                config = ClientConfig(model_name="helios", local=True,
                                      api_url="http://localhost:8080", **options)
            elif self.front is None:
                config = ClientConfig.create("helios", local=True, **options)
            else:
                config = ClientConfig.create("helios", api_key=KEY,
                                             api_url="https://api.example.test", **options)
        rng = random.Random(self.rnd.random() if seed is None else seed)
        endpoint = Endpoint(self, ClientMachine(config, rng=rng), name, auto_http=auto_http,
                            auto_peer=auto_peer)
        self.endpoints.append(endpoint)
        return endpoint

    # ---- scheduling -------------------------------------------------------------------------

    def leg(self, scale: float = 1.0) -> float:
        return random_leg(self.rnd) * scale if self.delays else 0.0

    def at(self, when: float, call: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (max(when, self.now), next(self._seq), call))

    def after(self, delay: float, call: Callable[[], None]) -> None:
        self.at(self.now + delay, call)

    def _deadlines(self) -> list[float]:
        times = [e.raw.next_deadline() for e in self.endpoints if not e.vanished]
        if self._runtime is not None:
            times.append(self._runtime.next_deadline())
        if self.front is not None:
            times.append(self.front.next_deadline())
        return [t for t in times if t is not None]

    def run(self, seconds: float, stop: Callable[[], bool] = lambda: False) -> bool:
        """Advance up to ``seconds``, firing every timer and delivery on the way in order;
        True when ``stop()`` became true on the way (the clock stops there)."""
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
            self.pump()  # deliveries due now
            for endpoint in self.endpoints:
                if not endpoint.vanished:
                    endpoint.raw.handle_timeout(self.now)
            if self._runtime is not None:
                self._runtime.handle_timeout(self.now)
            if self.front is not None:
                self.front.handle_timeout(self.now)
            self.pump()
        clients = [(e.raw.phase, e.raw.next_deadline()) for e in self.endpoints]
        raise AssertionError(f"the schedule never settles: now={self.now} {clients} "
                             f"deadlines={self._deadlines()} queue={self._queue[:1]}")

    advance = run

    def pump(self) -> None:
        """Perform every machine's actions and every delivery due now until nothing moves;
        then every outbox must be empty."""
        if self.pumping:
            return
        self.pumping = True
        try:
            for _ in range(100_000):
                progressed = False
                for endpoint in self.endpoints:
                    progressed |= self._client_step(endpoint)
                progressed |= self._runtime_step()
                if self.front is not None:
                    while self.front.next_event() is not None:
                        progressed = True
                if not progressed and self._queue and self._queue[0][0] <= self.now:
                    heapq.heappop(self._queue)[2]()
                    progressed = True
                for check in self.checks:
                    check()
                if not progressed:
                    break
            else:
                raise AssertionError("no quiescence")
        finally:
            self.pumping = False
        self.assert_drained()

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Several inputs as one step (a race): nothing is performed until all were made."""
        self.assert_drained()
        self.pumping = True
        try:
            yield
        finally:
            self.pumping = False
        self.pump()

    def assert_drained(self) -> None:
        """Nothing queued and unperformed in any machine (the aioquic bug: output queued by a
        call and never sent)."""
        outboxes: list[tuple[str, Any]] = [(e.name, e.raw) for e in self.endpoints]
        if self._runtime is not None:
            outboxes.append(("runtime", self._runtime))
        for name, machine in outboxes:
            left = machine.next_action()
            assert left is None, f"{name}: unperformed {left!r}"
        if self.front is not None:
            outboxes.append(("coordinator", self.front))
        for name, machine in outboxes:
            event = machine.next_event()
            assert event is None, f"{name}: uncollected {event!r}"

    # ---- HTTP -------------------------------------------------------------------------------

    def serve(self, request: HttpRequest) -> HttpResponse | None:
        if self.scripted is not None:
            return self.scripted.handle(request)
        if self.front is not None:
            return self.front.handle_http(request, self.now)
        assert self._runtime is not None
        return self._runtime.handle_request(request, self.now)

    def _arrive(self, e: Endpoint, action: SendHttp) -> None:
        if e.vanished:
            return
        # The request reaches the server even when the client has given up on it since.
        e.requests.append(action.request)
        response = self.serve(action.request)
        if response is None:
            return  # the scripted server never answers: the request stays in flight
        rid = action.request_id
        what = f"{action.request.method} {path_of(action.request)}"

        def back() -> None:
            if rid not in e.cancelled and not e.vanished:
                e.inflight.pop(rid, None)
                e.raw.http_response(rid, response, self.now)

        for extra in self.faults.plan("http", what):
            self.after(self.leg() + extra, back)

    # ---- client side ------------------------------------------------------------------------

    def _client_step(self, e: Endpoint) -> bool:
        progressed = False
        while (action := e.raw.next_action()) is not None:
            progressed = True
            if not e.vanished:  # a vanished process performs nothing
                self.perform_client(e, action)
        while (event := e.raw.next_event()) is not None:
            progressed = True
            if isinstance(event, StatusChanged):
                assert (event.previous, event.status) in STATUS_EDGES, event
                e.statuses.append(event.status.value)
            if isinstance(event, OperationCompleted):
                e.results[event.op] = event
            e.events.append(event)
        return progressed

    def perform_client(self, e: Endpoint, action: object) -> None:
        peer = getattr(action, "peer_id", None)
        if isinstance(action, ApplyAnswer | SendChannel | AttachTrack | DetachTrack):
            assert peer in e.peers and not e.peers[peer].closed, f"{action!r} after ClosePeer"
        if isinstance(action, SendHttp):
            e.inflight[action.request_id] = action
            if e.auto_http:
                self.after(self.leg(), lambda: self._arrive(e, action))
        elif isinstance(action, CancelHttp):
            e.cancelled.append(action.request_id)
            e.inflight.pop(action.request_id, None)
        elif isinstance(action, CreatePeer):
            assert action.peer_id not in e.peers, f"peer {action.peer_id} created twice"
            e.spare_held = False  # taken for this peer, or closed
            e.peers[action.peer_id] = FakePeer(peer_id=action.peer_id,
                                               tracks=[t.name for t in action.tracks])
            if e.auto_peer:
                self._offer(e, action)
        elif isinstance(action, ApplyAnswer):
            e.peers[action.peer_id].answer = action.sdp
            if e.auto_peer:
                self.after(self.leg(), lambda: self._applied(e, action))
        elif isinstance(action, SendChannel):
            e.sent.append(action)
            self._upstream(e, action)
        elif isinstance(action, AttachTrack):
            e.attached.append(action.track)
        elif isinstance(action, DetachTrack):
            e.detached.append(action.track)
        elif isinstance(action, ClientClosePeer):
            e.peers[action.peer_id].closed = True
            self._client_closed_peer(e, action.peer_id)
        elif isinstance(action, PrepareSparePeer):
            assert e.raw.phase is Phase.READY, f"{action!r} outside READY"
            assert not e.spare_held, "a second spare asked for before the first was used"
            e.spares.append(action)
            e.spare_held = True
        elif isinstance(action, DiscardSparePeer):
            assert e.spare_held, "DiscardSparePeer without a spare held"
            e.spare_discards += 1
            e.spare_held = False
        else:
            raise AssertionError(f"the harness cannot perform {action!r}")

    def _offer(self, e: Endpoint, action: CreatePeer) -> None:
        peer = action.peer_id
        mids = {t.name: str(i) for i, t in enumerate(action.tracks)}
        offer = OFFER_SDP if self.scripted is not None else OFFER_SDP.replace(
            "cli1", f"cli{peer}")
        self.after(self.leg(), lambda: self._if_peer(
            e, peer, lambda: e.raw.offer_created(peer, offer, mids, self.now)))

    def _if_peer(self, e: Endpoint, peer: int, call: Callable[[], None]) -> None:
        if e.open_peer(peer):
            call()

    def _applied(self, e: Endpoint, action: ApplyAnswer) -> None:
        peer = action.peer_id
        if not e.open_peer(peer):
            return
        e.raw.answer_applied(peer, self.now)
        if self.scripted is not None:  # no runtime: the transport comes up at once
            e.raw.peer_state(peer, "connected", self.now)
            e.raw.channel_opened(peer, "control", self.now)
            e.raw.channel_opened(peer, "data", self.now)
            return
        link = self._link_of(action.sdp)
        e.peer_to_link[peer] = link
        self.links[link] = (e, peer)
        self.after(self.leg(), lambda: self._if_peer(e, peer, lambda: self._up(e, peer, link)))

    @staticmethod
    def _link_of(sdp: str) -> tuple[int, int]:
        for line in sdp.splitlines():
            if line.startswith("a=ice-ufrag:srv-"):
                _, cid, nid = line.rsplit("-", 2)
                return int(cid), int(nid)
        raise AssertionError("an answer without the harness's marker")

    def _up(self, e: Endpoint, peer: int, link: tuple[int, int]) -> None:
        """ICE/DTLS/SCTP come up, if the runtime still has its end: the runtime sees its peer
        connect and both channels open, then the client sees its state and its two channels
        open, in a random order.  If the runtime dropped it meanwhile, the client's ICE fails
        instead."""
        rt = self._runtime
        assert rt is not None
        cid, nid = link
        if cid not in rt.connections:
            self.after(self.leg(5), lambda: self._if_peer(
                e, peer, lambda: e.raw.peer_state(peer, "failed", self.now)))
            return
        rt.peer_state(cid, nid, "connected", self.now)
        for label in ("control", "data"):
            rt.channel_opened(cid, nid, label, self.now)
        connected = self.now + self.leg()
        self.at(connected, lambda: self._if_peer(
            e, peer, lambda: e.raw.peer_state(peer, "connected", self.now)))
        for label in ("control", "data"):
            opened = connected + self.leg()
            e.open_at[(peer, label)] = opened
            self.at(opened, lambda label=label: self._if_peer(  # type: ignore[misc]
                e, peer, lambda: e.raw.channel_opened(peer, label, self.now)))

    def _upstream(self, e: Endpoint, action: SendChannel) -> None:
        link = e.peer_to_link.get(action.peer_id)
        rt = self._runtime
        if link is None or rt is None:
            return  # no runtime at the other end (scripted server): recorded only
        cid, _ = link
        deliver = rt.control_message if action.channel == "control" else rt.data_message
        key = ("up", action.peer_id, action.channel)
        for extra in self.faults.plan("up", f"{action.channel} {action.text}"):
            at = e.ordered(key, self.now + self.leg() + extra)
            self.at(at, lambda: self._if_peer(
                e, action.peer_id, lambda: deliver(cid, action.text, self.now)))

    def _client_closed_peer(self, e: Endpoint, peer: int) -> None:
        """The runtime sees the peer go: its connection state, or its data channel first."""
        link = e.peer_to_link.get(peer)
        rt = self._runtime
        if link is None or rt is None:
            return
        cid, nid = link
        self.links.pop(link, None)
        how = self.rnd.choice(("closed", "data_closed"))
        self.after(self.leg(), lambda: (
            rt.peer_state(cid, nid, "closed", self.now) if how == "closed"
            else rt.channel_closed(cid, nid, "data", self.now)))

    def drop(self, e: Endpoint) -> None:
        """A recoverable network failure: both ends see the transport go, in either order."""
        peer = e.raw.peer_id
        if peer is None or peer not in e.peer_to_link:
            return
        cid, nid = e.peer_to_link[peer]
        self.links.pop((cid, nid), None)  # the network is down: nothing more crosses it
        rt = self._runtime
        assert rt is not None
        self.after(self.leg(), lambda: self._if_peer(
            e, peer, lambda: e.raw.peer_state(peer, "failed", self.now)))
        self.after(self.leg(), lambda: rt.peer_state(cid, nid, "failed", self.now))

    def vanish(self, e: Endpoint, *, transport_noticed: bool) -> None:
        """The client process dies: nothing more from or to it; the runtime may notice."""
        e.vanished = True
        rt = self._runtime
        assert rt is not None
        for link in e.peer_to_link.values():
            self.links.pop(link, None)
        if transport_noticed:
            for cid, nid in e.peer_to_link.values():
                self.after(self.leg(10), lambda cid=cid, nid=nid: (  # type: ignore[misc]
                    rt.peer_state(cid, nid, "failed", self.now)))

    # ---- runtime side -----------------------------------------------------------------------

    def _runtime_step(self) -> bool:
        rt = self._runtime
        if rt is None:
            return False
        progressed = False
        while (action := rt.next_action()) is not None:
            progressed = True
            self.perform_runtime(action)
        while (event := rt.next_event()) is not None:
            progressed = True
            self.runtime_events.append(event)
            if isinstance(event, CommandReceived):
                self.commands.append((event.command, dict(event.args)))
        return progressed

    def perform_runtime(self, action: object) -> None:
        rt = self._runtime
        assert rt is not None
        if isinstance(action, CreateAnswer):
            cid, nid = action.connection_id, action.negotiation_id
            self.after(self.leg(), lambda: rt.answer_created(
                cid, answer_sdp(f"srv-{cid}-{nid}"), self.now, negotiation_id=nid))
        elif isinstance(action, AddIceCandidates):
            pass  # the fake transport needs no candidates
        elif isinstance(action, SwapPeer):
            self.carrier[action.connection_id] = action.negotiation_id
            for (cid, nid) in list(self.links):
                if cid == action.connection_id and nid != action.negotiation_id:
                    self._runtime_closed_peer(cid, nid)
        elif isinstance(action, RuntimeClosePeer):
            self._runtime_closed_peer(action.connection_id, action.negotiation_id)
        elif isinstance(action, CloseTransport):
            for (cid, nid) in list(self.links):
                if cid == action.connection_id:
                    self._runtime_closed_peer(cid, nid)
        elif isinstance(action, SetOutputFlow):
            self.output_paused[(action.connection_id, action.track)] = action.paused
        elif isinstance(action, SetInputFlow):
            self.inputs[(action.connection_id, action.track)] = action.enabled
        elif isinstance(action, SendData | SendControl):
            if isinstance(action, SendControl):
                self._note_grant(action)
            self._downstream(action)
        elif isinstance(action, TeardownSession):
            self.after(self.leg(), lambda: rt.cleanup_complete(self.now))
        else:
            raise AssertionError(f"the harness cannot perform {action!r}")

    def _runtime_closed_peer(self, cid: int, nid: int) -> None:
        """The runtime closed its peer: the client's end sees its state or data channel go."""
        target = self.links.pop((cid, nid), None)
        if target is None:
            return
        e, peer = target
        how = self.rnd.choice(("peer_closed", "data_closed"))
        self.after(self.leg(), lambda: self._if_peer(e, peer, lambda: (
            e.raw.peer_state(peer, "closed", self.now) if how == "peer_closed"
            else e.raw.channel_closed(peer, "data", self.now))))

    def _downstream(self, action: SendData | SendControl) -> None:
        cid = action.connection_id
        nid = self.carrier.get(cid)
        target = self.links.get((cid, nid)) if nid is not None else None
        if target is None:
            return  # no client peer at the other end any more
        e, peer = target
        label = "data" if isinstance(action, SendData) else "control"
        for extra in self.faults.plan("down", f"{label} {action.text}"):
            earliest = max(self.now + self.leg() + extra, e.open_at.get((peer, label), 0.0))
            at = e.ordered(("down", peer, label), earliest)
            self.at(at, lambda: self._if_peer(
                e, peer, lambda: e.raw.channel_message(peer, label, action.text, self.now)))

    def _note_grant(self, action: SendControl) -> None:
        """Each successful publish_track answer is sent while the slot is the asker's."""
        try:
            message = json.loads(action.text)
        except ValueError:
            return
        if (isinstance(message, dict) and message.get("type") == "response"
                and message.get("method") == "publish_track" and "error" not in message):
            assert self._runtime is not None
            assert self._runtime.slots.get("webcam") == action.connection_id, message
            self.slot_grants.append((self.now, action.connection_id))

    # ---- what "all gone" means ----------------------------------------------------------------

    def assert_runtime_empty(self) -> None:
        rt = self._runtime
        assert rt is not None
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


def scripted_client(config: ClientConfig | None = None, *, server: ScriptedServer | None = None,
                    auto_peer: bool = True, auto_http: bool = True) -> Endpoint:
    """One client against a scripted server, instantaneous wire (the client unit tests)."""
    net = Paired(scripted=server or ScriptedServer())
    return net.add_client(config, seed=7, auto_http=auto_http, auto_peer=auto_peer)
