"""The runtime machine's transport rules: peer and channel reports in, ``SwapPeer`` /
``ClosePeer`` / ``CloseTransport`` out (fake clock, no network)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reactor_proto.runtime import (
    ClientConnected,
    ClientDisconnected,
    ClosePeer,
    CloseTransport,
    CreateAnswer,
    DisconnectReason,
    SessionState,
    SetInputFlow,
    SetOutputFlow,
    SwapPeer,
    TrackUnpublished,
)

from .runtime_harness import ANSWER_SDP, BASE, OFFER_SDP, Harness, control_request

REPORTS = (("peer", "connected"), ("open", "data"), ("open", "control"))


def started(**overrides: object) -> Harness:
    harness = Harness(**overrides)  # type: ignore[arg-type]
    harness.start()
    harness.take()
    return harness


def offered(harness: Harness, cid: int | None = None, method: str = "POST") -> CreateAnswer:
    cid = harness.register() if cid is None else cid
    assert harness.offer(cid, method).status == 202
    actions, _ = harness.take()
    (create,) = [a for a in actions if isinstance(a, CreateAnswer)]
    return create


def report(harness: Harness, create: CreateAnswer, kind: str, value: str) -> None:
    machine, cid, nid = harness.machine, create.connection_id, create.negotiation_id
    if kind == "peer":
        machine.peer_state(cid, nid, value, harness.now)
    elif kind == "open":
        machine.channel_opened(cid, nid, value, harness.now)
    else:
        machine.channel_closed(cid, nid, value, harness.now)
    harness.collect()


def answered(harness: Harness, create: CreateAnswer) -> None:
    harness.machine.answer_created(create.connection_id, ANSWER_SDP, harness.now,
                                   negotiation_id=create.negotiation_id)
    harness.collect()


def bring_up(harness: Harness, create: CreateAnswer) -> None:
    for kind, value in REPORTS:
        report(harness, create, kind, value)


def installed(harness: Harness, cid: int) -> bool:
    conn = harness.machine.connections.get(cid)
    return conn is not None and conn.installed


def test_installed_once_peer_connected_and_both_channels_open() -> None:
    harness = started()
    create = offered(harness)
    assert create.active and not create.replaces
    assert create.ignored_inputs == ("webcam",)  # inputs start ignored
    answered(harness, create)
    cid, nid = create.connection_id, create.negotiation_id
    report(harness, create, "peer", "connected")
    report(harness, create, "open", "data")
    assert not installed(harness, cid)
    report(harness, create, "open", "control")
    actions, events = harness.take()
    assert installed(harness, cid)
    assert actions[0] == SwapPeer(connection_id=cid, negotiation_id=nid)  # before the flows
    assert SetOutputFlow(connection_id=cid, track="main_video", paused=True) in actions
    assert ClientConnected(connection_id=cid, connected_users=1) in events
    assert harness.state() is SessionState.STREAMING
    report(harness, create, "open", "control")  # repeated reports install nothing more
    report(harness, create, "peer", "connected")
    assert harness.take() == ([], [])


@settings(max_examples=60, deadline=None)
@given(order=st.permutations(range(4)), repeat=st.lists(st.integers(1, 3), max_size=4))
def test_any_order_of_reports_installs_exactly_once(order: list[int],
                                                    repeat: list[int]) -> None:
    harness = started()
    create = offered(harness)
    steps = [lambda: answered(harness, create)] + [
        (lambda k=kind, v=value: report(harness, create, k, v)) for kind, value in REPORTS]
    swaps = 0
    for position, index in enumerate(order + repeat):
        steps[index]()
        actions, _ = harness.take()
        swaps += sum(isinstance(a, SwapPeer) for a in actions)
        seen = set(order[:position + 1]) | set(repeat[:max(0, position + 1 - len(order))])
        assert installed(harness, create.connection_id) is (seen == {0, 1, 2, 3})
    assert swaps == 1


def test_legacy_connection_needs_the_data_channel_only() -> None:
    harness = started()
    assert harness.request("POST", f"{BASE}/sdp_params",
                           {"sdp_offer": OFFER_SDP}).status == 202
    (create,), _ = harness.take()
    assert isinstance(create, CreateAnswer) and create.connection_id == 1001
    answered(harness, create)
    report(harness, create, "peer", "connected")
    report(harness, create, "open", "data")
    assert installed(harness, 1001)


def test_control_closing_or_the_peer_leaving_connected_holds_installation_back() -> None:
    harness = started()
    create = offered(harness)
    answered(harness, create)
    report(harness, create, "open", "control")
    report(harness, create, "close", "control")
    report(harness, create, "peer", "connected")
    report(harness, create, "peer", "disconnected")
    report(harness, create, "open", "data")
    assert not installed(harness, create.connection_id)
    report(harness, create, "open", "control")
    assert not installed(harness, create.connection_id)
    report(harness, create, "peer", "connected")
    assert installed(harness, create.connection_id)


@pytest.mark.parametrize(("kind", "value"), [("peer", "failed"), ("peer", "closed"),
                                             ("close", "data")])
def test_losing_the_current_peer_removes_the_connection(kind: str, value: str) -> None:
    harness = started()
    create = offered(harness)
    answered(harness, create)
    bring_up(harness, create)
    cid, nid = create.connection_id, create.negotiation_id
    harness.control(cid, control_request("publish_track", "webcam"))
    assert harness.machine.slot_holder("webcam") == cid
    harness.take()
    report(harness, create, kind, value)
    actions, events = harness.take()
    assert actions == [ClosePeer(connection_id=cid, negotiation_id=nid),
                       CloseTransport(connection_id=cid)]
    assert TrackUnpublished(connection_id=cid, track="webcam") in events
    assert ClientDisconnected(connection_id=cid, connected_users=0,
                              reason=DisconnectReason.CLOSED) in events
    assert harness.machine.slot_holder("webcam") is None
    assert cid not in harness.machine.connections
    assert harness.state() is SessionState.ORPHANED


def test_control_closing_after_installation_changes_nothing() -> None:
    harness = started()
    create = offered(harness)
    answered(harness, create)
    bring_up(harness, create)
    harness.take()
    report(harness, create, "close", "control")
    assert harness.take() == ([], [])
    assert installed(harness, create.connection_id)


def test_reoffer_swaps_the_new_peer_in_and_the_old_one_only_closes() -> None:
    harness = started()
    first = offered(harness)
    answered(harness, first)
    bring_up(harness, first)
    cid = first.connection_id
    harness.control(cid, control_request("publish_track", "webcam"))
    harness.take()
    second = offered(harness, cid, "PUT")
    assert second.replaces and not second.active  # the old peer keeps serving
    report(harness, first, "open", "data")  # reports from the old peer are stale
    answered(harness, second)
    bring_up(harness, second)
    actions, events = harness.take()
    assert actions[0] == SwapPeer(connection_id=cid, negotiation_id=second.negotiation_id)
    assert SetInputFlow(connection_id=cid, track="webcam", enabled=True) in actions
    assert events == []  # the same client: no second ClientConnected
    report(harness, first, "peer", "closed")  # the old peer going away is no loss
    actions, events = harness.take()
    assert actions == [ClosePeer(connection_id=cid, negotiation_id=first.negotiation_id)]
    assert events == [] and installed(harness, cid)


def test_failed_reoffer_takes_the_connection_and_its_old_peer() -> None:
    harness = started()
    first = offered(harness)
    answered(harness, first)
    bring_up(harness, first)
    cid = first.connection_id
    second = offered(harness, cid, "PUT")
    report(harness, second, "peer", "failed")
    actions, events = harness.take()
    assert actions == [ClosePeer(connection_id=cid, negotiation_id=second.negotiation_id),
                       CloseTransport(connection_id=cid)]
    assert [type(e) for e in events if isinstance(e, ClientDisconnected)] \
        == [ClientDisconnected]


def test_losing_the_active_peer_during_a_reoffer_leaves_traffic_to_the_next_peer() -> None:
    harness = started()
    first = offered(harness)
    answered(harness, first)
    bring_up(harness, first)
    cid = first.connection_id
    second = offered(harness, cid, "PUT")
    report(harness, first, "close", "data")
    actions, _ = harness.take()
    assert actions == [ClosePeer(connection_id=cid, negotiation_id=first.negotiation_id)]
    assert installed(harness, cid)
    third = offered(harness, cid, "PUT")
    assert third.replaces and third.active  # no other peer carries the traffic now
    assert not second.active


def test_a_failed_answer_hands_the_traffic_to_the_next_offer() -> None:
    harness = started()
    first = offered(harness)
    cid = first.connection_id
    second = offered(harness, cid, "PUT")
    assert not second.active
    harness.machine.answer_failed(cid, "boom", harness.now,
                                  negotiation_id=first.negotiation_id)  # stale, but active
    third = offered(harness, cid, "PUT")
    assert third.active
    harness.machine.answer_failed(cid, "boom", harness.now,
                                  negotiation_id=third.negotiation_id)
    assert harness.request("GET", f"{BASE}/connections/{cid}/sdp_params").status == 500
    assert offered(harness, cid, "PUT").active


def test_answer_arriving_after_the_peer_is_up_installs_it() -> None:
    harness = started()
    create = offered(harness)
    bring_up(harness, create)
    assert not installed(harness, create.connection_id)
    answered(harness, create)
    assert installed(harness, create.connection_id)


def test_reports_about_unknown_connections() -> None:
    harness = started()
    harness.machine.peer_state(4242, 1, "connected", harness.now)
    harness.machine.channel_opened(4242, 1, "data", harness.now)
    harness.machine.channel_closed(4242, 1, "control", harness.now)
    assert harness.take() == ([], [])
    harness.machine.channel_closed(4242, 1, "data", harness.now)
    assert harness.take() == ([ClosePeer(connection_id=4242, negotiation_id=1)], [])


def test_drop_transport_and_drop_transports() -> None:
    harness = started()
    one = harness.connect()
    two = harness.connect()
    bare = harness.register()  # no offer: no transport to drop
    harness.take()
    assert harness.machine.drop_transport(one, harness.now)
    assert not harness.machine.drop_transport(one, harness.now)
    actions, events = harness.take()
    assert actions == [CloseTransport(connection_id=one)]
    assert ClientDisconnected(connection_id=one, connected_users=1,
                              reason=DisconnectReason.CLOSED) in events
    assert harness.machine.drop_transports(harness.now) == 1
    actions, _ = harness.take()
    assert actions == [CloseTransport(connection_id=two)]
    assert harness.state() is SessionState.ORPHANED
    assert bare in harness.machine.connections
    assert harness.machine.drop_transports(harness.now) == 0


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["peer", "open", "close", "reoffer"]),
                                st.sampled_from(["connected", "failed", "closed",
                                                 "connecting", "data", "control"]),
                                st.integers(0, 2)), max_size=25))
def test_random_reports_follow_the_rules(steps: list[tuple[str, str, int]]) -> None:
    """A reference model of the rules, checked after every report."""
    harness = started()
    creates = [offered(harness)]
    answered(harness, creates[0])
    cid = creates[0].connection_id
    up: set[str] = set()
    done = False  # the current negotiation was installed
    for kind, value, pick in itertools.islice(steps, 25):
        if cid not in harness.machine.connections:
            break
        current = creates[-1]
        if kind == "reoffer":
            creates.append(offered(harness, cid, "PUT"))
            answered(harness, creates[-1])
            up, done = set(), False
            continue
        target = creates[min(pick, len(creates) - 1)]
        report(harness, target, kind, value)
        actions, _ = harness.take()
        lost = (kind == "peer" and value in ("failed", "closed")) or \
            (kind == "close" and value == "data")
        if lost:
            assert actions[0] == ClosePeer(connection_id=cid,
                                           negotiation_id=target.negotiation_id)
            assert (cid in harness.machine.connections) is (target is not current)
            continue
        if target is current:
            if kind == "peer":
                up = (up - {"peer"}) | ({"peer"} if value == "connected" else set())
            elif kind == "open":
                up.add(value)
            else:
                up.discard(value)
        expected = target is current and not done and {"peer", "data", "control"} <= up
        assert any(isinstance(a, SwapPeer) for a in actions) is expected
        if expected:
            assert actions[0] == SwapPeer(connection_id=cid,
                                          negotiation_id=current.negotiation_id)
            done = True
        conn = harness.machine.connections.get(cid)
        assert conn is not None and conn.transport_up is done
