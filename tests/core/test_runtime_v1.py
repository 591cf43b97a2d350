"""The runtime machine over the v1 wire (docs/protocol §6.8), paired with the core's codec:
codec latching, correlated replies and error codes, control traffic, mixed sessions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from reactor_proto.errors import LocalProtocolError
from reactor_proto.runtime import (
    CloseTransport,
    CommandReceived,
    FileUploaded,
    RuntimeAction,
    SendControl,
    SendData,
    SetOutputFlow,
)
from reactor_proto.wire_v1 import (
    ClientStats,
    Command,
    ControlClientMessage,
    ControlServerMessage,
    DataClientMessage,
    DataServerMessage,
    Error,
    MessageKind,
    ModelMessage,
    ModelSchema,
    PauseTrack,
    Ping,
    PublishTrack,
    PublishTrackResponse,
    RequestSchema,
    ResumeTrack,
    SessionEnded,
    UnpublishTrack,
    UploadReference,
    decode,
    encode,
)
from reactor_proto.wire_v1 import FileUploaded as FileUploadedMessage

from .runtime_harness import PING, Harness, command

PING_V1 = encode(ControlClientMessage(kind=MessageKind.NOTIFICATION, payload=Ping()))


def v1_streaming(connections: int = 1) -> tuple[Harness, list[int]]:
    """Installed connections that latched v1 with a ping (the safe first frame)."""
    harness = Harness()
    harness.start()
    cids = [harness.connect() for _ in range(connections)]
    for cid in cids:
        harness.control(cid, PING_V1)
    harness.take()
    return harness, cids


def send_command(harness: Harness, cid: int, name: str, data: dict[str, Any],
                 request_id: str = "r1", **uploads: UploadReference) -> None:
    harness.data(cid, encode(DataClientMessage(
        request_id=request_id, kind=MessageKind.REQUEST,
        payload=Command(type=name, data=data, uploads=uploads))))


def control(harness: Harness, cid: int, payload: Any, request_id: str = "") -> None:
    kind = MessageKind.REQUEST if request_id else MessageKind.NOTIFICATION
    harness.control(cid, encode(ControlClientMessage(request_id=request_id, kind=kind,
                                                     payload=payload)))


def data_replies(actions: Sequence[RuntimeAction]) -> list[DataServerMessage]:
    replies = []
    for action in actions:
        assert isinstance(action, SendData) and isinstance(action.text, bytes), action
        replies.append(decode(action.text, DataServerMessage))
    return replies


def control_replies(actions: Sequence[RuntimeAction]) -> list[ControlServerMessage]:
    replies = []
    for action in actions:
        assert isinstance(action, SendControl) and isinstance(action.text, bytes), action
        replies.append(decode(action.text, ControlServerMessage))
    return replies


# ---- commands and their one reply ---------------------------------------------------------


def test_a_v1_command_reaches_the_model_with_its_request_id() -> None:
    harness, (cid,) = v1_streaming()
    send_command(harness, cid, "set_prompt", {"prompt": "a fox", "chunk": 2.0})
    actions, events = harness.take()
    assert actions == []
    # Struct numbers are doubles: integral ones are given back as int for validation
    assert events == [CommandReceived(connection_id=cid, command="set_prompt",
                                      args={"prompt": "a fox", "chunk": 2}, uploads={},
                                      request_id="r1")]


def test_the_handler_outcome_is_the_one_correlated_reply() -> None:
    harness, (cid,) = v1_streaming()
    assert harness.machine.command_done(cid, "r1", harness.now, reply_type="pong",
                                        reply_data={"text": "hi"})
    assert harness.machine.command_done(cid, "r2", harness.now)
    assert harness.machine.command_failed(cid, "r3", "my_code", "no", harness.now)
    actions, _ = harness.take()
    assert data_replies(actions) == [
        DataServerMessage(request_id="r1", kind=MessageKind.RESPONSE,
                          payload=ModelMessage(type="pong", data={"text": "hi"})),
        DataServerMessage(request_id="r2", kind=MessageKind.RESPONSE),  # the ack
        DataServerMessage(request_id="r3", kind=MessageKind.RESPONSE,
                          payload=Error(code="my_code", message="no")),
    ]


def test_replies_to_a_gone_connection_are_dropped() -> None:
    harness, (cid,) = v1_streaming()
    assert not harness.machine.command_done(cid + 1, "r1", harness.now)
    assert not harness.machine.command_failed(cid + 1, "r1", "x", "y", harness.now)
    assert harness.take() == ([], [])


def test_a_reply_that_v1_cannot_carry_raises_and_sends_nothing() -> None:
    harness, (cid,) = v1_streaming()
    with pytest.raises(LocalProtocolError):
        harness.machine.command_done(cid, "r1", harness.now, reply_type="x",
                                     reply_data=["not", "an", "object"])
    assert harness.take() == ([], [])


@pytest.mark.parametrize(("name", "data", "code", "needle"), [
    ("nope", {}, "invalid_command", "nope"),
    ("set_prompt", {}, "invalid_command", "prompt"),
    ("set_prompt", {"prompt": 3}, "invalid_command", "prompt"),
    ("set_image", {"image": {"upload_id": "u-missing", "name": "a", "mime_type": "x",
                             "size": 1}}, "unresolved_upload", "u-missing"),
])
def test_refused_commands_get_an_error_reply(name: str, data: dict[str, Any], code: str,
                                             needle: str) -> None:
    harness, (cid,) = v1_streaming()
    send_command(harness, cid, name, data, request_id="q7")
    actions, events = harness.take()
    assert events == []
    (reply,) = data_replies(actions)
    assert reply.request_id == "q7" and reply.kind is MessageKind.RESPONSE
    assert isinstance(reply.payload, Error) and reply.payload.code == code
    assert needle in reply.payload.message


def test_an_upload_reference_resolves_to_the_stored_file() -> None:
    harness, (cid,) = v1_streaming()
    upload_id = harness.upload(b"\x89PNG....")
    harness.take()
    ref = UploadReference(upload_id=upload_id, name="a.png", mime_type="image/png", size=8)
    send_command(harness, cid, "set_image", {}, image=ref)
    _, events = harness.take()
    (event,) = events
    assert isinstance(event, CommandReceived) and event.uploads["image"].data == b"\x89PNG...."
    send_command(harness, cid, "set_image", {}, image=UploadReference(upload_id="gone"))
    actions, _ = harness.take()
    (reply,) = data_replies(actions)
    assert isinstance(reply.payload, Error) and reply.payload.code == "unresolved_upload"


def test_missing_ids_are_made_up_and_reused_ids_are_answered_twice() -> None:
    harness, (cid,) = v1_streaming()
    send_command(harness, cid, "nope", {}, request_id="")
    send_command(harness, cid, "nope", {}, request_id="same")
    send_command(harness, cid, "nope", {}, request_id="same")
    actions, _ = harness.take()
    ids = [reply.request_id for reply in data_replies(actions)]
    assert len(ids[0]) == 32 and int(ids[0], 16) > 0
    assert ids[1:] == ["same", "same"]  # the runtime does not police uniqueness (§6.8.3)


# ---- control --------------------------------------------------------------------------------


def test_schema_request_is_answered_on_control_with_the_openapi_document() -> None:
    harness, (cid,) = v1_streaming()
    control(harness, cid, RequestSchema(), request_id="s1")
    actions, _ = harness.take()
    (reply,) = control_replies(actions)
    assert reply.request_id == "s1" and reply.kind is MessageKind.RESPONSE
    assert isinstance(reply.payload, ModelSchema)
    assert reply.payload.openapi["openapi"] == harness.machine.documents.openapi["openapi"]


def test_publish_is_granted_first_come_and_refused_after() -> None:
    harness, (first, second) = v1_streaming(2)
    control(harness, first, PublishTrack(name="webcam"), request_id="p1")
    control(harness, second, PublishTrack(name="webcam"), request_id="p2")
    control(harness, second, PublishTrack(name="no_such_track"), request_id="p3")
    actions, _ = harness.take()
    sent = [a for a in actions if isinstance(a, SendControl)]
    grant, refused, unknown = control_replies(sent)
    assert grant == ControlServerMessage(request_id="p1", kind=MessageKind.RESPONSE,
                                         payload=PublishTrackResponse(name=""))
    assert refused.request_id == "p2" and refused.payload == Error(
        code="publish_refused", message="publisher slot already taken")
    assert isinstance(unknown.payload, Error) and unknown.payload.code == "publish_refused"
    assert harness.machine.slot_holder("webcam") == first
    control(harness, first, UnpublishTrack(name="webcam"))
    harness.take()
    assert harness.machine.slot_holder("webcam") is None


def test_pause_and_resume_flow_the_output() -> None:
    harness, (cid,) = v1_streaming()
    control(harness, cid, ResumeTrack(name="main_video"))
    control(harness, cid, PauseTrack(name="main_video"))
    control(harness, cid, PauseTrack(name="not_an_output"))
    actions, _ = harness.take()
    assert actions == [SetOutputFlow(connection_id=cid, track="main_video", paused=False),
                       SetOutputFlow(connection_id=cid, track="main_video", paused=True)]


def test_file_uploaded_reaches_the_model_and_unrouted_payloads_are_ignored() -> None:
    harness, (cid,) = v1_streaming()
    upload_id = harness.upload(b"abc")
    harness.take()
    control(harness, cid, FileUploadedMessage(upload_id=upload_id, name="a.png",
                                              mime_type="image/png", size=3))
    control(harness, cid, FileUploadedMessage(upload_id="unknown"))
    control(harness, cid, ClientStats())
    control(harness, cid, Error(code="x"))
    actions, events = harness.take()
    assert actions == []
    (event,) = events
    assert isinstance(event, FileUploaded) and event.upload.upload_id == upload_id


def test_any_v1_message_is_a_sign_of_life() -> None:
    harness, (cid,) = v1_streaming()
    harness.advance(15)
    control(harness, cid, ClientStats())
    harness.advance(15)  # 30 s since the last ping, 15 since the stats
    assert harness.machine.connected_users() == 1


# ---- model messages and session end across wires -------------------------------------------


def test_model_messages_go_out_in_each_connections_wire() -> None:
    harness = Harness()
    harness.start()
    old, new = harness.connect(), harness.connect()
    harness.data(old, PING)
    harness.control(new, PING_V1)
    harness.take()
    assert harness.machine.send_model_message("effect", {"effect": "mirror"},
                                              now=harness.now) == 2
    actions, _ = harness.take()
    by_cid = {a.connection_id: a for a in actions if isinstance(a, SendData)}
    assert isinstance(by_cid[old].text, str) and '"effect"' in by_cid[old].text
    (notification,) = data_replies([by_cid[new]])
    assert notification == DataServerMessage(
        kind=MessageKind.NOTIFICATION, payload=ModelMessage(type="effect",
                                                            data={"effect": "mirror"}))
    with pytest.raises(LocalProtocolError):
        harness.machine.send_model_message("bad", "not an object", now=harness.now)
    assert harness.take() == ([], [])


def test_v0_gets_the_reply_message_but_no_ack_or_error() -> None:
    harness = Harness()
    harness.start()
    cid = harness.connect()
    harness.take()
    harness.data(cid, command("start", {}))
    _, events = harness.take()
    (event,) = events
    assert isinstance(event, CommandReceived) and event.request_id == ""
    harness.machine.command_done(cid, "", harness.now)
    harness.machine.command_failed(cid, "", "internal_error", "x", harness.now)
    assert harness.take() == ([], [])
    harness.machine.command_done(cid, "", harness.now, reply_type="pong", reply_data={"a": 1})
    actions, _ = harness.take()
    (action,) = actions
    assert isinstance(action, SendData) and isinstance(action.text, str)
    assert '"pong"' in action.text and '"application"' in action.text


def test_v1_connections_hear_session_ended_before_their_transport_closes() -> None:
    harness = Harness()
    harness.start()
    _old, new = harness.connect(), harness.connect()
    harness.control(new, PING_V1)
    harness.take()
    harness.request("POST", "/stop_session", {})
    actions, _ = harness.take()
    ended = [a for a in actions if isinstance(a, SendControl)]
    assert [a.connection_id for a in ended] == [new]  # v0 has no such message
    (reply,) = control_replies(ended)
    assert reply.payload == SessionEnded(reason="stopped")
    closes = [i for i, a in enumerate(actions) if isinstance(a, CloseTransport)]
    assert actions.index(ended[0]) < min(closes)
