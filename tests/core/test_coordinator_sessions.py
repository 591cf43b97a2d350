"""Session lifecycle of the coordinator: queue, assignment, readiness, expiry, restart."""

from __future__ import annotations

import pytest

from reactor_proto.coordinator import (
    RuntimeCallFailed,
    SessionClosed,
    SessionCreated,
    SessionState,
    SessionStateChanged,
)
from reactor_proto.errors import LocalProtocolError

from .coordinator_harness import CAPABILITIES, UNIX_OFFSET, Driver, body_of


def test_create_answers_created_then_waiting_with_capabilities() -> None:
    d = Driver(assign_delay=2.0)
    jwt = d.token()
    created = d.create(jwt)
    assert created.status == 201
    body = body_of(created)
    assert body["state"] == "CREATED"
    assert body["model"] == {"name": "helios"}
    assert body["cluster"] == "emulator"
    assert body["server_info"] == {"server_version": "0.1.0"}
    sid = body["session_id"]
    assert len(sid) == 36
    assert sid[14] == "4"
    pending = body_of(d.get(jwt, sid))
    assert pending["state"] == "PENDING"
    assert "capabilities" not in pending
    assert "selected_transport" not in pending
    assert d.machine.next_deadline() == pytest.approx(d.now + 2.0)
    d.advance(2.0)
    ready = body_of(d.get(jwt, sid))
    assert ready["state"] == "WAITING"
    assert ready["selected_transport"] == {"protocol": "webrtc", "version": "1.0"}
    assert ready["capabilities"] == CAPABILITIES
    assert ready["schema"] == {"openapi": "3.1.0"}
    assert d.runtimes[0].state == "WAITING"
    info = body_of(d.get(jwt, sid, "/info"))
    assert info == {"session_id": sid, "state": "WAITING", "cluster": "emulator"}
    kinds = [type(e) for e in d.events]
    assert SessionCreated in kinds
    assert SessionStateChanged in kinds


def test_active_observed_by_polling_and_on_get() -> None:
    d = Driver(runtime_poll_interval=5.0)
    jwt = d.token()
    sid = d.create_id(jwt)
    assert d.machine.session_state(sid) is SessionState.WAITING
    d.runtimes[0].connect()
    d.advance(5.0)
    assert d.machine.session_state(sid) is SessionState.ACTIVE
    assert d.state(jwt, sid) == "ACTIVE"


def test_queue_one_slot_three_clients_fifo() -> None:
    d = Driver(slots=1, assign_delay=1.0)
    jwts = [d.token() for _ in range(3)]
    sids = [d.create_id(j) for j in jwts]
    assert list(d.machine.queue) == [sids[1], sids[2]]
    d.advance(1.0)
    assert [d.state(j, s) for j, s in zip(jwts, sids, strict=True)] == [
        "WAITING", "PENDING", "PENDING"]
    assert d.delete(jwts[0], sids[0]).status == 200
    assert d.machine.session_slot(sids[1]) == 0
    assert d.state(jwts[1], sids[1]) == "PENDING"   # assignment delay still running
    d.advance(1.0)
    assert [d.state(j, s) for j, s in zip(jwts[1:], sids[1:], strict=True)] == [
        "WAITING", "PENDING"]
    d.delete(jwts[1], sids[1])
    d.advance(1.0)
    assert d.state(jwts[2], sids[2]) == "WAITING"
    assert list(d.machine.queue) == []


def test_delete_then_404_and_closed_visible_until_purged() -> None:
    d = Driver(closed_retention=10.0)
    jwt = d.token()
    sid = d.create_id(jwt)
    deleted = d.delete(jwt, sid, reason="done")
    assert deleted.status == 200
    assert body_of(deleted) == {"session_id": sid, "state": "CLOSED", "reason": "done"}
    assert d.runtimes[0].state == "READY"        # stop_session was sent
    assert d.delete(jwt, sid).status == 404
    snapshot = body_of(d.get(jwt, sid))
    assert snapshot["state"] == "CLOSED"
    assert "capabilities" not in snapshot
    assert any(isinstance(e, SessionClosed) and e.reason == "done" for e in d.events)
    d.advance(10.0)
    assert d.get(jwt, sid).status == 404
    assert d.machine.bookkeeping() == {"sessions": 0, "queued": 0, "slots_held": 0,
                                       "uploads": 0, "rate_buckets": 0, "poll_timer": 0}
    assert d.machine.next_deadline() is None


