"""The client machine against a scripted local runtime: the §1.6 local sequence."""

from __future__ import annotations

import json

import pytest

from reactor_proto.client import (
    CapabilitiesReceived,
    ClientConfig,
    ErrorOccurred,
    MessageReceived,
    OperationKind,
    Phase,
    ReactorStatus,
    RuntimeMessageReceived,
    SchemaReceived,
    SessionIdChanged,
)
from reactor_proto.errors import (
    AbortedError,
    CommandValidationError,
    InvalidStateError,
    LocalProtocolError,
    MessageTooLargeError,
    SessionGoneError,
)

from .paired import Endpoint, answer_sdp, descriptor, reply, scripted_client


def ready_harness(**config: object) -> Endpoint:
    h = scripted_client(ClientConfig(model_name="helios", local=True, api_url="http://localhost:8080",
                             **config))  # type: ignore[arg-type]
    op = h.connect()
    done = h.completed(op)
    assert done is not None
    assert done.error is None, done
    return h


def test_local_connect_sequence_and_headers() -> None:
    h = ready_harness()
    assert h.machine.status is ReactorStatus.READY
    assert h.statuses == ["connecting", "waiting", "ready"]
    assert h.paths()[0] == "POST /start_session"
    assert set(h.paths()[1:3]) == {"POST /sessions/local/transport/webrtc/connections",
                                   "GET /sessions/local/transport/webrtc/ice_servers"}
    assert h.paths()[3:] == [
        "POST /sessions/local/transport/webrtc/connections/4821/sdp_params",
        "GET /sessions/local/transport/webrtc/connections/4821/sdp_params",
    ]
    start, *_rest = h.server.requests
    names = {k for k, _ in start.headers}
    assert "authorization" not in names
    assert ("reactor-api-version", "1") in start.headers
    offer = h.server.requests[3]
    assert ("authorization", "Bearer local") in offer.headers
    assert ("reactor-webrtc-version", "1.0") in offer.headers
    body = json.loads(offer.body or b"")
    assert body["track_mapping"] == [
        {"mid": "0", "name": "main_video", "kind": "video", "direction": "recvonly"},
        {"mid": "1", "name": "webcam", "kind": "video", "direction": "sendonly"},
    ]
    assert body["client_info"]["sdk_type"] == "python"
    assert h.machine.session_id == "local"
    assert h.of_type(SessionIdChanged)[0].session_id == "local"
    assert h.of_type(CapabilitiesReceived)
    assert h.of_type(SchemaReceived)[0].schema.command_names() == ("schedule_prompt", "start")


def test_ready_resumes_recvonly_tracks_then_pings_every_interval() -> None:
    h = ready_harness()
    control = h.channel_texts("control")
    assert control == [{"type": "notification", "event": "resume_track",
                        "data": {"name": "main_video"}}]
    assert h.channel_texts("data") == []  # schema came with the descriptor: no request
    h.advance(4.9)
    assert h.channel_texts("data") == []
    h.advance(0.2)
    assert h.channel_texts("data") == [{"scope": "runtime",
                                        "data": {"type": "ping", "data": {}}}]
    h.advance(10.0)
    assert len(h.channel_texts("data")) == 3


def test_auto_resume_can_be_disabled() -> None:
    h = scripted_client()
    h.connect(auto_resume_tracks=False)
    assert h.channel_texts("control") == []


def test_requests_schema_when_descriptor_has_none() -> None:
    h = scripted_client()
    h.server.on("POST", "/start_session", lambda r: reply(200, descriptor(schema=False)))
    h.connect()
    assert h.channel_texts("data") == [{"scope": "runtime",
                                        "data": {"type": "requestSchema", "data": {}}}]
    with pytest.raises(InvalidStateError):
        scripted_client().machine.request_schema(0.0)


