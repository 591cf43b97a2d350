"""Bad v1 input, early frames and data-channel chunking at the runtime machine (§6.8.1,
§6.8.3, §6.8.7): every bad frame is dropped without a reply, memory stays bounded and the
connection goes on."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from reactor_proto.runtime import CommandReceived, SendControl, SendData, SetOutputFlow
from reactor_proto.runtime.connections import MAX_HELD_FRAMES
from reactor_proto.runtime.framing import declare_chunking
from reactor_proto.wire_v1 import (
    ChunkReassembler,
    Command,
    ControlClientMessage,
    ControlServerMessage,
    DataClientMessage,
    DataServerMessage,
    MessageKind,
    ModelSchema,
    RequestSchema,
    ResumeTrack,
    encode,
    split_message,
)
from reactor_proto.wire_v1.negotiation import chunking_limit, chunking_line

from .runtime_harness import ANSWER_SDP, OFFER_BODY, Harness
from .test_runtime_v1 import PING_V1, v1_streaming

COMMAND = encode(DataClientMessage(request_id="ok", kind=MessageKind.REQUEST,
                                   payload=Command(type="start")))


def still_serves_commands(harness: Harness, cid: int) -> None:
    harness.data(cid, COMMAND)
    _, events = harness.take()
    assert [type(e) for e in events] == [CommandReceived]


BAD_FRAMES: list[str | bytes] = [
    COMMAND[:-3],                      # truncated
    b"\xff\xff\xff\xff\xff",           # garbage
    b"\x08\x05",                       # request_id sent as a varint (wrong wire type)
    b"\x10\x09",                       # a kind outside MessageKind
    b"\x52\x03\x0a\x01",               # a payload whose length runs past the end
    b"",                               # empty: v1, no payload at all
    b"\xfa\x07\x00",                   # only an unknown field
    "text on a v1 connection",
]


def test_bad_frames_get_no_reply_and_the_connection_goes_on() -> None:
    harness, (cid,) = v1_streaming()
    for frame in BAD_FRAMES:
        harness.data(cid, frame)
        harness.control(cid, frame)
    assert harness.take() == ([], [])
    conn = harness.machine.connections.get(cid)
    assert conn is not None and conn.frames_dropped >= len(BAD_FRAMES)
    still_serves_commands(harness, cid)


def test_oversize_frames_are_dropped_before_parsing() -> None:
    harness, (cid,) = v1_streaming()
    limit = harness.machine.config.max_message_bytes
    huge = encode(DataClientMessage(request_id="big", payload=Command(
        type="start", data={"pad": "x" * limit})))
    harness.data(cid, huge)
    assert harness.take() == ([], [])
    still_serves_commands(harness, cid)


@settings(max_examples=150, deadline=None)
@given(frame=st.binary(max_size=64), label=st.sampled_from(["data", "control"]))
def test_arbitrary_bytes_never_raise_out_of_the_machine(frame: bytes, label: str) -> None:
    harness, (cid,) = v1_streaming()
    if label == "data":
        harness.data(cid, frame)
    else:
        harness.control(cid, frame)
    _, events = harness.take()
    assert all(type(e).__name__ != "InternalErrorOccurred" for e in events)
    still_serves_commands(harness, cid)


def test_the_latch_holds_for_the_connection_life() -> None:
    harness = Harness()
    harness.start()
    cid = harness.connect()
    harness.data(cid, '{"scope":"runtime","data":{"type":"ping","data":{}}}')  # latches v0
    harness.take()
    harness.data(cid, COMMAND)  # binary protobuf is now refused as v0 JSON
    actions, events = harness.take()
    assert events == [] and [type(a) for a in actions] == [SendData]
    assert isinstance(actions[0], SendData) and isinstance(actions[0].text, str)


# ---- frames before installation ------------------------------------------------------------


def test_frames_before_installation_are_held_and_replayed_in_order() -> None:
    harness = Harness()
    harness.start()
    cid = harness.register()
    assert harness.offer(cid).status == 202
    harness.answer(cid)
    resume = encode(ControlClientMessage(kind=MessageKind.NOTIFICATION,
                                         payload=ResumeTrack(name="main_video")))
    harness.control(cid, resume)   # 1.13.0's first frame, as soon as its channel opens
    harness.control(cid, PING_V1)
    for _ in range(MAX_HELD_FRAMES):
        harness.control(cid, PING_V1)
    conn = harness.machine.connections.get(cid)
    assert conn is not None and len(conn.held) == MAX_HELD_FRAMES and conn.held_dropped == 2
    harness.take()
    harness.machine.transport_connected(cid, harness.now)
    actions, _ = harness.take()
    flows = [a for a in actions if isinstance(a, SetOutputFlow)]
    # installed paused (§6.7), then the held resume starts it
    assert flows == [SetOutputFlow(connection_id=cid, track="main_video", paused=True),
                     SetOutputFlow(connection_id=cid, track="main_video", paused=False)]
    assert conn.held == [] and conn.latch.wire.value == "v1"


def test_frames_for_unknown_or_unoffered_connections_are_dropped() -> None:
    harness = Harness()
    harness.start()
    cid = harness.register()
    harness.control(cid, PING_V1)      # no offer yet: no transport to hear it on
    harness.control(cid + 1, PING_V1)
    conn = harness.machine.connections.get(cid)
    assert conn is not None and conn.held == []


# ---- chunking -------------------------------------------------------------------------------


def chunked_connection(peer_limit: int = 1 << 20) -> tuple[Harness, int]:
    harness = Harness()
    harness.start()
    cid = harness.register()
    body = copy.deepcopy(OFFER_BODY)
    body["sdp_offer"] = declare_chunking(str(body["sdp_offer"]), peer_limit)
    assert harness.offer(cid, body=body).status == 202
    harness.answer(cid)
    harness.machine.transport_connected(cid, harness.now)
    harness.take()
    return harness, cid


def test_chunking_is_answered_only_when_offered() -> None:
    harness, cid = chunked_connection()
    conn = harness.machine.connections.get(cid)
    assert conn is not None and conn.answer is not None
    own = harness.machine.config.max_chunked_message_bytes
    assert chunking_limit(conn.answer) == own
    assert chunking_line(own) in conn.answer.split("m=")[0]
    plain = Harness()
    plain.start()
    other = plain.connect()
    plain_conn = plain.machine.connections.get(other)
    assert plain_conn is not None and plain_conn.answer is not None
    assert chunking_limit(plain_conn.answer) is None
    assert "x-reactor-frame-metadata" not in conn.answer  # we carry no trailer
    assert ANSWER_SDP.count("m=") == conn.answer.count("m=")


def test_chunked_frames_are_reassembled_and_replies_chunked() -> None:
    harness, cid = chunked_connection(peer_limit=1 << 20)
    request = encode(ControlClientMessage(request_id="s", kind=MessageKind.REQUEST,
                                          payload=RequestSchema()))
    for frame in split_message(request, max_message_size=1 << 20, chunk_size=4):
        harness.control(cid, frame)
    actions, _ = harness.take()
    assert actions and all(isinstance(a, SendControl) for a in actions)
    joiner = ChunkReassembler()
    for action in actions:
        assert isinstance(action, SendControl) and isinstance(action.text, bytes)
        joiner.feed("control", action.text, now=0.0)
    (whole,) = joiner.drain()
    from reactor_proto.wire_v1 import decode
    assert isinstance(whole.data, bytes)
    reply = decode(whole.data, ControlServerMessage)
    assert reply.request_id == "s" and isinstance(reply.payload, ModelSchema)


def test_chunk_errors_are_dropped_and_the_channel_goes_on() -> None:
    harness, cid = chunked_connection()
    harness.data(cid, b"\x04abc")           # version bits set
    harness.data(cid, b"")                  # empty frame
    harness.data(cid, "text frame")         # chunked channels carry binary frames only
    harness.data(cid, b"\x03ab")            # TEXT flag on, then changed inside the message
    harness.data(cid, b"\x00" + b"\xff\xfe")  # not protobuf
    assert harness.take() == ([], [])
    harness.data(cid, b"\x00" + PING_V1[:0] + COMMAND)
    _, events = harness.take()
    assert [type(e) for e in events] == [CommandReceived]


def test_a_chunked_message_over_the_limit_is_skipped_with_memory_bounded() -> None:
    harness, cid = chunked_connection()
    limit = harness.machine.config.max_chunked_message_bytes
    slab = b"\x01" + b"x" * 65_535
    for _ in range(limit // 65_535 + 3):
        harness.data(cid, slab)
    conn = harness.machine.connections.get(cid)
    assert conn is not None and conn.framing is not None
    assert conn.framing.reassembler.buffered_bytes <= 2 * limit
    harness.data(cid, b"\x00")              # the oversize message's last frame
    harness.data(cid, b"\x00" + COMMAND)
    _, events = harness.take()
    assert [type(e) for e in events] == [CommandReceived]


def test_an_outgoing_message_over_the_negotiated_limit_is_not_sent() -> None:
    harness, cid = chunked_connection(peer_limit=16)
    harness.control(cid, b"\x00" + PING_V1)
    harness.take()
    harness.machine.command_done(cid, "r", harness.now, reply_type="big",
                                 reply_data={"pad": "y" * 100})
    harness.machine.command_done(cid, "r", harness.now)
    actions, _ = harness.take()
    (ack,) = actions  # the reply is dropped, the 5-byte ack fits
    assert isinstance(ack, SendData) and isinstance(ack.text, bytes)
    from reactor_proto.wire_v1 import decode
    assert decode(ack.text[1:], DataServerMessage).request_id == "r"