def test_closed_sessions_are_also_bounded_by_count() -> None:
    d = Driver(closed_retention=600.0, max_closed_sessions=2)
    jwt = d.token()
    sids = []
    for _ in range(4):
        sid = d.create_id(jwt)
        assert d.delete(jwt, sid).status == 200
        sids.append(sid)
        d.advance(1.0)
    # the two oldest CLOSED sessions are forgotten long before their retention ends
    assert [d.get(jwt, sid).status for sid in sids] == [404, 404, 200, 200]
    assert d.machine.bookkeeping()["sessions"] == 2
    with pytest.raises(LocalProtocolError, match="max_closed_sessions"):
        Driver(max_closed_sessions=-1)


def test_delete_pending_and_reserved_sessions() -> None:
    d = Driver(slots=1, assign_delay=3.0)
    jwt = d.token()
    first, second = d.create_id(jwt), d.create_id(jwt)
    assert d.delete(jwt, second).status == 200     # queued
    assert d.delete(jwt, first).status == 200      # slot reserved, runtime not started
    assert d.runtimes[0].state == "READY"
    assert all(r.url.endswith("/start_session") is False for r in d.runtimes[0].requests)
    assert d.machine.bookkeeping()["slots_held"] == 0


def test_expiry_from_config_and_token() -> None:
    d = Driver(max_session_seconds=60.0)
    jwt = d.token()
    sid = d.create_id(jwt)
    assert body_of(d.get(jwt, sid))["expires_at"] == pytest.approx(100.0 + UNIX_OFFSET + 60)
    d.advance(59.0)
    assert d.state(jwt, sid) == "WAITING"
    d.advance(1.0)
    assert d.state(jwt, sid) == "CLOSED"
    assert d.runtimes[0].state == "READY"
    assert any(isinstance(e, SessionClosed) and e.reason == "expired" for e in d.events)
    short = d.token(body={"authorization_details": [{
        "type": "session", "constraints": {"max_session_duration_seconds": 5}}]})
    sid2 = d.create_id(short)
    assert body_of(d.get(short, sid2))["expires_at"] == pytest.approx(d.now + UNIX_OFFSET + 5)
    d.advance(5.0)
    assert d.state(short, sid2) == "CLOSED"


def test_orphan_timeout_on_runtime_closes_session() -> None:
    d = Driver(runtime_poll_interval=1.0)
    jwt = d.token()
    sid = d.create_id(jwt)
    d.runtimes[0].connect()
    d.advance(1.0)
    d.runtimes[0].orphan_timeout()
    d.advance(1.0)
    assert d.machine.session_state(sid) is SessionState.CLOSED
    assert any(isinstance(e, SessionClosed) and e.reason == "runtime_session_ended"
               for e in d.events)


def test_runtime_failed_inactive_then_restart_on_other_slot() -> None:
    d = Driver(slots=2)
    jwt = d.token()
    sid = d.create_id(jwt)
    assert d.machine.session_slot(sid) == 0
    transport = d.transport(jwt, sid, "POST", "/connections")
    assert transport.status == 201
    d.machine.runtime_failed(0, d.now)
    d.drain()
    assert d.state(jwt, sid) == "INACTIVE"
    assert d.transport(jwt, sid, "POST", "/connections").status == 409
    restarted = d.request("PUT", f"/sessions/{sid}", headers=d.auth(jwt))
    assert restarted.status == 200
    assert body_of(restarted)["state"] == "PENDING"
    assert d.state(jwt, sid) == "WAITING"
    assert d.machine.session_slot(sid) == 1
    assert d.request("PUT", f"/sessions/{sid}", headers=d.auth(jwt)).status == 409
    d.machine.runtime_recovered(0, d.now)
    other = d.create_id(jwt)
    assert d.machine.session_slot(other) == 0


