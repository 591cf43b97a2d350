"""Session life cycle of the runtime machine: the table, orphan timer, ping watchdog."""

from __future__ import annotations

import pytest

from reactor_proto.errors import InvalidStateError, LocalProtocolError
from reactor_proto.runtime import (
    TRANSITIONS,
    ClientConnected,
    ClientDisconnected,
    CloseTransport,
    DisconnectReason,
    RuntimeConfig,
    SessionEnded,
    SessionState,
    StateChanged,
    TeardownSession,
    Trigger,
)

from .runtime_harness import ANSWER_SDP, BASE, PING, SCHEMA, Harness


def started(**overrides: object) -> Harness:
    harness = Harness(**overrides)  # type: ignore[arg-type]
    harness.start()
    harness.take()
    return harness


def test_every_table_pair_is_either_a_transition_or_refused() -> None:
    for state in SessionState:
        for trigger in Trigger:
            harness = Harness()
            harness.machine._state = state  # walk every pair directly
            allowed = (state, trigger) in TRANSITIONS
            assert harness.machine.allows(trigger) is allowed
            if not allowed:
                with pytest.raises(InvalidStateError, match=trigger.value):
                    harness.machine._fire(trigger, harness.now)
                assert harness.machine.state is state


def test_adapter_misuse_raises_and_changes_nothing() -> None:
    harness = Harness()
    with pytest.raises(InvalidStateError):
        harness.machine.model_loaded(harness.now)
    with pytest.raises(InvalidStateError):
        harness.machine.cleanup_complete(harness.now)
    harness.start()
    cid = harness.register()
    with pytest.raises(InvalidStateError):
        harness.machine.answer_created(cid, ANSWER_SDP, harness.now)  # no offer yet
    with pytest.raises(InvalidStateError):
        harness.machine.answer_failed(cid, "x", harness.now)
    harness.offer(cid)
    with pytest.raises(InvalidStateError):
        harness.machine.transport_connected(cid, harness.now)  # no answer yet
    with pytest.raises(LocalProtocolError, match="sdp_answer"):
        harness.machine.answer_created(cid, "not sdp", harness.now)
    assert harness.state() is SessionState.WAITING


def test_stale_reports_are_dropped() -> None:
    harness = started()
    harness.machine.answer_created(4242, ANSWER_SDP, harness.now)
    harness.machine.answer_failed(4242, "x", harness.now)
    harness.machine.transport_connected(4242, harness.now)
    harness.machine.transport_closed(4242, harness.now)
    harness.machine.data_message(4242, PING, harness.now)
    harness.machine.control_message(4242, "{}", harness.now)
    cid = harness.register()
    harness.offer(cid)
    harness.offer(cid, "PUT")  # negotiation 2 replaces 1
    harness.machine.answer_created(cid, ANSWER_SDP, harness.now, negotiation_id=1)
    assert harness.machine.connections.get(cid).answer is None  # type: ignore[union-attr]
    harness.machine.answer_created(cid, ANSWER_SDP, harness.now, negotiation_id=2)
    assert harness.machine.connections.get(cid).answer is not None  # type: ignore[union-attr]
    actions, _ = harness.take()
    assert [a.replaces for a in actions] == [False, True]  # type: ignore[union-attr]


def test_connect_disconnect_orphan_and_reconnect() -> None:
    harness = started()
    cid = harness.connect()
    _, events = harness.take()
    assert StateChanged(previous=SessionState.WAITING, state=SessionState.STREAMING) in events
    assert ClientConnected(connection_id=cid, connected_users=1) in events
    assert harness.machine.orphan_deadline is None
    harness.machine.transport_closed(cid, harness.now)
    _, events = harness.take()
    assert events[0] == ClientDisconnected(connection_id=cid, connected_users=0,
                                           reason=DisconnectReason.CLOSED)
    assert harness.state() is SessionState.ORPHANED
    assert harness.machine.next_deadline() == harness.now + 30.0
    assert harness.offer(cid, "PUT").status == 404  # the old id is gone
    harness.advance(29.0)
    second = harness.connect()
    assert harness.state() is SessionState.STREAMING
    assert harness.machine.orphan_deadline is None
    assert second != cid