def test_answer_poll_schedule_is_fast_then_capped() -> None:
    h = scripted_client()
    h.server.answer_after_polls = 40
    op = h.connect()
    times: list[float] = []
    while h.completed(op) is None:
        deadline = h.machine.next_deadline()
        assert deadline is not None
        h.now = deadline
        times.append(deadline)
        h.machine.handle_timeout(h.now)
        h.pump()
    assert h.server.answer_polls == 41
    gaps = [round(b - a, 4) for a, b in zip([0.0, *times], times, strict=False)]
    # every 8 ms for the first quarter second (issue 20), then the backoff, capped
    assert gaps[:32] == [0.008] * 32
    assert gaps[32:38] == [0.025, 0.05, 0.1, 0.2, 0.4, 0.8]
    assert gaps[38:40] == [1.0, 1.0]


def test_answer_that_never_comes_fails_at_the_deadline_without_a_wasted_sleep() -> None:
    h = scripted_client()
    h.server.answer_after_polls = 10**9
    op = h.connect()
    h.run_until(lambda: h.completed(op) is not None)
    done = h.completed(op)
    assert done is not None
    assert done.error is not None
    assert done.error.code == "REQUEST_TIMEOUT"
    assert "SDP answer" in done.error.message
    assert h.now == pytest.approx(h.config.deadlines.answer)
    assert h.machine.phase is Phase.IDLE
    # The session we started is stopped; nothing is left in flight.
    assert h.paths()[-1] == "POST /stop_session"
    assert h.machine.is_quiescent()
    assert h.machine.session_id is None


def test_send_command_validates_against_schema() -> None:
    h = ready_harness()
    h.machine.send_command("schedule_prompt", {"prompt": "A forest", "chunk": 0.0}, h.now)
    h.pump()
    assert h.channel_texts("data")[-1] == {
        "scope": "application",
        "data": {"type": "schedule_prompt", "data": {"prompt": "A forest", "chunk": 0}}}
    with pytest.raises(CommandValidationError) as info:
        h.machine.send_command("schedule_prompt", {"prompt": "x", "chunk": -1}, h.now)
    assert info.value.parameter == "chunk"
    with pytest.raises(CommandValidationError):
        h.machine.send_command("no_such_command", {}, h.now)
    h.machine.send_command("start", '{}', h.now)
    h.machine.send_command("start", None, h.now)
    with pytest.raises(LocalProtocolError):
        h.machine.send_command("start", "not json", h.now)
    with pytest.raises(LocalProtocolError):
        h.machine.send_command("start", [1], h.now)
    with pytest.raises(LocalProtocolError):
        h.machine.send_command("start", {1: 2}, h.now)
    with pytest.raises(LocalProtocolError):
        h.machine.send_command("", {}, h.now)


def test_send_command_before_ready_raises() -> None:
    h = scripted_client()
    with pytest.raises(InvalidStateError):
        h.machine.send_command("start", {}, 0.0)


def test_message_size_follows_the_answer() -> None:
    h = scripted_client()
    h.server.on("GET", "/sdp_params", lambda r: reply(200, {
        "sdp_answer": answer_sdp(max_message=None), "connection_id": 4821}))
    h.config.validate_commands  # noqa: B018 - documented default stays on
    h.connect()
    assert h.machine.max_message_bytes == 65_536
    with pytest.raises(MessageTooLargeError):
        h.machine.send_command("schedule_prompt", {"prompt": "x" * 70_000, "chunk": 1}, h.now)


def test_inbound_messages_are_classified() -> None:
    h = ready_harness()
    peer = h.current_peer()
    m = h.machine
    m.channel_message(peer, "data", json.dumps(
        {"scope": "application", "data": {"type": "state", "data": {"running": True}}}), h.now)
    m.channel_message(peer, "data", json.dumps(
        {"scope": "runtime", "data": {"type": "mediaStats",
                                      "data": {"video": {"aggregateQos": 10}}}}), h.now)
    m.channel_message(peer, "data", "plain text", h.now)
    m.channel_message(peer, "data", json.dumps(
        {"scope": "runtime", "data": {"type": "commandRejected",
                                      "data": {"command": "x", "reason": "unknown"}}}), h.now)
    m.channel_message(peer, "data", "x" * 300_000, h.now)
    m.channel_message(peer + 1, "data", "stale peer", h.now)
    h.collect()
    messages = [e.payload for e in h.of_type(MessageReceived)]
    assert messages == [{"type": "state", "data": {"running": True}}, "plain text"]
    runtime = [e.payload["type"] for e in h.of_type(RuntimeMessageReceived)]
    assert runtime == ["mediaStats", "commandRejected"]
    errors = [e.error.code for e in h.of_type(ErrorOccurred)]
    assert errors == ["COMMAND_REJECTED", "DECODE_FAILED"]


