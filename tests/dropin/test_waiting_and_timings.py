"""The core's record of waiting for a GPU (queue position, time waited), ``queue=False``
and the per-step connection timings."""

from __future__ import annotations

from typing import Any

from reactor_proto.client import ClientConfig, ErrorOccurred, ReactorStatus
from reactor_proto.errors import NoCapacityError
from tests.core.paired import Endpoint, descriptor, reply, scripted_client

URL = "https://api.example.test"


def queued_server(h: Endpoint, positions: list[int]) -> None:
    """GET /sessions/s-1 answers PENDING with the given queue positions, then ready."""
    left = list(positions)

    def poll(request: Any) -> Any:
        if left:
            return reply(200, {"session_id": "s-1", "state": "PENDING",
                               "model": {"name": "helios"}, "queue_position": left.pop(0)})
        return reply(200, descriptor("WAITING", schema=False) | {"session_id": "s-1"})

    h.server.on("GET", "/sessions/s-1", poll)


def test_waiting_info_follows_the_queue_then_clears_at_ready() -> None:
    h = scripted_client(ClientConfig.create("helios", jwt="j", api_url=URL))
    queued_server(h, [3, 2, 1])
    seen: list[tuple[int | None, float | None]] = []
    h.connect()
    while h.machine.status is not ReactorStatus.READY:
        if h.machine.status is ReactorStatus.WAITING:
            seen.append((h.machine.queue_position, h.machine.waiting_since))
        deadline = h.machine.next_deadline()
        assert deadline is not None
        h.now = max(h.now, deadline)
        h.machine.handle_timeout(h.now)
        h.pump()
    positions = [p for p, _ in seen if p is not None]
    assert positions == sorted(positions, reverse=True) and positions[-1] == 1
    assert len({since for _, since in seen}) == 1  # one wait, one start time
    assert h.machine.queue_position is None and h.machine.waiting_since is None


def test_queue_false_fails_fast_with_a_typed_no_capacity_error_and_ends_the_session() -> None:
    h = scripted_client(ClientConfig.create("helios", jwt="j", api_url=URL, queue=False))
    queued_server(h, [4] * 100)
    op = h.connect()
    h.run_until(lambda: h.completed(op) is not None, limit=5.0)
    done = h.completed(op)
    assert done is not None and isinstance(done.error, NoCapacityError)
    error = done.public_error
    assert isinstance(error, NoCapacityError)
    assert (error.code, error.cause, error.recoverable) == ("CONNECTION_FAILED",
                                                            "NO_CAPACITY", True)
    assert h.of_type(ErrorOccurred)[-1].error is error
    assert h.paths()[-1] == "DELETE /sessions/s-1"
    assert h.machine.status is ReactorStatus.DISCONNECTED


def test_connection_timings_name_every_step_and_add_up() -> None:
    h = scripted_client(ClientConfig.create("helios", api_key="rk_k", api_url=URL))
    h.server.session_polls_until_ready = 2
    h.connect()
    h.run_until(lambda: h.machine.status is ReactorStatus.READY)
    timings = h.machine.connection_timings
    assert timings is not None and not timings.reconnect
    names = [s.step for s in timings.steps]
    assert names[:3] == ["fetching_token", "creating_session", "polling_session"]
    assert names[-1] == "connecting_transport"
    assert abs(sum(s.seconds for s in timings.steps) - timings.total) < 1e-9
    assert timings.as_ms()["polling_session"] > 0  # the two polls waited
    h.machine.disconnect(h.now, recoverable=True)
    h.pump()
    h.machine.reconnect(h.now)
    h.pump()
    h.run_until(lambda: h.machine.status is ReactorStatus.READY)
    again = h.machine.connection_timings
    assert again is not None and again.reconnect and again is not timings


def test_the_coordinator_reports_the_queue_position_of_queued_sessions_only() -> None:
    from tests.core.coordinator_harness import Driver, body_of

    d = Driver(slots=1)
    jwt = d.token()
    first = d.create_id(jwt)
    queued = [d.create_id(jwt) for _ in range(3)]
    assert "queue_position" not in body_of(d.get(jwt, first))  # it has the GPU
    assert [body_of(d.get(jwt, sid))["queue_position"] for sid in queued] == [1, 2, 3]
    assert d.delete(jwt, queued[0]).status == 200  # leaving the queue moves the others up
    assert [body_of(d.get(jwt, sid)).get("queue_position") for sid in queued[1:]] == [1, 2]
    assert d.delete(jwt, first).status == 200  # the GPU is free: the head gets it
    d.advance(1.0)
    assert "queue_position" not in body_of(d.get(jwt, queued[1]))
    assert body_of(d.get(jwt, queued[2]))["queue_position"] == 1