def test_runtime_failed_before_start_requeues_first() -> None:
    d = Driver(slots=2, assign_delay=5.0)
    jwt = d.token()
    first, second = d.create_id(jwt), d.create_id(jwt)
    third = d.create_id(jwt)
    assert list(d.machine.queue) == [third]
    d.machine.runtime_failed(0, d.now)
    assert list(d.machine.queue) == [first, third]
    assert d.machine.session_slot(second) == 1
    d.machine.runtime_failed(1, d.now)
    assert list(d.machine.queue) == [second, first, third]
    d.machine.runtime_recovered(1, d.now)
    d.advance(5.0)
    assert d.machine.session_state(second) is SessionState.WAITING


@pytest.mark.parametrize("slot", [-1, 2, True, "0"])
def test_runtime_failed_rejects_bad_slots(slot: object) -> None:
    d = Driver(slots=2)
    with pytest.raises(LocalProtocolError, match="slot"):
        d.machine.runtime_failed(slot, d.now)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="slot"):
        d.machine.runtime_recovered(slot, d.now)  # type: ignore[arg-type]


def test_start_failure_makes_session_inactive() -> None:
    d = Driver()
    d.runtimes[0].fail_start = True
    jwt = d.token()
    sid = d.create_id(jwt)
    assert d.state(jwt, sid) == "INACTIVE"
    assert any(isinstance(e, RuntimeCallFailed) and e.operation == "start_session"
               for e in d.events)
    d.runtimes[0].fail_start = False
    assert d.request("PUT", f"/sessions/{sid}", headers=d.auth(jwt)).status == 200
    assert d.state(jwt, sid) == "WAITING"


def test_start_raising_or_garbage_descriptor() -> None:
    d = Driver()
    d.runtimes[0].raise_on = "/start_session"
    jwt = d.token()
    sid = d.create_id(jwt)
    assert d.state(jwt, sid) == "INACTIVE"
    d.runtimes[0].raise_on = None
    d.request("PUT", f"/sessions/{sid}", headers=d.auth(jwt))
    d.runtimes[0].garbage_session = True
    assert d.state(jwt, sid) == "WAITING"      # unreadable GET /session: no change
    d.runtimes[0].raise_on = "/session"
    assert d.state(jwt, sid) == "WAITING"
    failures = [e for e in d.events if isinstance(e, RuntimeCallFailed)]
    assert {e.operation for e in failures} >= {"start_session", "get_session"}


def test_max_sessions_per_key_conflict() -> None:
    from reactor_proto.coordinator import ApiKey

    d = Driver(slots=3, api_keys=(ApiKey(key_id="solo", secret="rk_solo_secret",
                                         max_sessions=1),))
    jwt = d.token("rk_solo_secret")
    sid = d.create_id(jwt)
    conflict = d.create(jwt)
    assert conflict.status == 409
    assert "limit is 1" in body_of(conflict)["detail"]
    d.delete(jwt, sid)
    assert d.create(jwt).status == 201
    scoped = d.token("rk_solo_secret", body={"authorization_details": [{
        "type": "session", "constraints": {"max_sessions": 1}}]})
    assert d.create(scoped).status == 409


def test_sessions_are_private_to_their_key() -> None:
    from .coordinator_harness import SECRET_B

    d = Driver()
    jwt_a, jwt_b = d.token(), d.token(SECRET_B)
    sid = d.create_id(jwt_a)
    assert d.get(jwt_b, sid).status == 404
    assert d.delete(jwt_b, sid).status == 404
    assert d.transport(jwt_b, sid, "GET", "/ice_servers").status == 404