def test_model_schema_message_replaces_schema() -> None:
    h = scripted_client()
    h.server.on("POST", "/start_session", lambda r: reply(200, descriptor(schema=False)))
    h.connect()
    from .paired import HELIOS_LIKE_SCHEMA

    peer = h.current_peer()
    h.machine.channel_message(peer, "data", json.dumps(
        {"scope": "runtime", "data": {"type": "modelSchema", "data": HELIOS_LIKE_SCHEMA}}),
        h.now)
    h.machine.channel_message(peer, "data", json.dumps(
        {"scope": "runtime", "data": {"type": "modelSchema", "data": {"bad": 1}}}), h.now)
    h.collect()
    assert h.machine.schema is not None
    assert h.of_type(ErrorOccurred)[-1].error.code == "DECODE_FAILED"


def test_publish_track_grant_attaches_and_refusal_is_typed() -> None:
    h = ready_harness()
    m = h.machine
    peer = h.current_peer()
    op = m.publish_track("webcam", h.now)
    h.pump()
    request = h.channel_texts("control")[-1]
    assert request["type"] == "request"
    assert request["method"] == "publish_track"
    assert request["request_id"] == "ctrl_1"
    m.channel_message(peer, "control", json.dumps(
        {"type": "response", "method": "publish_track", "request_id": "ctrl_1", "data": {}}),
        h.now)
    h.pump()
    done = h.completed(op)
    assert done is not None
    assert done.error is None
    assert done.kind is OperationKind.PUBLISH
    assert h.attached == ["webcam"]
    with pytest.raises(InvalidStateError):
        m.publish_track("webcam", h.now)
    m.unpublish_track("webcam", h.now)
    h.pump()
    assert h.detached == ["webcam"]
    assert h.channel_texts("control")[-1]["event"] == "unpublish_track"
    with pytest.raises(LocalProtocolError):
        m.unpublish_track("webcam", h.now)
    op2 = m.publish_track("webcam", h.now)
    h.pump()
    m.channel_message(peer, "control", json.dumps(
        {"type": "response", "method": "publish_track", "request_id": "ctrl_2",
         "error": {"code": "PUBLISHER_SLOT_TAKEN", "message": "taken"}}), h.now)
    m.channel_message(peer, "control", json.dumps(
        {"type": "response", "method": "publish_track", "request_id": "ctrl_99",
         "data": {}}), h.now)
    m.channel_message(peer, "control", json.dumps(
        {"type": "notification", "event": "x", "data": {}}), h.now)
    m.channel_message(peer, "control", "{not json", h.now)
    h.pump()
    failed = h.completed(op2)
    assert failed is not None
    assert failed.error is not None
    assert failed.error.code == "PUBLISHER_SLOT_TAKEN"
    with pytest.raises(LocalProtocolError):
        m.publish_track("main_video", h.now)
    with pytest.raises(LocalProtocolError):
        m.publish_track("nope", h.now)


def test_control_request_times_out() -> None:
    h = ready_harness()
    op = h.machine.publish_track("webcam", h.now)
    h.pump()
    h.advance(10.0)
    done = h.completed(op)
    assert done is not None
    assert done.error is not None
    assert done.error.code == "REQUEST_TIMEOUT"


def test_pause_and_resume_are_remembered_across_reconnect() -> None:
    h = ready_harness()
    m = h.machine
    m.pause_track("main_video", h.now)
    h.pump()
    assert h.channel_texts("control")[-1]["event"] == "pause_track"
    assert m.paused_tracks == {"main_video"}
    m.disconnect(h.now, recoverable=True)
    h.pump()
    m.resume_track("main_video", h.now)  # remembered while suspended
    m.pause_track("main_video", h.now)
    h.sent.clear()
    op = m.reconnect(h.now)
    h.pump()
    assert h.completed(op) is not None
    assert h.channel_texts("control") == []  # the user paused it: no auto-resume
    with pytest.raises(LocalProtocolError):
        m.pause_track("webcam", h.now)


