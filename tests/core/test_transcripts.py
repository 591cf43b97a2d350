"""Both ends of the protocol in memory: our client machine against our runtime machine, and
through our coordinator machine, with a fake clock and a fake peer connection.

Only the peer connection is simulated (offer/answer texts and the "transport is up" signal);
every HTTP request, data-channel and control-channel message is produced by one machine
and consumed by the other exactly as it would cross the wire.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from reactor_proto.client import (
    ApplyAnswer,
    AttachTrack,
    CancelHttp,
    ClientConfig,
    ClientMachine,
    ClosePeer,
    CreatePeer,
    DetachTrack,
    ErrorOccurred,
    MessageReceived,
    OperationCompleted,
    Phase,
    ReactorStatus,
    SendChannel,
    SendHttp,
)
from reactor_proto.coordinator import ApiKey, CoordinatorConfig
from reactor_proto.errors import SessionGoneError, UnauthorizedError
from reactor_proto.http import HttpRequest, HttpResponse
from reactor_proto.runtime import (
    CloseTransport,
    CommandReceived,
    CreateAnswer,
    RuntimeConfig,
    RuntimeMachine,
    SendControl,
    SendData,
    SetInputFlow,
    SetOutputFlow,
)
from reactor_proto.schema import parse_openapi

from .client_harness import HELIOS_LIKE_SCHEMA, OFFER_SDP, answer_sdp
from .coordinator_harness import PairedCoordinator, Served

KEY = "rk_live_transcript_key_000001"


class Wire:
    """Connects a client machine to a server (runtime, or coordinator in front of one)."""

    def __init__(self, client: ClientMachine, runtime: RuntimeMachine,
                 front: PairedCoordinator | None = None) -> None:
        self.client = client
        self.runtime = runtime
        self.front = front
        self.now = 0.0
        self.peer_to_cid: dict[int, int] = {}
        self.output_paused: dict[tuple[int, str], bool] = {}
        self.inputs: dict[tuple[int, str], bool] = {}
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.events: list[Any] = []
        self.pending_answers: dict[int, int] = {}
        self.client_peer_for_offer: dict[str, int] = {}

    def serve(self, request: HttpRequest) -> HttpResponse:
        if self.front is not None:
            return self.front.handle_http(request, self.now)
        return self.runtime.handle_request(request, self.now)

    def pump(self) -> None:
        for _ in range(1000):
            progressed = self._client_step() | self._runtime_step()
            if not progressed:
                return
        raise AssertionError("no quiescence")

    def _client_step(self) -> bool:
        progressed = False
        while (action := self.client.next_action()) is not None:
            progressed = True
            self._perform_client(action)
        while (event := self.client.next_event()) is not None:
            progressed = True
            self.events.append(event)
        return progressed

    def _perform_client(self, action: object) -> None:
        c = self.client
        if isinstance(action, SendHttp):
            c.http_response(action.request_id, self.serve(action.request), self.now)
        elif isinstance(action, CreatePeer):
            mids = {t.name: str(i) for i, t in enumerate(action.tracks)}
            offer = OFFER_SDP.replace("cli1", f"cli{action.peer_id}")
            c.offer_created(action.peer_id, offer, mids, self.now)
        elif isinstance(action, ApplyAnswer):
            c.answer_applied(action.peer_id, self.now)
            cid = self._cid_for_answer(action.sdp)
            self.peer_to_cid[action.peer_id] = cid
            self.runtime.transport_connected(cid, self.now)
            c.peer_state(action.peer_id, "connected", self.now)
            c.channel_opened(action.peer_id, "control", self.now)
            c.channel_opened(action.peer_id, "data", self.now)
        elif isinstance(action, SendChannel):
            cid = self.peer_to_cid[action.peer_id]
            if action.channel == "control":
                self.runtime.control_message(cid, action.text, self.now)
            else:
                self.runtime.data_message(cid, action.text, self.now)
        elif isinstance(action, ClosePeer):
            cid = self.peer_to_cid.pop(action.peer_id, None)
            if cid is not None:
                self.runtime.transport_closed(cid, self.now)
        elif not isinstance(action, CancelHttp | AttachTrack | DetachTrack):
            raise AssertionError(action)

    def _cid_for_answer(self, sdp: str) -> int:
        for line in sdp.splitlines():
            if line.startswith("a=ice-ufrag:srv-"):
                return int(line.rsplit("-", 1)[1])
        raise AssertionError("answer without our marker")

    def _runtime_step(self) -> bool:
        progressed = False
        cid_to_peer = {cid: peer for peer, cid in self.peer_to_cid.items()}
        while (action := self.runtime.next_action()) is not None:
            progressed = True
            if isinstance(action, CreateAnswer):
                self.runtime.answer_created(action.connection_id,
                                            answer_sdp(f"srv-{action.connection_id}"),
                                            self.now, negotiation_id=action.negotiation_id)
            elif isinstance(action, SendData | SendControl):
                peer = cid_to_peer.get(action.connection_id)
                if peer is not None:
                    label = "data" if isinstance(action, SendData) else "control"
                    self.client.channel_message(peer, label, action.text, self.now)
            elif isinstance(action, SetOutputFlow):
                self.output_paused[(action.connection_id, action.track)] = action.paused
            elif isinstance(action, SetInputFlow):
                self.inputs[(action.connection_id, action.track)] = action.enabled
            elif isinstance(action, CloseTransport):
                peer = cid_to_peer.get(action.connection_id)
                if peer is not None:
                    self.client.channel_closed(peer, "data", self.now)
        while (event := self.runtime.next_event()) is not None:
            progressed = True
            if isinstance(event, CommandReceived):
                self.commands.append((event.command, dict(event.args)))
        return progressed

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while True:
            times = [t for t in (self.client.next_deadline(), self.runtime.next_deadline(),
                                 self.front.next_deadline() if self.front else None)
                     if t is not None and t <= end]
            if not times:
                break
            self.now = max(self.now, min(times))
            self.client.handle_timeout(self.now)
            self.runtime.handle_timeout(self.now)
            if self.front is not None:
                self.front.handle_timeout(self.now)
            self.pump()
        self.now = end

    def connect(self, **kwargs: Any) -> int:
        """Connect and let the answer poll (the runtime answers after the first GET) run."""
        op = self.client.connect(self.now, **kwargs)
        self.pump()
        self.advance(1.0)
        return op

    def done(self, op: int) -> OperationCompleted:
        for event in self.events:
            if isinstance(event, OperationCompleted) and event.op == op:
                return event
        raise AssertionError(f"op {op} did not complete")


def runtime_machine(orphan: float = 30.0) -> RuntimeMachine:
    config = RuntimeConfig(model_name="helios", model_schema=parse_openapi(HELIOS_LIKE_SCHEMA),
                           orphan_timeout=orphan)
    return RuntimeMachine(config, rng=random.Random(3))


def local_wire(orphan: float = 30.0, **client_options: Any) -> Wire:
    client = ClientMachine(ClientConfig.create("helios", local=True, **client_options),
                           rng=random.Random(1))
    return Wire(client, runtime_machine(orphan))


def test_local_transcript_connect_command_pause_publish_terminate() -> None:
    w = local_wire()
    op = w.connect()
    assert w.done(op).error is None
    assert w.client.status is ReactorStatus.READY
    cid = w.client.connection_id
    assert cid is not None
    assert w.output_paused[(cid, "main_video")] is False  # resume_track reached the runtime
    w.client.send_command("schedule_prompt", {"prompt": "A forest", "chunk": 0}, w.now)
    w.client.send_command("start", {}, w.now)
    w.pump()
    assert w.commands == [("schedule_prompt", {"prompt": "A forest", "chunk": 0}),
                          ("start", {})]
    w.runtime.send_model_message("state", {"running": True}, now=w.now)
    w.pump()
    assert any(isinstance(e, MessageReceived) and e.payload["type"] == "state"
               for e in w.events)
    w.client.pause_track("main_video", w.now)
    w.pump()
    assert w.output_paused[(cid, "main_video")] is True
    publish = w.client.publish_track("webcam", w.now)
    w.pump()
    assert w.done(publish).error is None
    assert w.inputs[(cid, "webcam")] is True
    w.advance(12.0)  # pings keep the runtime's watchdog quiet
    assert w.runtime.connected_users() == 1
    stop = w.client.disconnect(w.now)
    w.pump()
    assert w.done(stop).error is None
    assert w.runtime.state.value == "READY"
    assert w.client.phase is Phase.IDLE


def test_local_transcript_two_clients_race_for_the_publisher_slot() -> None:
    runtime = runtime_machine()
    a = Wire(ClientMachine(ClientConfig.create("helios", local=True), rng=random.Random(1)),
             runtime)
    b = Wire(ClientMachine(ClientConfig.create("helios", local=True), rng=random.Random(2)),
             runtime)
    for w in (a, b):
        w.connect()
    assert runtime.connected_users() == 2
    op_a = a.client.publish_track("webcam", a.now)
    op_b = b.client.publish_track("webcam", b.now)
    a.pump()
    b.pump()
    a.pump()
    results = [a.done(op_a).error, b.done(op_b).error]
    assert results.count(None) == 1
    refused = next(r for r in results if r is not None)
    assert refused.code == "PUBLISHER_SLOT_TAKEN"


def test_local_transcript_invalid_command_is_refused_before_the_wire() -> None:
    w = local_wire(validate_commands=False)
    w.connect()
    w.client.send_command("schedule_prompt", {"prompt": "x", "chunk": -4}, w.now)
    w.pump()
    assert w.commands == []
    rejected = [e.error for e in w.events if isinstance(e, ErrorOccurred)]
    assert rejected and rejected[-1].code == "COMMAND_REJECTED"


def test_recoverable_drop_and_reconnect_inside_the_grace_window() -> None:
    w = local_wire()
    w.connect()
    first = w.client.connection_id
    w.client.disconnect(w.now, recoverable=True)
    w.pump()
    assert w.runtime.state.value == "ORPHANED"
    w.advance(20.0)
    op = w.client.reconnect(w.now)
    w.pump()
    w.advance(1.0)
    assert w.done(op).error is None
    assert w.runtime.state.value == "STREAMING"
    assert w.client.connection_id not in (None, first)


def test_reconnect_after_the_grace_window_reports_the_session_gone() -> None:
    w = local_wire(orphan=5.0)
    w.connect()
    w.client.disconnect(w.now, recoverable=True)
    w.pump()
    w.advance(6.0)
    assert w.runtime.state.value == "READY"
    op = w.client.reconnect(w.now)
    w.pump()
    assert isinstance(w.done(op).error, SessionGoneError)
    assert w.client.session_id is None


def coordinator_wire(**client_options: Any) -> Wire:
    runtime = runtime_machine()
    config = CoordinatorConfig(api_keys=(ApiKey(key_id="k1", secret=KEY),),
                               model_name="helios")
    front = PairedCoordinator(config, [Served(runtime.handle_request)], rng=random.Random(9))
    client = ClientMachine(ClientConfig.create("helios", api_key=KEY,
                                               api_url="https://api.example.test",
                                               **client_options), rng=random.Random(4))
    return Wire(client, runtime, front)


def test_production_transcript_through_the_coordinator() -> None:
    w = coordinator_wire()
    op = w.client.connect(w.now)
    w.pump()
    w.advance(5.0)
    assert w.done(op).error is None
    session = w.client.session_id
    assert session is not None and session != "local"
    assert w.runtime.state.value == "STREAMING"
    w.client.send_command("start", {}, w.now)
    w.pump()
    assert w.commands == [("start", {})]
    stop = w.client.disconnect(w.now)
    w.pump()
    assert w.done(stop).error is None
    assert w.front is not None
    assert str(w.front.session_state(session)).endswith("CLOSED")
    assert w.front.bookkeeping()["slots_held"] == 0
    assert w.runtime.state.value == "READY"


def test_production_transcript_wrong_key_is_unauthorized() -> None:
    w = coordinator_wire()
    w.client = ClientMachine(ClientConfig.create("helios", api_key="rk_wrong",
                                                 api_url="https://api.example.test"),
                             rng=random.Random(5))
    op = w.client.connect(w.now)
    w.pump()
    assert isinstance(w.done(op).error, UnauthorizedError)


def test_adopting_client_never_deletes() -> None:
    owner = coordinator_wire()
    op = owner.client.connect(owner.now)
    owner.pump()
    owner.advance(2.0)
    assert owner.done(op).error is None
    session = owner.client.session_id
    adopter = Wire(ClientMachine(ClientConfig.create("helios", api_key=KEY,
                                                     api_url="https://api.example.test"),
                                 rng=random.Random(6)), owner.runtime, owner.front)
    adopter.now = owner.now
    op2 = adopter.connect(session_id=session)
    assert adopter.done(op2).error is None
    adopter.client.disconnect(adopter.now)
    adopter.pump()
    assert owner.front is not None and session is not None
    assert str(owner.front.session_state(session)).endswith("ACTIVE")
    assert owner.front.bookkeeping()["slots_held"] == 1


@pytest.mark.parametrize("extra", [{"prompt": 3, "chunk": 0}, {"chunk": 0}])
def test_runtime_rejects_what_the_client_would_have_refused(extra: dict[str, Any]) -> None:
    w = local_wire(validate_commands=False)
    w.connect()
    w.client.send_command("schedule_prompt", extra, w.now)
    w.pump()
    assert w.commands == []
    reason = json.dumps([e.error.message for e in w.events if isinstance(e, ErrorOccurred)])
    assert "schedule_prompt" in reason
