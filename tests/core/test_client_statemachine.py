"""Hypothesis drives the client machine against random server and peer behaviour.

Invariants checked after every step:
* the machine always has a deadline, or it is quiescent (idle / suspended without recovery);
* no action ever names a peer after that peer was closed (checked by the harness);
* the public status moves only along documented edges (checked by the harness);
* the outbox is empty after every step (checked by the harness);
* the machine never reaches its sticky FAILED phase, and no unexpected exception escapes.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from reactor_proto.client import (
    ClientConfig,
    Phase,
    RetryPolicy,
)
from reactor_proto.errors import LocalProtocolError, NetworkError, ReactorError

from .paired import OFFER_SDP, Endpoint, reply, scripted_client

STATUSES = st.sampled_from(["valid", "valid", "valid", "202", "404", "409", "429", "500",
                            "503", "426", "501", "garbage", "empty", "network"])


class ClientUnderChaos(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.mode = "local"
        self.h = self._harness("local")

    @staticmethod
    def _harness(mode: str) -> Endpoint:
        if mode == "local":
            config = ClientConfig.create("helios", local=True, auto_reconnect=True,
                                         retry=RetryPolicy(max_attempts=3))
        else:
            config = ClientConfig.create("helios", api_key="rk_x",
                                         api_url="https://api.example.test",
                                         auto_reconnect=True, retry=RetryPolicy(max_attempts=3))
        return scripted_client(config, auto_http=False, auto_peer=False)

    # -- plumbing ---------------------------------------------------------------------------

    def pump(self) -> None:
        # The harness performs every action as soon as an input queued it, and checks on the
        # way that no action names a peer after its ClosePeer, that no peer id is reused, and
        # that status changes follow documented edges; this only lets timers' output settle.
        self.h.pump()

    # -- rules ------------------------------------------------------------------------------

    @rule(production=st.booleans())
    def switch_mode(self, production: bool) -> None:
        assume(self.h.machine.phase is Phase.IDLE)
        self.mode = "production" if production else "local"
        self.h = self._harness(self.mode)

    @rule(adopt=st.booleans(), resume=st.booleans())
    def connect(self, adopt: bool, resume: bool) -> None:
        m = self.h.machine
        try:
            m.connect(self.h.now, session_id="s-1" if adopt and self.mode != "local" else None,
                      auto_resume_tracks=resume)
        except LocalProtocolError:
            assert m.phase is not Phase.IDLE
        self.pump()

    @rule()
    def reconnect(self) -> None:
        with contextlib.suppress(LocalProtocolError):
            self.h.machine.reconnect(self.h.now)
        self.pump()

    @rule(recoverable=st.booleans())
    def disconnect(self, recoverable: bool) -> None:
        self.h.machine.disconnect(self.h.now, recoverable=recoverable)
        self.pump()

    @rule(data=st.data(), outcome=STATUSES, retry_after=st.sampled_from([None, "0", "1", "99"]))
    def answer_http(self, data: st.DataObject, outcome: str, retry_after: str | None) -> None:
        h = self.h
        assume(h.inflight)
        rid = data.draw(st.sampled_from(sorted(h.inflight)))
        action = h.inflight.pop(rid)
        m = h.machine
        if outcome == "network":
            m.http_failed(rid, NetworkError("reset by peer"), h.now)
        elif outcome == "valid":
            response = h.server.handle(action.request)
            if response is not None:
                m.http_response(rid, response, h.now)
        elif outcome == "garbage":
            m.http_response(rid, reply(200, ["not", "an", "object"]), h.now)
        elif outcome == "empty":
            m.http_response(rid, reply(200, ...), h.now)
        else:
            headers = (("retry-after", retry_after),) if retry_after else ()
            m.http_response(rid, reply(int(outcome), None if outcome == "202" else
                                       {"detail": "nope"}, headers), h.now)
        self.pump()

    @rule(data=st.data(), good=st.booleans())
    def peer_offer(self, data: st.DataObject, good: bool) -> None:
        h = self.h
        assume(h.peers)
        peer = data.draw(st.sampled_from(sorted(h.peers)))
        names = h.peers[peer].tracks
        mids = {n: str(i) for i, n in enumerate(names)} if good else {}
        h.machine.offer_created(peer, OFFER_SDP, mids, h.now)
        self.pump()

    @rule(data=st.data(), event=st.sampled_from(["applied", "connected", "failed", "closed",
                                                 "open_control", "open_data", "close_data",
                                                 "peer_failed", "message"]))
    def peer_event(self, data: st.DataObject, event: str) -> None:
        h = self.h
        assume(h.peers)
        peer = data.draw(st.sampled_from(sorted(h.peers)))
        m, now = h.machine, h.now
        if event == "applied":
            m.answer_applied(peer, now)
        elif event in ("connected", "failed", "closed"):
            m.peer_state(peer, event, now)
        elif event.startswith("open_"):
            m.channel_opened(peer, event[5:], now)
        elif event == "close_data":
            m.channel_closed(peer, "data", now)
        elif event == "peer_failed":
            m.peer_failed(peer, "dtls failure", now)
        else:
            text = data.draw(st.sampled_from([
                '{"scope":"application","data":{"type":"state","data":{}}}',
                '{"type":"response","method":"publish_track","request_id":"ctrl_1","data":{}}',
                "garbage", '{"scope":"runtime","data":{"type":"modelSchema","data":{}}}']))
            m.channel_message(peer, data.draw(st.sampled_from(["data", "control"])), text, now)
        self.pump()

    @rule(seconds=st.sampled_from([0.01, 0.2, 1.0, 3.0, 10.0, 31.0]))
    def advance(self, seconds: float) -> None:
        h = self.h
        end = h.now + seconds
        for _ in range(2000):
            deadline = h.machine.next_deadline()
            if deadline is None or deadline > end:
                break
            h.now = max(h.now, deadline)
            h.machine.handle_timeout(h.now)
            self.pump()
        h.now = end

    @precondition(lambda self: self.h.machine.phase is Phase.READY)
    @rule(op=st.sampled_from(["command", "bad_command", "publish", "pause", "resume",
                              "upload", "unpublish"]))
    def user_operation(self, op: str) -> None:
        m, now = self.h.machine, self.h.now
        try:
            if op == "command":
                m.send_command("start", {}, now)
            elif op == "bad_command":
                m.send_command("schedule_prompt", {"chunk": "x"}, now)
            elif op == "publish":
                m.publish_track("webcam", now)
            elif op == "unpublish":
                m.unpublish_track("webcam", now)
            elif op == "pause":
                m.pause_track("main_video", now)
            elif op == "resume":
                m.resume_track("main_video", now)
            else:
                m.upload("a.txt", "text/plain", b"hello", now)
        except ReactorError as exc:
            caught = exc
            assert caught.component == "local"
        self.pump()

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def outbox_drained(self) -> None:
        assert list(self.h.machine.pending_actions()) == []

    @invariant()
    def no_spare_peer_outlives_the_session(self) -> None:
        # spare.py: a spare asked for is taken by the next CreatePeer or discarded when the
        # session ends (the harness checks one at most, asked for only while READY)
        if self.h.machine.phase is Phase.IDLE:
            assert not self.h.spare_held

    @invariant()
    def never_failed(self) -> None:
        assert self.h.machine.phase is not Phase.FAILED

    @invariant()
    def deadline_or_quiescent(self) -> None:
        m = self.h.machine
        if m.phase in (Phase.IDLE, Phase.SUSPENDED):
            return
        assert m.next_deadline() is not None, m.phase

    @invariant()
    def deadlines_are_not_in_the_past_after_timeouts(self) -> None:
        m = self.h.machine
        deadline = m.next_deadline()
        if deadline is not None and deadline < self.h.now:
            m.handle_timeout(self.h.now)
            self.pump()
            later = m.next_deadline()
            assert later is None or later >= self.h.now


ClientUnderChaos.TestCase.settings = settings(
    max_examples=200, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestClientUnderChaos = ClientUnderChaos.TestCase


def test_transition_table_only_contains_known_phases() -> None:
    from reactor_proto.client import TRANSITIONS

    for (source, _trigger), target in TRANSITIONS.items():
        assert source is not Phase.FAILED
        assert target is not Phase.FAILED


def test_illegal_transition_is_sticky_failure() -> None:
    from reactor_proto.client.phases import Trigger
    from reactor_proto.client.state import goto

    h = scripted_client()
    state = h.machine._state
    with pytest.raises(LocalProtocolError, match="illegal transition"):
        goto(state, Trigger.TRANSPORT_UP, 0.0)
    assert h.machine.phase is Phase.FAILED
    with pytest.raises(LocalProtocolError, match="illegal transition"):
        goto(state, Trigger.TERMINATED, 0.0)
    assert h.machine.phase is Phase.FAILED