def test_recoverable_disconnect_keeps_session_and_reconnect_registers_fresh_id() -> None:
    h = ready_harness()
    m = h.machine
    first_peer = h.current_peer()
    op = m.disconnect(h.now, recoverable=True)
    h.pump()
    assert h.completed(op) is not None
    assert m.phase is Phase.SUSPENDED
    assert m.session_id == "local"
    assert h.peers[first_peer].closed
    assert "POST /stop_session" not in h.paths()
    with pytest.raises(InvalidStateError):
        m.connect(h.now)
    op = m.reconnect(h.now)
    h.pump()
    done = h.completed(op)
    assert done is not None
    assert done.error is None
    assert done.kind is OperationKind.RECONNECT
    assert h.statuses[-2:] == ["connecting", "ready"]
    registrations = [p for p in h.paths() if p.endswith("/connections")]
    assert len(registrations) == 2
    assert m.connection_id == 4822


def test_stale_answer_identity_is_not_applied() -> None:
    h = ready_harness()
    m = h.machine
    m.disconnect(h.now, recoverable=True)
    h.pump()
    polls_before = h.server.answer_polls
    h.server.answer_ufrag = "srv1-4821"  # the server still returns the old answer
    op = m.reconnect(h.now)
    h.pump()
    assert h.completed(op) is None
    h.server.answer_ufrag = None
    h.run_until(lambda: h.completed(op) is not None)
    assert h.server.answer_polls >= polls_before + 2
    assert m.status is ReactorStatus.READY


def test_reconnect_after_session_ended_reports_session_gone() -> None:
    h = ready_harness()
    m = h.machine
    m.disconnect(h.now, recoverable=True)
    h.pump()
    h.server.on("POST", "/connections", lambda r: reply(400, {"detail": "No session running"}))
    op = m.reconnect(h.now)
    h.pump()
    done = h.completed(op)
    assert done is not None
    assert isinstance(done.error, SessionGoneError)
    assert m.phase is Phase.IDLE
    assert m.session_id is None
    assert "POST /stop_session" not in h.paths()


def test_transport_loss_is_recoverable_and_never_stops_the_session() -> None:
    h = ready_harness()
    m = h.machine
    m.channel_closed(h.current_peer(), "data", h.now)
    h.pump()
    errors = h.of_type(ErrorOccurred)
    assert errors[-1].error.code == "GPU_CONNECTION_ERROR"
    assert errors[-1].error.recoverable
    assert m.phase is Phase.SUSPENDED
    assert m.session_id == "local"
    assert "POST /stop_session" not in h.paths()
    assert h.machine.next_deadline() is None  # no auto-reconnect unless asked


def test_auto_reconnect_within_grace_window() -> None:
    h = ready_harness(auto_reconnect=True)
    m = h.machine
    m.peer_state(h.current_peer(), "failed", h.now)
    h.pump()
    assert m.phase is Phase.SUSPENDED
    h.advance(3.0)
    assert m.status is ReactorStatus.READY


def test_auto_reconnect_gives_up_after_grace_and_ends_session() -> None:
    h = ready_harness(auto_reconnect=True)
    m = h.machine
    h.server.on("POST", "/connections", lambda r: reply(503, {"detail": "busy"}))
    m.peer_state(h.current_peer(), "closed", h.now)
    h.pump()
    h.advance(40.0)
    assert m.phase is Phase.IDLE
    assert any(isinstance(e, ErrorOccurred) and e.error.code == "RECONNECTION_FAILED"
               and e.error.cause == "SESSION_GONE"
               for e in h.events)
    assert h.paths()[-1] == "POST /stop_session"


def test_disconnect_stops_created_session_and_is_idempotent() -> None:
    h = ready_harness()
    m = h.machine
    op = m.disconnect(h.now)
    h.pump()
    assert h.completed(op) is not None
    assert h.paths()[-1] == "POST /stop_session"
    assert m.phase is Phase.IDLE
    assert m.session_id is None
    assert h.of_type(SessionIdChanged)[-1].session_id is None
    op2 = m.disconnect(h.now)
    h.pump()
    assert h.completed(op2) is not None


