"""The paired harness itself: it must fail a test that leaves output unperformed, that sees
an action it cannot perform, or an action naming a closed peer; its faults do what they say."""

from __future__ import annotations

import pytest

from reactor_proto.client import Phase, SendChannel

from .paired import CONNECT_BOUND, Faults, Paired, scripted_client


def test_output_left_queued_by_a_raw_call_fails_the_next_step() -> None:
    h = scripted_client()
    h.raw.connect(h.now)  # behind the harness's back: its SendHttp stays queued
    with pytest.raises(AssertionError, match="unperformed"):
        h.client.disconnect(h.now)


def test_every_input_is_one_step_that_drains_every_outbox() -> None:
    net = Paired()
    e = net.add_client(seed=1)
    op = e.client.connect(net.now)
    assert e.raw.next_action() is None and e.raw.next_event() is None
    assert net.run(CONNECT_BOUND, stop=lambda: e.done(op) is not None)
    assert e.phase() is Phase.READY
    e.client.send_command("start", {}, net.now)  # performed and delivered at once
    assert net.commands == [("start", {})]
    net.runtime.send_model_message("state", {}, now=net.now)
    assert net.runtime.next_action() is None


def test_an_action_the_harness_cannot_perform_fails() -> None:
    h = scripted_client()
    with pytest.raises(AssertionError, match="cannot perform"):
        h.perform(object())


def test_an_action_naming_a_closed_peer_fails() -> None:
    h = scripted_client()
    h.connect()
    peer = h.current_peer()
    h.peers[peer].closed = True
    with pytest.raises(AssertionError, match="after ClosePeer"):
        h.perform(SendChannel(peer_id=peer, channel="data", text="{}"))


def test_fault_rules_fire_in_order_for_their_count() -> None:
    faults = Faults()
    faults.drop("up", "ping", times=2)
    faults.duplicate("down", "state")
    faults.delay("http", 3.0, "GET /session")
    assert faults.plan("up", "data ping") == ()
    assert faults.plan("up", "data ping") == ()
    assert faults.plan("up", "data ping") == (0.0,)
    assert faults.plan("down", "data state") == (0.0, 0.0)
    assert faults.plan("down", "data state") == (0.0,)
    assert faults.plan("http", "GET /session") == (3.0,)
    assert faults.plan("http", "POST /start_session") == (0.0,)
    assert [effect for _, effect, _ in faults.fired] == ["drop", "drop", "duplicate", "delay"]
    with pytest.raises(AssertionError):
        faults.drop("sideways")


def test_a_dropped_command_never_reaches_the_runtime() -> None:
    net = Paired()
    e = net.add_client(seed=1)
    op = e.client.connect(net.now)
    assert net.run(CONNECT_BOUND, stop=lambda: e.done(op) is not None)
    net.faults.drop("up", "schedule_prompt")
    e.client.send_command("schedule_prompt", {"prompt": "lost", "chunk": 0}, net.now)
    e.client.send_command("start", {}, net.now)
    assert net.commands == [("start", {})]
