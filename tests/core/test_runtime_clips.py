"""Clip requests in the runtime machine (docs/protocol §10): ``requestClip`` /
``requestRecording`` on both wires become ``PrepareClip``; the adapter's answer goes back
as ``clipReady`` / ``clipFailed`` to the requester only; a runtime that does not record,
and a stepped session, fail at once."""

from __future__ import annotations

import json
import math
from typing import Any

from reactor_proto.recording import Clip, ClipFailure, ClipKind, ClipRequest, RecordingRequest
from reactor_proto.recording.vocabulary import REASON_DISABLED, REASON_STEPPED
from reactor_proto.runtime import PrepareClip, SendControl, SendData
from reactor_proto.wire_v1 import (
    ClipFailed,
    ClipReady,
    ControlClientMessage,
    ControlServerMessage,
    MessageKind,
    Ping,
    RequestClip,
    RequestRecording,
    decode,
    encode,
)

from .runtime_harness import Harness, runtime
from .test_runtime_step import stepped

CLIP = Clip(session_id="6f1c2d3e-0000-4000-8000-000000000001", kind=ClipKind.SNAP,
            start_marker=1.0, end_marker=5.0, now_marker=5.0, predicted_ready_at_ms=1,
            playlist_url="/clips?session_id=x&start=1.000&end=5.000")


def streaming(connections: int = 1, *, v1: bool = False, **config: Any
              ) -> tuple[Harness, list[int]]:
    harness = Harness(**config)
    harness.start()
    cids = [harness.connect() for _ in range(connections)]
    if v1:
        for cid in cids:
            harness.control(cid, encode(ControlClientMessage(kind=MessageKind.NOTIFICATION,
                                                             payload=Ping())))
    harness.take()
    return harness, cids


def v1_request(harness: Harness, cid: int, payload: Any, request_id: str) -> None:
    harness.control(cid, encode(ControlClientMessage(request_id=request_id,
                                                     kind=MessageKind.REQUEST,
                                                     payload=payload)))


def v0_replies(actions: list[Any]) -> list[dict[str, Any]]:
    out = []
    for action in actions:
        assert isinstance(action, SendData), action
        envelope = json.loads(action.text)
        assert envelope["scope"] == "runtime"
        out.append(envelope["data"])
    return out


def test_v0_requests_become_prepare_clip() -> None:
    harness, (cid,) = streaming(recording=True)
    harness.data(cid, runtime("requestClip", {"duration_seconds": 4}))
    harness.data(cid, json.dumps({"scope": "runtime",
                                  "data": {"type": "requestRecording", "data": {"x": 1}}}))
    actions, events = harness.take()
    assert events == []
    assert actions == [
        PrepareClip(connection_id=cid, request_id="", request=ClipRequest(duration_seconds=4)),
        PrepareClip(connection_id=cid, request_id="", request=RecordingRequest())]


def test_v0_request_without_a_duration_reaches_the_validator() -> None:
    harness, (cid,) = streaming(recording=True)
    harness.data(cid, runtime("requestClip", {"seconds": 4}))
    (action,), _ = harness.take()
    assert isinstance(action, PrepareClip) and isinstance(action.request, ClipRequest)
    assert math.isnan(action.request.duration_seconds)


def test_v0_answers_go_to_the_requester_only() -> None:
    harness, (first, _second) = streaming(2, recording=True)
    assert harness.machine.clip_answered(first, "", CLIP, harness.now)
    assert harness.machine.clip_answered(first, "", ClipFailure(reason="x"), harness.now)
    actions, _ = harness.take()
    assert all(a.connection_id == first for a in actions)
    ready, failed = v0_replies(actions)
    assert ready == {"type": "clipReady", "data": CLIP.to_json()}
    assert failed == {"type": "clipFailed", "data": {"reason": "x"}}
    assert not harness.machine.clip_answered(9999, "", CLIP, harness.now)


def test_recording_off_fails_at_once() -> None:
    harness, (cid,) = streaming()
    harness.data(cid, runtime("requestClip", {"duration_seconds": 4}))
    actions, _ = harness.take()
    assert v0_replies(actions) == [{"type": "clipFailed", "data": {"reason": REASON_DISABLED}}]


def test_v1_requests_and_replies_are_correlated() -> None:
    harness, (cid,) = streaming(v1=True, recording=True)
    v1_request(harness, cid, RequestClip(duration_seconds=2.5), "c1")
    v1_request(harness, cid, RequestRecording(), "c2")
    actions, _ = harness.take()
    assert actions == [
        PrepareClip(connection_id=cid, request_id="c1",
                    request=ClipRequest(duration_seconds=2.5)),
        PrepareClip(connection_id=cid, request_id="c2", request=RecordingRequest())]
    harness.machine.clip_answered(cid, "c1", CLIP, harness.now)
    harness.machine.clip_answered(cid, "c2", ClipFailure(reason="no media generated yet"),
                                  harness.now)
    actions, _ = harness.take()
    replies = []
    for action in actions:
        assert isinstance(action, SendControl) and isinstance(action.text, bytes)
        replies.append(decode(action.text, ControlServerMessage))
    assert [(r.request_id, r.kind) for r in replies] == [("c1", MessageKind.RESPONSE),
                                                        ("c2", MessageKind.RESPONSE)]
    assert replies[0].payload == CLIP.to_v1()
    assert isinstance(replies[0].payload, ClipReady)
    assert replies[1].payload == ClipFailed(reason="no media generated yet")


def test_stepped_session_fails_with_the_stepped_reason() -> None:
    harness, cid = stepped(chunked=False)
    v1_request(harness, cid, RequestClip(duration_seconds=4.0), "s1")
    (action,), _ = harness.take()
    assert isinstance(action, SendControl) and isinstance(action.text, bytes)
    reply = decode(action.text, ControlServerMessage)
    assert reply.request_id == "s1"
    assert reply.payload == ClipFailed(reason=REASON_STEPPED)