def test_orphan_timer_in_waiting_ends_session() -> None:
    harness = started(orphan_timeout=10.0)
    harness.upload(b"abc")
    pending = harness.register()
    harness.offer(pending)
    harness.take()
    assert harness.machine.next_deadline() == harness.now + 10.0
    harness.advance(9.99)
    assert harness.state() is SessionState.WAITING
    harness.advance(0.01)
    actions, events = harness.take()
    assert harness.state() is SessionState.READY
    assert CloseTransport(connection_id=pending) in actions
    assert SessionEnded(reason="orphan_timeout") in events
    assert len(harness.machine.connections) == 0
    assert len(harness.machine.uploads) == 0
    assert harness.machine.next_deadline() is None


def test_orphan_timer_zero_disables() -> None:
    harness = started(orphan_timeout=0.0, negotiation_timeout=0.0)
    assert harness.machine.next_deadline() is None
    harness.advance(1e6)
    assert harness.state() is SessionState.WAITING


def test_confirmed_teardown() -> None:
    harness = started(confirm_teardown=True)
    cid = harness.connect()
    harness.take()
    harness.request("POST", "/stop_session")
    actions, events = harness.take()
    assert actions == [CloseTransport(connection_id=cid),
                       TeardownSession(reason="stopped")]
    assert ClientDisconnected(connection_id=cid, connected_users=0,
                              reason=DisconnectReason.SESSION_ENDED) in events
    assert harness.state() is SessionState.CLOSING
    assert harness.request("POST", f"{BASE}/connections").status == 400
    harness.machine.cleanup_complete(harness.now)
    assert harness.state() is SessionState.READY


def test_ping_watchdog_expires_only_silent_connection() -> None:
    harness = started()
    quiet = harness.connect()
    chatty = harness.connect()
    harness.take()
    for _ in range(12):  # 24 s: chatty pings every 2 s, quiet never does
        harness.data(chatty, PING)
        harness.run_until(harness.now + 2.0)
    actions, events = harness.take()
    assert CloseTransport(connection_id=quiet) in actions
    assert ClientDisconnected(connection_id=quiet, connected_users=1,
                              reason=DisconnectReason.PING_TIMEOUT) in events
    assert quiet not in harness.machine.connections
    assert chatty in harness.machine.connections
    assert harness.state() is SessionState.STREAMING


def test_ping_watchdog_timing_and_last_connection() -> None:
    harness = started()
    cid = harness.connect()
    installed_at = harness.now
    assert harness.machine.next_deadline() == installed_at + 2.0
    harness.run_until(installed_at + 20.0)
    assert cid in harness.machine.connections  # exactly 20 s is not "more than 20 s"
    harness.run_until(installed_at + 22.0)
    assert cid not in harness.machine.connections
    assert harness.state() is SessionState.ORPHANED
    harness.run_until(installed_at + 22.0 + 30.0)
    assert harness.state() is SessionState.READY


def test_ping_watchdog_disabled_and_late_timeouts() -> None:
    harness = started(ping_timeout=0.0)
    harness.connect()
    assert harness.machine.next_deadline() is None
    late = started()
    cid = late.connect()
    late.data(cid, PING)
    late.now += 5.5  # the adapter woke up late: the next check is after now, on the grid
    late.data(cid, PING)
    late.machine.handle_timeout(late.now)
    deadline = late.machine.next_deadline()
    assert deadline is not None
    assert late.now < deadline <= late.now + 2.0


