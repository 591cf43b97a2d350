"""Paths of the client's handler modules that the scenario tests do not reach on their own,
driven through the public ``ClientMachine`` facade."""

from __future__ import annotations

import pytest

from reactor_proto.client import ClientConfig, ErrorOccurred, Phase, ReactorStatus
from reactor_proto.errors import InvalidStateError, LocalProtocolError, TransportError

from .paired import OFFER_SDP, scripted_client


def _local(**config: object) -> ClientConfig:
    return ClientConfig(model_name="helios", local=True, api_url="http://localhost:8080",
                        **config)  # type: ignore[arg-type]


def test_facade_queries_after_connect() -> None:
    h = scripted_client()
    h.connect()
    m = h.machine
    assert m.phase is Phase.READY and m.channels_open
    assert m.capabilities is not None and m.session_info is not None
    assert m.session_info.session_id == "local"
    assert m.last_error is None and m.expires_at is None
    assert m.recvonly_tracks() == ["main_video"]
    assert m.config.local and m.connection_id is not None
    assert m.drain_events() == [] and m.drain_actions() == []
    assert m.next_action() is None and m.next_event() is None


def test_reconnect_from_ready_replaces_the_peer_in_local_mode() -> None:
    h = scripted_client()
    h.connect()
    first = h.current_peer()
    op = h.machine.reconnect(h.now)
    h.pump()
    done = h.completed(op)
    assert done is not None and done.error is None
    assert h.peers[first].closed and h.current_peer() != first
    assert h.machine.phase is Phase.READY


def test_reconnect_is_refused_while_connecting() -> None:
    h = scripted_client(auto_peer=False)
    h.connect()
    assert h.machine.phase is Phase.PREPARING
    with pytest.raises(InvalidStateError, match="not possible while preparing"):
        h.machine.reconnect(h.now)


def test_offer_without_a_mid_fails_the_attempt_and_ends_the_session() -> None:
    h = scripted_client(auto_peer=False)
    op = h.connect()
    h.machine.offer_created(h.current_peer(), OFFER_SDP, {}, h.now)
    h.pump()
    done = h.completed(op)
    assert done is not None and isinstance(done.error, TransportError)
    assert h.machine.phase is Phase.IDLE
    assert any(p.endswith("/stop_session") for p in h.paths())


def test_queued_notifications_are_sent_when_ready() -> None:
    h = scripted_client(auto_peer=False)
    h.connect()
    h.machine.pause_track("main_video", h.now)
    peer = h.current_peer()
    h.machine.offer_created(peer, OFFER_SDP, {"main_video": "0", "webcam": "1"}, h.now)
    h.pump()
    h.machine.answer_applied(peer, h.now)
    for label in ("control", "data"):
        h.machine.channel_opened(peer, label, h.now)
    h.machine.peer_state(peer, "connected", h.now)
    h.pump()
    assert h.machine.phase is Phase.READY
    events = [(m["event"], m["data"]["name"]) for m in h.channel_texts("control")]
    assert events == [("pause_track", "main_video")]  # not resumed: the user paused it


def test_notification_queue_is_bounded() -> None:
    h = scripted_client(_local(max_queued_notifications=1), auto_peer=False)
    h.connect()
    h.machine.pause_track("main_video", h.now)
    with pytest.raises(InvalidStateError, match="too many notifications"):
        h.machine.resume_track("main_video", h.now)


def test_notifications_are_refused_while_terminating() -> None:
    h = scripted_client()
    h.server.on("POST", "/stop_session", lambda request: None)  # never answers
    h.connect()
    h.machine.disconnect(h.now)
    h.pump()
    assert h.machine.phase is Phase.TERMINATING
    with pytest.raises(InvalidStateError, match="not connected"):
        h.machine.pause_track("main_video", h.now)


def test_peer_failure_when_ready_suspends_and_keeps_the_session() -> None:
    h = scripted_client()
    h.connect()
    h.machine.peer_failed(h.current_peer(), "dtls", h.now)
    h.pump()
    assert h.machine.phase is Phase.SUSPENDED
    assert h.machine.status is ReactorStatus.DISCONNECTED
    assert h.machine.session_id == "local"
    errors = h.of_type(ErrorOccurred)
    assert errors[-1].error.recoverable
    h.machine.pause_track("main_video", h.now)  # remembered for the next connection
    assert h.machine.paused_tracks == frozenset({"main_video"})


def test_adopting_needs_a_non_empty_session_id() -> None:
    h = scripted_client(ClientConfig(model_name="helios", jwt="jwt-1",
                             api_url="https://api.example.test"))
    with pytest.raises(LocalProtocolError, match="session_id"):
        h.machine.connect(h.now, session_id="")
