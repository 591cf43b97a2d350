"""Both ends of the protocol in memory: our client machine against our runtime machine, and
through our coordinator machine, on the paired harness (tests/core/paired.py) with an
instantaneous wire, plus scripted faults on that wire.

Only the peer connection is simulated (offer/answer texts and the "transport is up" signals);
every HTTP request, data-channel and control-channel message is produced by one machine
and consumed by the other exactly as it would cross the wire.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from reactor_proto.client import (
    ClientConfig,
    ErrorOccurred,
    MessageReceived,
    Phase,
    ReactorStatus,
)
from reactor_proto.errors import SessionGoneError, UnauthorizedError

from .paired import CONNECT_BOUND, Endpoint, Paired


def connected(net: Paired, e: Endpoint, **kwargs: Any) -> int:
    """Connect and let the answer poll run until the connect completes."""
    op: int = e.client.connect(net.now, **kwargs)
    assert net.run(CONNECT_BOUND, stop=lambda: e.done(op) is not None)
    return op


def local_pair(orphan: float = 30.0, **client_options: Any) -> tuple[Paired, Endpoint]:
    net = Paired(orphan=orphan, runtime_seed=3)
    return net, net.add_client(seed=1, **client_options)


def coordinator_pair(**client_options: Any) -> tuple[Paired, Endpoint]:
    net = Paired(front=True, runtime_seed=3)
    return net, net.add_client(seed=4, **client_options)


def test_local_transcript_connect_command_pause_publish_terminate() -> None:
    net, e = local_pair()
    op = connected(net, e)
    assert e.result(op).error is None
    assert e.client.status is ReactorStatus.READY
    cid = e.client.connection_id
    assert cid is not None
    assert net.output_paused[(cid, "main_video")] is False  # resume_track reached the runtime
    e.client.send_command("schedule_prompt", {"prompt": "A forest", "chunk": 0}, net.now)
    e.client.send_command("start", {}, net.now)
    assert net.commands == [("schedule_prompt", {"prompt": "A forest", "chunk": 0}),
                            ("start", {})]
    net.runtime.send_model_message("state", {"running": True}, now=net.now)
    assert any(isinstance(ev, MessageReceived) and ev.payload["type"] == "state"
               for ev in e.events)
    e.client.pause_track("main_video", net.now)
    assert net.output_paused[(cid, "main_video")] is True
    publish = e.client.publish_track("webcam", net.now)
    assert e.result(publish).error is None
    assert net.inputs[(cid, "webcam")] is True
    net.run(12.0)  # pings keep the runtime's watchdog quiet
    assert net.runtime.connected_users() == 1
    stop = e.client.disconnect(net.now)
    assert e.result(stop).error is None
    assert net.runtime.state.value == "READY"
    assert e.client.phase is Phase.IDLE


def test_local_transcript_two_clients_race_for_the_publisher_slot() -> None:
    net = Paired(runtime_seed=3)
    a, b = net.add_client(seed=1), net.add_client(seed=2)
    for e in (a, b):
        connected(net, e)
    assert net.runtime.connected_users() == 2
    with net.together():  # both asks leave before either answer arrives
        op_a = a.client.publish_track("webcam", net.now)
        op_b = b.client.publish_track("webcam", net.now)
    results = [a.result(op_a).error, b.result(op_b).error]
    assert results.count(None) == 1
    refused = next(r for r in results if r is not None)
    assert refused.code == "PUBLISHER_SLOT_TAKEN"


def test_local_transcript_invalid_command_is_refused_before_the_wire() -> None:
    net, e = local_pair(validate_commands=False)
    connected(net, e)
    e.client.send_command("schedule_prompt", {"prompt": "x", "chunk": -4}, net.now)
    assert net.commands == []
    rejected = [ev.error for ev in e.events if isinstance(ev, ErrorOccurred)]
    assert rejected and rejected[-1].code == "COMMAND_REJECTED"


def test_recoverable_drop_and_reconnect_inside_the_grace_window() -> None:
    net, e = local_pair()
    connected(net, e)
    first = e.client.connection_id
    e.client.disconnect(net.now, recoverable=True)
    assert net.runtime.state.value == "ORPHANED"
    net.run(20.0)
    op = e.client.reconnect(net.now)
    net.run(1.0)
    assert e.result(op).error is None
    assert net.runtime.state.value == "STREAMING"
    assert e.client.connection_id not in (None, first)


def test_reconnect_after_the_grace_window_reports_the_session_gone() -> None:
    net, e = local_pair(orphan=5.0)
    connected(net, e)
    e.client.disconnect(net.now, recoverable=True)
    net.run(6.0)
    assert net.runtime.state.value == "READY"
    op = e.client.reconnect(net.now)
    assert isinstance(e.result(op).error, SessionGoneError)
    assert e.client.session_id is None


def test_production_transcript_through_the_coordinator() -> None:
    net, e = coordinator_pair()
    op = e.client.connect(net.now)
    net.run(5.0)
    assert e.result(op).error is None
    session = e.client.session_id
    assert session is not None and session != "local"
    assert net.runtime.state.value == "STREAMING"
    e.client.send_command("start", {}, net.now)
    assert net.commands == [("start", {})]
    stop = e.client.disconnect(net.now)
    assert e.result(stop).error is None
    assert net.front is not None
    assert str(net.front.session_state(session)).endswith("CLOSED")
    assert net.front.bookkeeping()["slots_held"] == 0
    assert net.runtime.state.value == "READY"


def test_production_transcript_wrong_key_is_unauthorized() -> None:
    net = Paired(front=True, runtime_seed=3)
    e = net.add_client(ClientConfig.create("helios", api_key="rk_wrong",
                                           api_url="https://api.example.test"), seed=5)
    op = e.client.connect(net.now)
    assert isinstance(e.result(op).error, UnauthorizedError)


def test_adopting_client_never_deletes() -> None:
    net, owner = coordinator_pair()
    op = owner.client.connect(net.now)
    net.run(2.0)
    assert owner.result(op).error is None
    session = owner.client.session_id
    adopter = net.add_client(seed=6)
    op2 = connected(net, adopter, session_id=session)
    assert adopter.result(op2).error is None
    adopter.client.disconnect(net.now)
    assert net.front is not None and session is not None
    assert str(net.front.session_state(session)).endswith("ACTIVE")
    assert net.front.bookkeeping()["slots_held"] == 1


@pytest.mark.parametrize("extra", [{"prompt": 3, "chunk": 0}, {"chunk": 0}])
def test_runtime_rejects_what_the_client_would_have_refused(extra: dict[str, Any]) -> None:
    net, e = local_pair(validate_commands=False)
    connected(net, e)
    e.client.send_command("schedule_prompt", extra, net.now)
    assert net.commands == []
    reason = json.dumps([ev.error.message for ev in e.events if isinstance(ev, ErrorOccurred)])
    assert "schedule_prompt" in reason


# ---- scripted faults on the wire ------------------------------------------------------------

OFFER_ROUTE = "/sessions/local/transport/webrtc/connections/"


def test_a_duplicated_http_response_is_ignored() -> None:
    net, e = local_pair()
    net.faults.duplicate("http", f"POST {OFFER_ROUTE}")
    op = connected(net, e)
    assert e.result(op).error is None
    assert [kind for kind, _, _ in net.faults.fired] == ["http"]
    assert len([ev for ev in e.events if getattr(ev, "op", None) == op]) == 1
    assert e.client.phase is Phase.READY
    assert net.runtime.connected_users() == 1


def test_a_lost_answer_poll_response_is_polled_again() -> None:
    net, e = local_pair()
    net.faults.drop("http", f"GET {OFFER_ROUTE}")
    op = connected(net, e)
    assert e.result(op).error is None
    assert net.faults.fired and net.faults.fired[0][1] == "drop"
    polls = [p for p in e.paths() if p.startswith("GET") and p.endswith("/sdp_params")]
    assert len(polls) >= 2
    assert 0.0 < net.now <= CONNECT_BOUND


def test_a_late_publish_grant_inside_the_timeout_still_publishes() -> None:
    net, e = local_pair()
    connected(net, e)
    net.faults.delay("down", 3.0, "publish_track")
    started = net.now
    op = e.client.publish_track("webcam", net.now)
    assert e.done(op) is None  # the grant is still on the wire
    assert net.run(10.0, stop=lambda: e.done(op) is not None)
    assert e.result(op).error is None
    assert net.now - started == 3.0
    cid = e.client.connection_id
    assert e.client.published_tracks == {"webcam"} and net.runtime.slots == {"webcam": cid}


def test_a_lost_publish_grant_ends_in_a_typed_timeout() -> None:
    net, e = local_pair()
    connected(net, e)
    net.faults.drop("down", "publish_track")
    op = e.client.publish_track("webcam", net.now)
    assert net.run(60.0, stop=lambda: e.done(op) is not None)
    error = e.result(op).error
    assert error is not None and error.code == "REQUEST_TIMEOUT"
    assert e.client.phase is Phase.READY
    assert e.client.published_tracks == frozenset()


def test_a_delayed_model_message_holds_back_the_ones_after_it() -> None:
    net, e = local_pair()
    connected(net, e)
    net.faults.delay("down", 5.0, '"first"')
    net.runtime.send_model_message("first", {}, now=net.now)
    net.runtime.send_model_message("second", {}, now=net.now)

    def received() -> list[str]:
        return [ev.payload["type"] for ev in e.events if isinstance(ev, MessageReceived)]

    assert received() == []  # "second" may not overtake "first" on the ordered channel
    net.run(4.9)
    assert received() == []
    net.run(0.2)
    assert received() == ["first", "second"]