def test_negotiation_deadline_drops_unfinished_connections() -> None:
    harness = started(negotiation_timeout=5.0)
    live = harness.connect()
    idle = harness.register()
    harness.take()
    harness.run_until(harness.now + 4.0)
    for _ in range(3):
        harness.data(live, PING)
        harness.run_until(harness.now + 1.0)
    assert idle not in harness.machine.connections
    assert live in harness.machine.connections
    actions, _ = harness.take()
    assert CloseTransport(connection_id=idle) not in actions  # it never had a transport


def test_stop_with_pending_transport_and_state_events() -> None:
    harness = started()
    cid = harness.register()
    harness.offer(cid)
    harness.take()
    harness.request("POST", "/stop_session")
    actions, events = harness.take()
    assert actions == [CloseTransport(connection_id=cid)]
    assert [e for e in events if isinstance(e, StateChanged)] == [
        StateChanged(previous=SessionState.WAITING, state=SessionState.CLOSING),
        StateChanged(previous=SessionState.CLOSING, state=SessionState.READY)]


def test_send_model_message_broadcast_and_direct() -> None:
    from reactor_proto.runtime import SendData

    harness = started()
    first, second = harness.connect(), harness.connect()
    harness.take()
    assert harness.machine.send_model_message("state", {"running": True}, now=harness.now) == 2
    actions, _ = harness.take()
    text = '{"scope":"application","data":{"type":"state","data":{"running":true}}}'
    assert actions == [SendData(connection_id=first, text=text),
                       SendData(connection_id=second, text=text)]
    assert harness.machine.send_model_message("x", {}, to=second, now=harness.now) == 1
    assert harness.machine.send_model_message("x", {}, to=4242, now=harness.now) == 0
    with pytest.raises(LocalProtocolError):
        harness.machine.send_model_message("x", {"big": "y" * 300_000}, now=harness.now)


def test_config_validation() -> None:
    with pytest.raises(LocalProtocolError, match="orphan_timeout"):
        RuntimeConfig(model_name="m", model_schema=SCHEMA, orphan_timeout=-1.0)
    with pytest.raises(LocalProtocolError, match="ping_check_period"):
        RuntimeConfig(model_name="m", model_schema=SCHEMA, ping_check_period=0.0)
    with pytest.raises(LocalProtocolError, match="ping_timeout"):
        RuntimeConfig(model_name="m", model_schema=SCHEMA, ping_timeout=float("nan"))
    with pytest.raises(LocalProtocolError, match="max_connections"):
        RuntimeConfig(model_name="m", model_schema=SCHEMA, max_connections=9000)
    with pytest.raises(LocalProtocolError, match="model_name"):
        RuntimeConfig(model_name="", model_schema=SCHEMA)


def test_connection_ids_never_1000_or_1001_and_scan_fallback() -> None:
    import random

    from reactor_proto.runtime.connections import ConnectionRegistry

    registry = ConnectionRegistry(max_connections=8999)
    rng = random.Random(3)
    ids = {registry.mint(rng, 0.0).connection_id for _ in range(8998)}  # type: ignore[union-attr]
    assert min(ids) == 1002
    assert max(ids) == 9999
    assert len(ids) == 8998
    assert registry.legacy(0.0) is not None
    assert registry.full
    assert registry.mint(rng, 0.0) is None


def test_internal_errors_become_500_and_events(monkeypatch: pytest.MonkeyPatch) -> None:
    from reactor_proto.runtime import InternalErrorOccurred, routes

    harness = started()
    cid = harness.connect()
    harness.take()

    def boom(*args: object) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(harness.machine.channels, "frame", boom)
    from reactor_proto.http import HttpRequest

    request = HttpRequest(method="GET", url="http://localhost:8080/health")
    monkeypatch.setattr(routes, "_route", boom)
    response = harness.machine.handle_request(request, harness.now)
    assert response.status == 500
    assert response.header("access-control-allow-origin") == "*"
    harness.data(cid, PING)
    _, events = harness.take()
    assert [type(e) for e in events] == [InternalErrorOccurred, InternalErrorOccurred]
