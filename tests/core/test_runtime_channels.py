"""Data and control channel handling: commands, commandRejected, slots, pause/resume."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from reactor_proto.runtime import (
    CommandReceived,
    FileUploaded,
    SendControl,
    SendData,
    SetInputFlow,
    SetOutputFlow,
    TrackPublished,
    TrackUnpublished,
)

from .runtime_harness import (
    PING,
    Harness,
    command,
    control_request,
    notification,
    runtime,
)


def streaming(connections: int = 1) -> tuple[Harness, list[int]]:
    harness = Harness()
    harness.start()
    cids = [harness.connect() for _ in range(connections)]
    harness.take()
    return harness, cids


def rejected(actions: Sequence[object]) -> list[dict[str, object]]:
    found = []
    for action in actions:
        assert isinstance(action, SendData)
        envelope = json.loads(action.text)
        assert envelope["scope"] == "runtime"
        assert envelope["data"]["type"] == "commandRejected"
        found.append(envelope["data"]["data"])
    return found


def test_valid_command_reaches_the_model() -> None:
    harness, (cid,) = streaming()
    harness.data(cid, command("set_prompt", {"prompt": "a forest", "chunk": 2.0}))
    actions, events = harness.take()
    assert actions == []
    assert events == [CommandReceived(connection_id=cid, command="set_prompt",
                                      args={"prompt": "a forest", "chunk": 2}, uploads={})]


def test_bytes_frames_are_accepted() -> None:
    harness, (cid,) = streaming()
    harness.data(cid, command("start", {}).encode())
    assert isinstance(harness.take()[1][0], CommandReceived)


@pytest.mark.parametrize(("text", "name", "needle"), [
    ("not json", None, "not valid JSON"),
    ('{"scope": "x", "data": {"type": "a", "data": {}}}', None, "scope"),
    ('{"scope": "application", "data": {"type": 3, "data": {}}}', None, "type"),
    (command("nope", {}), "nope", "unknown command"),
    (command("set_prompt", {}), "set_prompt", "prompt"),
    (command("set_prompt", {"prompt": "x", "extra": 1}), "set_prompt", "extra"),
    (command("set_prompt", {"prompt": "x", "chunk": -1}), "set_prompt", "chunk"),
    (command("set_image", {}, {"image": {"upload_id": "6f1c1e3a-0b1c-4d2e-8f3a-1b2c3d4e5f60",
                                         "name": "a", "mime_type": "a/b", "size": 1}}),
     "set_image", "unknown or not completed"),
    (command("set_image", {"image": {"upload_id": "6f1c1e3a-0b1c-4d2e-8f3a-1b2c3d4e5f60",
                                     "name": "a", "mime_type": "a/b", "size": 1}}),
     "set_image", "unknown or not completed"),
    ('{"scope": "application", "data": {"type": "start", "data": {}}}' + " " * 300_000,
     None, "exceeds the limit"),
])
def test_every_failure_is_rejected_to_the_sender_only(text: str, name: str | None,
                                                      needle: str) -> None:
    harness, (sender, _other) = streaming(2)
    harness.data(sender, text)
    actions, events = harness.take()
    assert events == []
    assert all(isinstance(a, SendData) and a.connection_id == sender for a in actions)
    (body,) = rejected(actions)
    assert body["command"] == name
    assert needle in str(body["reason"])


def test_uploaded_file_flows_into_a_command() -> None:
    harness, (cid,) = streaming()
    upload_id = harness.upload(b"\x89PNG")
    ref = {"upload_id": upload_id, "name": "a.png", "mime_type": "image/png", "size": 4}
    harness.data(cid, command("set_image", {}, {"image": ref}))
    (event,) = harness.take()[1]
    assert isinstance(event, CommandReceived)
    assert event.args == {"image": ref}
    assert event.uploads["image"].data == b"\x89PNG"
    assert event.uploads["image"].reference() == ref


def test_incomplete_upload_is_rejected() -> None:
    harness, (cid,) = streaming()
    reply = harness.request("POST", "/sessions/local/uploads",
                            {"name": "a", "size": 2, "mime_type": "a/b"})
    ref = {"upload_id": reply.body["presigned_id"], "name": "a", "mime_type": "a/b", "size": 2}
    harness.data(cid, command("set_image", {"image": ref}))
    actions, events = harness.take()
    assert events == []
    assert "not completed" in str(rejected(actions)[0]["reason"])


def test_runtime_messages() -> None:
    harness, (cid,) = streaming()
    harness.data(cid, runtime("requestSchema"))
    harness.data(cid, runtime("requestCapabilities"))
    harness.data(cid, runtime("requestClip", {"duration_seconds": 3}))
    actions, _ = harness.take()
    assert all(isinstance(a, SendData) for a in actions)
    schema_msg, caps_msg, clip_msg = (json.loads(a.text)["data"] for a in actions
                                      if isinstance(a, SendData))
    # recording is off in this config: the documented refusal (§10)
    assert clip_msg == {"type": "clipFailed", "data": {"reason": "recorder disabled"}}
    assert schema_msg["type"] == "modelSchema"
    assert "paths" in schema_msg["data"]
    assert caps_msg["type"] == "modelCapabilities"
    assert {c["name"] for c in caps_msg["data"]["commands"]} == {"set_prompt", "set_image",
                                                                  "start"}


def test_file_uploaded_notice() -> None:
    harness, (cid,) = streaming()
    upload_id = harness.upload(b"abc", name="n.txt", mime="text/plain")
    harness.data(cid, runtime("fileUploaded", {"upload_id": upload_id, "name": "n.txt",
                                                "mime_type": "text/plain", "size": 3}))
    harness.data(cid, runtime("fileUploaded", {"upload_id": "missing", "name": "n",
                                                "mime_type": "t/p", "size": 3}))
    harness.data(cid, runtime("fileUploaded", {"nonsense": True}))
    actions, events = harness.take()
    assert actions == []
    assert len(events) == 1
    assert isinstance(events[0], FileUploaded)
    assert events[0].upload.data == b"abc"


def test_messages_from_uninstalled_connections_are_ignored() -> None:
    harness = Harness()
    harness.start()
    cid = harness.register()
    harness.take()
    harness.data(cid, "garbage")
    harness.control(cid, control_request("publish_track", "webcam"))
    assert harness.take() == ([], [])


def test_outputs_start_paused_and_follow_pause_resume() -> None:
    harness = Harness()
    harness.start()
    cid = harness.connect()
    actions, _ = harness.take()
    assert SetOutputFlow(connection_id=cid, track="main_video", paused=True) in actions
    harness.control(cid, notification("resume_track", "main_video"))
    harness.control(cid, notification("resume_track", "main_video"))  # no change
    harness.control(cid, notification("pause_track", "main_video"))
    harness.control(cid, notification("pause_track", "webcam"))  # not an output
    harness.control(cid, notification("rewind_track", "main_video"))  # unknown: ignored
    harness.control(cid, json.dumps({"type": "notification", "event": "pause_track",
                                     "data": {"name": 3}}))
    actions, _ = harness.take()
    assert actions == [SetOutputFlow(connection_id=cid, track="main_video", paused=False),
                       SetOutputFlow(connection_id=cid, track="main_video", paused=True)]


def control_replies(actions: Sequence[object]) -> list[dict[str, object]]:
    replies = []
    for action in actions:
        if isinstance(action, SendControl):
            replies.append(json.loads(action.text))
    return replies


def test_first_publisher_wins_across_connections() -> None:
    harness, (one, two) = streaming(2)
    harness.control(one, control_request("publish_track", "webcam", "ctrl_1"))
    harness.control(two, control_request("publish_track", "webcam", "ctrl_9"))
    actions, events = harness.take()
    granted, refused = control_replies(actions)
    assert granted == {"type": "response", "method": "publish_track", "request_id": "ctrl_1",
                       "data": {}}
    assert refused["error"]["code"] == "PUBLISHER_SLOT_TAKEN"  # type: ignore[index]
    assert refused["request_id"] == "ctrl_9"
    assert SetInputFlow(connection_id=one, track="webcam", enabled=True) in actions
    assert events == [TrackPublished(connection_id=one, track="webcam")]
    assert harness.machine.slots == {"webcam": one}
    harness.control(one, control_request("publish_track", "webcam", "ctrl_2"))  # idempotent
    assert "error" not in control_replies(harness.take()[0])[0]
    harness.control(two, notification("unpublish_track", "webcam"))  # not the owner
    assert harness.take() == ([], [])
    harness.control(one, notification("unpublish_track", "webcam"))
    actions, events = harness.take()
    assert actions == [SetInputFlow(connection_id=one, track="webcam", enabled=False)]
    assert events == [TrackUnpublished(connection_id=one, track="webcam")]
    harness.control(two, control_request("publish_track", "webcam"))
    assert harness.machine.slots == {"webcam": two}


def test_disconnect_releases_slots() -> None:
    harness, (one, _two) = streaming(2)
    harness.control(one, control_request("publish_track", "webcam"))
    harness.take()
    harness.machine.transport_closed(one, harness.now)
    _, events = harness.take()
    assert TrackUnpublished(connection_id=one, track="webcam") in events
    assert harness.machine.slots == {}


def test_swap_restores_flows() -> None:
    harness, (cid,) = streaming()
    harness.control(cid, control_request("publish_track", "webcam"))
    harness.control(cid, notification("resume_track", "main_video"))
    harness.take()
    harness.offer(cid, "PUT")
    harness.answer(cid)
    harness.machine.transport_connected(cid, harness.now)
    actions, events = harness.take()
    assert SetOutputFlow(connection_id=cid, track="main_video", paused=False) in actions
    assert SetInputFlow(connection_id=cid, track="webcam", enabled=True) in actions
    assert events == []


@pytest.mark.parametrize(("text", "code"), [
    (control_request("publish_track", "ghost"), "UNKNOWN_TRACK"),
    (control_request("publish_track", "main_video"), "UNKNOWN_TRACK"),
    (json.dumps({"type": "request", "method": "publish_track", "request_id": "ctrl_1",
                 "data": {}}), "INVALID_REQUEST"),
    (json.dumps({"type": "request", "method": "publish_track", "data": {"name": "webcam"}}),
     "INVALID_REQUEST"),
    (json.dumps({"type": "request", "method": "publish_track", "request_id": "",
                 "data": {"name": "webcam"}}), "INVALID_REQUEST"),
    (control_request("pause_track", "main_video"), "UNKNOWN_METHOD"),
    (control_request("launch", "x"), "UNKNOWN_METHOD"),
])
def test_control_errors(text: str, code: str) -> None:
    harness, (cid,) = streaming()
    harness.control(cid, text)
    actions, events = harness.take()
    (reply,) = control_replies(actions)
    assert reply["error"]["code"] == code  # type: ignore[index]
    assert events == []
    assert harness.machine.slots == {}
    if code == "UNKNOWN_METHOD":
        assert reply["error"]["message"].startswith("Unknown method: '")  # type: ignore[index]


@pytest.mark.parametrize("text", ["", "nope", "[]", '{"type": "response", "request_id": "x"}',
                                  '{"type": "notification"}', "x" * 300_000])
def test_control_garbage_gets_no_answer(text: str) -> None:
    harness, (cid,) = streaming()
    harness.control(cid, text)
    assert harness.take() == ([], [])


def test_ping_resets_only_its_own_connection() -> None:
    harness, (one, two) = streaming(2)
    harness.now += 10
    harness.data(one, PING)
    conns = harness.machine.connections
    assert conns.get(one).last_ping == harness.now  # type: ignore[union-attr]
    assert conns.get(two).last_ping == harness.now - 10  # type: ignore[union-attr]
