"""The client machine's clip requests (``reactor_proto.client.clips``), sans-IO: both wires,
replies, refusals, malformed replies, deadlines and a lost connection.  The request is
dropped on its way up (the in-memory runtime is not asked); the replies are fed by hand."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from reactor_proto.client import ClientConfig, ClientMachine, OperationCompleted
from reactor_proto.envelope import encode_envelope
from reactor_proto.recording import Clip, ClipFailure, ClipKind
from reactor_proto.recording.errors import RecordingError
from reactor_proto.wire_v1 import (
    ClipFailed,
    ControlServerMessage,
    Error,
    MessageKind,
    ModelSchema,
    encode,
)

from ..core.paired import Endpoint, Paired
from ..core.test_client_v1 import connected, feed

CLIP = Clip(session_id="rec-1", kind=ClipKind.SNAP, start_marker=1.0, end_marker=3.0,
            now_marker=3.0, predicted_ready_at_ms=0, playlist_url="/clips?session_id=rec-1")


def ask(net: Paired, e: Endpoint, seconds: float | None = 2.0, **kw: Any) -> int:
    net.faults.drop("up")  # the runtime never sees it: the test answers
    if seconds is None:
        op = e.client.request_recording(net.now, **kw)
    else:
        op = e.client.request_clip(seconds, net.now, **kw)
    net.pump()
    return op


def error_of(e: Endpoint, op: int) -> RecordingError:
    done: OperationCompleted = e.result(op)
    assert isinstance(done.error, RecordingError), done
    return done.error


def v1_reply(e: Endpoint, payload: Any) -> None:
    wire = e.raw._state.wire
    (request_id,) = [r for r, q in wire.requests.items() if q.purpose.value == "clip"]
    head = b"\x00" if wire.reassembler else b""
    feed(e, "control", head + encode(ControlServerMessage(
        request_id=request_id, kind=MessageKind.RESPONSE, payload=payload)))


def test_v0_replies_in_order_malformed_timeout_and_disconnect() -> None:
    net, e = connected("v0")
    first, second = ask(net, e), ask(net, e, None)
    feed(e, "data", encode_envelope(CLIP.to_envelope()))
    assert e.result(first).value == CLIP and e.done(second) is None
    feed(e, "data", encode_envelope(ClipFailure(reason="recorder disabled").to_envelope()))
    assert error_of(e, second).code == "RECORDER_DISABLED"
    op = ask(net, e)
    feed(e, "data", '{"scope":"runtime","data":{"type":"clipReady","data":{"kind":"x"}}}')
    assert error_of(e, op).code == "INTERNAL_ERROR" and "malformed" in error_of(e, op).reason
    op = ask(net, e, timeout=0.5)
    net.run(0.6)
    assert error_of(e, op).code == "REQUEST_TIMEOUT" and "0.5 s" in error_of(e, op).message
    op = ask(net, e)
    e.client.disconnect(net.now)
    net.pump()
    assert error_of(e, op).code == "DISCONNECTED"


def test_v1_replies_refusals_timeout_and_disconnect() -> None:
    net, e = connected("v1")
    op = ask(net, e)
    v1_reply(e, CLIP.to_v1())
    assert e.result(op).value == CLIP
    op = ask(net, e, None)
    v1_reply(e, ClipFailed(reason="invalid duration_seconds"))
    assert error_of(e, op).code == "INVALID_DURATION"
    op = ask(net, e)
    v1_reply(e, Error(code="internal_error", message="boom"))
    assert error_of(e, op).code == "INTERNAL_ERROR" and "boom" in error_of(e, op).message
    op = ask(net, e)
    v1_reply(e, ModelSchema(openapi={}))
    assert "ModelSchema" in error_of(e, op).message
    op = ask(net, e)
    net.run(10.5)
    assert error_of(e, op).code == "REQUEST_TIMEOUT"
    op = ask(net, e)
    e.client.disconnect(net.now)
    net.pump()
    assert error_of(e, op).code == "DISCONNECTED"


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, 1e9, "2", None, True])
def test_bad_durations_are_refused_before_sending(bad: object) -> None:
    net, e = connected("v0")
    sent = len(e.sent)
    with pytest.raises(RecordingError) as info:
        e.client.request_clip(bad, net.now)
    assert info.value.code == "INVALID_DURATION" and len(e.sent) == sent
    with pytest.raises(Exception, match="timeout"):
        e.client.request_clip(1, net.now, timeout=-1)


def test_refused_when_not_connected_or_stepped() -> None:
    idle = ClientMachine(ClientConfig.create("helios", local=True), rng=random.Random(1))
    with pytest.raises(RecordingError) as info:
        idle.request_clip(1, 0.0)
    assert info.value.code == "DISCONNECTED" and "not connected" in info.value.message
    stepped = ClientMachine(ClientConfig.create("helios", local=True, generation="stepped"),
                            rng=random.Random(1))
    with pytest.raises(RecordingError) as info:
        stepped.request_recording(0.0)
    assert info.value.code == "RECORDER_DISABLED"
    assert stepped.jwt is None


def test_pending_requests_are_bounded_on_v0() -> None:
    net, e = connected("v0")
    net.faults.drop("up", times=200)  # unanswered: they all stay pending
    ops = [e.client.request_clip(1, net.now) for _ in range(64)]
    with pytest.raises(Exception, match="more than 64"):
        e.client.request_clip(1, net.now)
    e.client.disconnect(net.now)
    net.pump()
    assert {error_of(e, op).code for op in ops} == {"DISCONNECTED"}