def test_joined_session_is_not_stopped() -> None:
    h = scripted_client()
    h.server.on("POST", "/start_session", lambda r: reply(200, descriptor("STREAMING")))
    h.connect()
    assert not h.machine.created_session
    h.machine.disconnect(h.now)
    h.pump()
    assert "POST /stop_session" not in h.paths()


def test_start_session_conflict_joins_the_running_session() -> None:
    h = scripted_client()
    h.server.on("POST", "/start_session", lambda r: reply(409, {"detail": "running"}))
    op = h.connect()
    assert h.completed(op) is not None
    assert "GET /session" in h.paths()
    assert h.machine.status is ReactorStatus.READY
    assert not h.machine.created_session


def test_disconnect_during_connect_aborts_and_cleans_up() -> None:
    h = scripted_client()
    h.server.answer_after_polls = 10**9
    op = h.connect()
    assert h.machine.phase is Phase.POLLING_ANSWER
    stop = h.machine.abort(h.now)
    h.pump()
    done = h.completed(op)
    assert done is not None
    assert isinstance(done.error, AbortedError)
    assert h.completed(stop) is not None
    assert h.paths()[-1] == "POST /stop_session"
    assert h.machine.is_quiescent()
    assert all(p.closed for p in h.peers.values())


def test_terminate_timeout_still_ends_idle() -> None:
    h = ready_harness()
    h.server.on("POST", "/stop_session", lambda r: None)
    op = h.machine.disconnect(h.now)
    h.pump()
    h.run_until(lambda: h.completed(op) is not None)
    assert h.machine.phase is Phase.IDLE
    assert h.of_type(ErrorOccurred)[-1].error.code == "REQUEST_TIMEOUT"


def test_upload_flow_local_rewrites_url_and_announces() -> None:
    h = scripted_client(ClientConfig(model_name="helios", local=True, api_url="http://127.0.0.1:9999"))
    h.connect()
    op = h.machine.upload("photo.png", "image/png", b"\x89PNG....", h.now)
    h.pump()
    done = h.completed(op)
    assert done is not None
    assert done.error is None
    assert done.value.size == 8
    put = h.server.requests[-1]
    assert put.method == "PUT"
    assert put.url.startswith("http://127.0.0.1:9999/uploads/")
    assert put.headers == (("content-type", "image/png"),)
    announce = h.channel_texts("data")[-1]
    assert announce["data"]["type"] == "fileUploaded"
    assert announce["data"]["data"]["upload_id"] == done.value.upload_id
    with pytest.raises(LocalProtocolError):
        h.machine.upload("x", "text/plain", b"", h.now)
    with pytest.raises(LocalProtocolError):
        h.machine.upload("", "text/plain", b"1", h.now)


def test_notifications_queue_while_connecting_and_fail_loudly() -> None:
    h = scripted_client(auto_peer=False)
    h.connect()
    m = h.machine
    assert m.phase is Phase.PREPARING
    m.pause_track("main_video", h.now)
    m.abort(h.now)
    h.pump()
    from reactor_proto.client import NotificationFailed

    failed = h.of_type(NotificationFailed)
    assert [(f.event, f.track) for f in failed] == [("pause_track", "main_video")]
    with pytest.raises(LocalProtocolError):
        m.unpublish_track("webcam", h.now)


def test_connect_argument_checks() -> None:
    h = scripted_client()
    with pytest.raises(LocalProtocolError):
        h.machine.connect(0.0, session_id="abc")
    with pytest.raises(LocalProtocolError):
        h.machine.connect(0.0, connection_id=5)
    h.connect()
    with pytest.raises(InvalidStateError):
        h.machine.connect(h.now)


def test_given_connection_id_skips_registration() -> None:
    h = scripted_client()
    h.connect(connection_id=1001)
    assert not any(p.endswith("/connections") for p in h.paths())
    assert any("/connections/1001/sdp_params" in p for p in h.paths())
