"""The client machine on the v1 wire (§6.8), sans-IO: the wire decision, correlated replies,
chunking, client stats, and bad input from the runtime.  Most tests pair the client with the
runtime machine in memory (``paired.py``); the runtime marks v1 in its descriptor."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reactor_proto.bodies import SessionSnapshot
from reactor_proto.client import ClientConfig, Phase, SendChannel
from reactor_proto.client.events import (
    ErrorOccurred,
    MessageReceived,
    OperationKind,
    RuntimeMessageReceived,
)
from reactor_proto.client.wire import (
    CLIENT_STATS_INTERVAL,
    ConnectionWire,
    check_setting,
    choose_wire,
    server_version,
)
from reactor_proto.errors import (
    ControlRequestError,
    DecodeError,
    DisconnectedError,
    InvalidStateError,
    LocalProtocolError,
    MessageTooLargeError,
    RequestTimeoutError,
)
from reactor_proto.runtime.events import CommandReceived
from reactor_proto.wire_v1 import (
    ClientStats,
    ControlClientMessage,
    ControlServerMessage,
    DataClientMessage,
    DataServerMessage,
    Error,
    MessageKind,
    ModelMessage,
    ModelSchema,
    Moderation,
    Ping,
    SessionEnded,
    Wire,
    decode,
    encode,
)
from reactor_proto.wire_v1.negotiation import chunking_limit

from .paired import CONNECT_BOUND, Endpoint, Paired


def snapshot(version: str | None = None, wires: tuple[str, ...] = ()) -> SessionSnapshot:
    return SessionSnapshot(session_id="local", state="WAITING", server_version=version,
                           server_wires=wires)


# ---- the decision --------------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "local", "snap", "wire"), [
    ("v0", True, snapshot(wires=("v0", "v1")), Wire.V0),
    ("v1", False, None, Wire.V1),
    ("auto", True, None, Wire.V0),
    ("auto", True, snapshot("0.1.0", ("v0", "v1")), Wire.V1),   # our runtime's marker
    ("auto", False, snapshot("0.1.0", ("v0", "v1")), Wire.V1),  # ... through a coordinator
    ("auto", True, snapshot("3.10.0"), Wire.V1),                 # the official 3.10.0
    ("auto", True, snapshot("v4.0"), Wire.V1),
    ("auto", True, snapshot("2.10.1"), Wire.V0),                 # the official 2.10.1
    ("auto", True, snapshot("3.9.9"), Wire.V0),
    ("auto", True, snapshot("dev"), Wire.V0),
    ("auto", False, snapshot("3.10.0"), Wire.V0),  # a coordinator's version is its own
])
def test_the_wire_is_decided_from_what_is_known(setting: str, local: bool,
                                                snap: SessionSnapshot | None,
                                                wire: Wire) -> None:
    assert choose_wire(setting, local=local, snapshot=snap) is wire


def test_settings_and_versions() -> None:
    assert server_version("3.10.0") == (3, 10) and server_version(None) is None
    check_setting("auto")
    with pytest.raises(LocalProtocolError, match="wire"):
        ClientConfig.create("helios", local=True, wire="v2")


def test_a_v0_connection_never_offers_chunking() -> None:
    sdp = "v=0\r\ns=-\r\nm=video 9 UDP\r\n"
    assert ConnectionWire(wire=Wire.V0).offer(sdp) == sdp
    offered = ConnectionWire(wire=Wire.V1).offer(sdp)
    assert chunking_limit(offered) is not None and offered.endswith("m=video 9 UDP\r\n")
    assert ConnectionWire(wire=Wire.V1).offer("v=0\n") == "v=0\n"


# ---- paired with the runtime ---------------------------------------------------------------


def connected(wire: str = "auto", **options: Any) -> tuple[Paired, Endpoint]:
    net = Paired()
    e = net.add_client(seed=1, wire=wire, **options)
    op = e.client.connect(net.now)
    assert net.run(CONNECT_BOUND, stop=lambda: e.done(op) is not None)
    assert e.phase() is Phase.READY and e.result(op).error is None
    return net, e


def last_command(net: Paired) -> CommandReceived:
    return [ev for ev in net.runtime_events if isinstance(ev, CommandReceived)][-1]


def test_auto_connects_on_v1_with_chunking_and_a_ping_first() -> None:
    _net, e = connected()
    assert e.raw.wire is Wire.V1
    first = e.sent[0]
    assert first.channel == "control" and isinstance(first.text, bytes)
    # chunked: one header byte, then the Ping notification
    assert decode(first.text[1:], ControlClientMessage).payload == Ping()
    assert e.raw.schema is not None  # asked for at READY, answered over v1


def test_command_reply_ack_and_error_reply() -> None:
    net, e = connected()
    op = e.client.send_command("start", {}, net.now)
    command = last_command(net)
    assert command.request_id and e.done(op) is None
    net.runtime.command_done(command.connection_id, command.request_id, net.now,
                             reply_type="state", reply_data={"n": 1})
    done = e.result(op)
    assert done.kind is OperationKind.COMMAND
    assert done.value == {"type": "state", "data": {"n": 1}}
    assert MessageReceived(payload=done.value) in e.events  # also a message, as on v0

    op = e.client.send_command("start", {}, net.now)
    command = last_command(net)
    net.runtime.command_done(command.connection_id, command.request_id, net.now)
    assert e.result(op).value is None and e.result(op).error is None

    op = e.client.send_command("start", {}, net.now)
    command = last_command(net)
    net.runtime.command_failed(command.connection_id, command.request_id, "too_early",
                               "not yet", net.now)
    error = e.result(op).error
    assert error is not None and error.code == "too_early" and "not yet" in error.message


def test_no_reply_in_time_and_a_lost_connection_fail_the_request() -> None:
    net, e = connected()
    op = e.client.send_command("start", {}, net.now)
    net.run(e.raw.config.deadlines.command_reply + 1)
    assert isinstance(e.result(op).error, RequestTimeoutError)
    op = e.client.send_command("start", {}, net.now)
    e.client.disconnect(net.now)
    assert isinstance(e.result(op).error, DisconnectedError)


def test_request_schema_on_both_wires() -> None:
    for wire in ("v1", "v0"):
        net, e = connected(wire)
        op = e.client.request_schema(net.now)
        done = e.result(op)
        assert done.kind is OperationKind.SCHEMA and "paths" in done.value, wire


def test_v0_keeps_the_json_wire_and_completes_commands_at_once() -> None:
    net, e = connected("v0")
    assert e.raw.wire is Wire.V0
    assert all(isinstance(s.text, str) for s in e.sent)
    op = e.client.send_command("start", {}, net.now)
    assert e.result(op).value is None


def test_v0_schema_request_times_out_and_is_bounded() -> None:
    net, e = connected("v0")
    net.faults.drop("down", "modelSchema", times=100)
    ops = [e.client.request_schema(net.now) for _ in range(16)]
    with pytest.raises(InvalidStateError, match="wait for the schema"):
        e.client.request_schema(net.now)
    net.run(e.raw.config.deadlines.control_request + 1)
    assert all(isinstance(e.result(op).error, RequestTimeoutError) for op in ops)
    op = e.client.request_schema(net.now)
    e.client.disconnect(net.now)
    assert isinstance(e.result(op).error, DisconnectedError)


def test_publish_grant_refusal_and_track_notices() -> None:
    net, e = connected()
    op = e.client.publish_track("webcam", net.now)
    assert e.result(op).error is None and "webcam" in e.raw.published_tracks
    e.client.pause_track("main_video", net.now)
    assert net.output_paused.get((e.cid, "main_video")) in (True, None)
    e.client.resume_track("main_video", net.now)
    e.client.unpublish_track("webcam", net.now)
    other = net.add_client(seed=2, wire="v1")
    assert net.run(CONNECT_BOUND, stop=lambda: other.done(
        other.client.connect(net.now)) is not None) or other.phase() is Phase.READY
    net.run(1.0)
    first = e.client.publish_track("webcam", net.now)
    second = other.client.publish_track("webcam", net.now)
    assert e.result(first).error is None
    error = other.result(second).error
    assert isinstance(error, ControlRequestError) and error.code == "publish_refused"


def test_client_stats_are_sent_on_a_timer_over_v1_only() -> None:
    net, e = connected()
    before = len(e.sent)
    net.run(CLIENT_STATS_INTERVAL + 0.1)
    stats = [decode(s.text[1:], ControlClientMessage).payload for s in e.sent[before:]
             if s.channel == "control" and isinstance(s.text, bytes)]
    batch = [p for p in stats if isinstance(p, ClientStats)]
    assert len(batch) == 1 and batch[0].connection_stat is not None
    assert {t.track_name for t in batch[0].track_stats} == {"main_video", "webcam"}


def test_runtime_messages_without_a_v1_form_are_refused() -> None:
    net, e = connected()
    with pytest.raises(LocalProtocolError, match="no form on the v1 wire"):
        e.client.send_runtime_message("requestCapabilities", None, net.now)
    e.client.send_runtime_message("ping", None, net.now)


def test_a_message_over_the_limit_is_refused_before_anything_is_sent() -> None:
    net, e = connected()
    before = len(e.sent)
    with pytest.raises(MessageTooLargeError):
        e.client.send_command("schedule_prompt", {"prompt": "x" * (17 << 20), "chunk": 0},
                              net.now)
    assert len(e.sent) == before and e.raw._state.wire.correlator.in_flight == 0


# ---- bad input from the runtime ------------------------------------------------------------


def feed(e: Endpoint, label: str, message: str | bytes) -> None:
    e.client.channel_message(e.current_peer(), label, message, e.now)


def test_bad_v1_input_is_reported_or_dropped_and_the_connection_goes_on() -> None:
    net, e = connected()
    before = len(e.of_type(ErrorOccurred))
    chunked = e.raw._state.wire.reassembler is not None
    head = b"\x00" if chunked else b""
    feed(e, "data", head + b"\x08\x05")                       # a wrong wire type
    feed(e, "control", head + b"\xff\xff\xff")                 # garbage
    feed(e, "data", head + encode(DataServerMessage(           # a reply to nothing
        request_id="nobody", kind=MessageKind.RESPONSE)))
    feed(e, "control", head + encode(ControlServerMessage(     # an error reply to nothing
        request_id="x", kind=MessageKind.RESPONSE, payload=Error(code="a"))))
    feed(e, "data", head + b"\x10\x07")                        # an unknown kind
    if chunked:
        feed(e, "data", b"\xfc")                               # chunk header version bits
        feed(e, "data", b"")                                   # empty frame
    errors = e.of_type(ErrorOccurred)[before:]
    assert len(errors) >= 5
    # unsolicited notifications: a model broadcast, session end
    feed(e, "data", head + encode(DataServerMessage(
        kind=MessageKind.NOTIFICATION, payload=ModelMessage(type="t", data={
            "a": 1, "b": [2.5, 3.0], "c": {"d": float("inf")}}))))
    data = e.of_type(MessageReceived)[-1].payload["data"]
    assert data == {"a": 1, "b": [2.5, 3], "c": {"d": float("inf")}}
    assert isinstance(data["a"], int) and isinstance(data["b"][1], int)
    assert e.phase() is Phase.READY
    op = e.client.send_command("start", {}, net.now)
    command = last_command(net)
    net.runtime.command_done(command.connection_id, command.request_id, net.now)
    assert e.result(op).error is None
    assert e.raw._state.wire.correlator.in_flight == 0


def test_a_reply_of_the_wrong_shape_fails_its_request() -> None:
    net, e = connected("v1")
    wire = e.raw._state.wire
    op = e.client.send_command("start", {}, net.now)
    (request_id,) = wire.requests
    frame = encode(DataServerMessage(request_id=request_id, kind=MessageKind.RESPONSE,
                                     payload=None))
    # the same id answered on control: the wrong channel, so not a reply to it
    feed(e, "control", (b"\x00" if wire.reassembler else b"") + encode(ControlServerMessage(
        request_id=request_id, kind=MessageKind.RESPONSE)))
    assert e.done(op) is None
    feed(e, "data", (b"\x00" if wire.reassembler else b"") + frame)
    assert e.result(op).error is None
    # a publish answered with a schema document: the request fails, typed
    net.faults.drop("up", "webcam")  # the request never reaches the runtime
    op = e.client.publish_track("webcam", net.now)
    (request_id,) = wire.requests
    feed(e, "control", (b"\x00" if wire.reassembler else b"") + encode(ControlServerMessage(
        request_id=request_id, kind=MessageKind.RESPONSE, payload=ModelSchema(openapi={}))))
    assert isinstance(e.result(op).error, DecodeError)


def test_session_end_and_moderation_surface_as_runtime_messages() -> None:
    _net, e = connected("v1")
    head = b"\x00" if e.raw._state.wire.reassembler else b""
    feed(e, "control", head + encode(ControlServerMessage(
        kind=MessageKind.NOTIFICATION, payload=Moderation(action="terminate", message="m"))))
    feed(e, "control", head + encode(ControlServerMessage(
        kind=MessageKind.NOTIFICATION, payload=SessionEnded(reason="stopped"))))
    kinds = [ev.payload["type"] for ev in e.of_type(RuntimeMessageReceived)]
    assert kinds[-2:] == ["moderation", "sessionEnded"]


def test_send_channel_carries_bytes() -> None:
    action = SendChannel(peer_id=1, channel="data", text=b"\x10\x03")
    assert isinstance(action.text, bytes)
    assert isinstance(DataClientMessage(), DataClientMessage)


def test_unchunked_frames_and_runtime_messages_over_v1() -> None:
    plain = ConnectionWire(wire=Wire.V1)
    assert plain.frames(b"abc", 10) == [b"abc"]
    assert plain.unchunk("data", "text", 0.0) == (["text"], [])
    with pytest.raises(MessageTooLargeError):
        plain.frames("é" * 6, 10)
    net, e = connected()
    e.client.send_runtime_message("requestSchema", None, net.now)
    e.client.send_runtime_message("fileUploaded", {
        "upload_id": "u1", "name": "a.bin", "mime_type": "application/octet-stream",
        "size": 3}, net.now)
    assert e.phase() is Phase.READY


def test_a_schema_reply_that_does_not_parse_fails_the_request() -> None:
    net, e = connected("v1")
    wire = e.raw._state.wire
    net.faults.drop("up", "")
    op = e.client.request_schema(net.now)
    (request_id,) = wire.requests
    feed(e, "control", (b"\x00" if wire.reassembler else b"") + encode(ControlServerMessage(
        request_id=request_id, kind=MessageKind.RESPONSE,
        payload=ModelSchema(openapi={"paths": "not an object"}))))
    assert isinstance(e.result(op).error, DecodeError)


def test_requests_in_flight_are_bounded() -> None:
    net, e = connected("v1")
    wire = e.raw._state.wire
    net.faults.drop("up", "", times=10_000)
    for _ in range(wire.correlator.max_in_flight):
        e.client.send_command("start", {}, net.now)
    sent = len(e.sent)
    with pytest.raises(InvalidStateError, match="already wait"):
        e.client.send_command("start", {}, net.now)
    assert len(e.sent) == sent


def test_through_a_coordinator_auto_follows_the_runtime_marker() -> None:
    # The coordinator passes on its runtime's ``server_info.wire`` (our runtime marks v1);
    # without the marker a coordinator session stays v0 (test_coordinator_wire_marker.py).
    net = Paired(front=True)
    e = net.add_client(seed=1, wire="auto")
    op = e.client.connect(net.now)
    assert net.run(CONNECT_BOUND, stop=lambda: e.done(op) is not None)
    assert e.result(op).error is None and e.raw.wire is Wire.V1


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(st.tuples(st.sampled_from(["data", "control"]),
                                 st.binary(max_size=64)), max_size=12))
def test_any_bytes_from_the_runtime_leave_the_connection_ready(
        frames: list[tuple[str, bytes]]) -> None:
    net, e = connected("v1")
    for label, frame in frames:
        feed(e, label, frame)
    assert e.phase() is Phase.READY
    wire = e.raw._state.wire
    assert wire.reassembler is None or wire.reassembler.buffered_bytes <= 64 * 12
    op = e.client.send_command("start", {}, net.now)
    command = last_command(net)
    net.runtime.command_done(command.connection_id, command.request_id, net.now)
    # a frame may have left a partial chunked message: the reply then completes it or not,
    # but the request is never lost: it ends with a reply or (later) a timeout
    net.run(e.raw.config.deadlines.command_reply + 1)
    assert e.done(op) is not None


@pytest.mark.parametrize(("info", "wires"), [
    ({"server_version": "0.1.0", "wire": ["v0", "v1"]}, ("v0", "v1")),
    ({"server_version": "0.1.0", "wire": "v1"}, ()),
    ({"wire": ["v1", 1, None]}, ("v1",)),
    ("not an object", ()),
])
def test_the_descriptor_marker_is_read_leniently(info: object, wires: tuple[str, ...]) -> None:
    from reactor_proto.bodies import parse_session

    body = {"session_id": "local", "state": "WAITING", "server_info": info}
    if not isinstance(info, dict):
        body.pop("server_info")
    assert parse_session(body).server_wires == wires


def test_our_runtime_marks_v1_in_its_descriptor() -> None:
    _net, e = connected("v0")
    snap = e.raw.session_info
    assert snap is not None and snap.server_wires == ("v0", "v1")
