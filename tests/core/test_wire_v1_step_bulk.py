"""reactor_proto.wire_v1.bulk: a step's frame bytes spliced in and cut out at the wire level
give exactly what Google's protobuf runtime encodes and decodes, and anything the walk does
not understand is decoded the usual way."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reactor_proto.errors import DecodeError
from reactor_proto.wire_v1 import bulk, decode, encode
from reactor_proto.wire_v1.enums import FrameEncoding, MessageKind, TrackKind
from reactor_proto.wire_v1.envelopes import DataClientMessage, DataServerMessage
from reactor_proto.wire_v1.payloads import (
    Error,
    Frame,
    RequestStep,
    StepFileRef,
    StepResult,
    TrackFrames,
)
from reactor_proto.wire_v1.proto import envelopes_pb2
from reactor_proto.wire_v1.structwire import varint

BIG = bulk.MIN_BYTES

datas = st.one_of(st.just(b""), st.binary(max_size=64),
                  st.integers(BIG // 2, BIG * 2).map(lambda n: bytes([n % 251]) * n))
frames = st.builds(Frame, encoding=st.sampled_from([FrameEncoding.RAW, FrameEncoding.H264]),
                   dtype=st.sampled_from(["uint8", "int16", ""]),
                   shape=st.lists(st.integers(0, 4000), max_size=3).map(tuple), data=datas,
                   metadata=st.none() | st.binary(max_size=16),
                   capture_time_us=st.none() | st.integers(-(2**40), 2**40))
tracks = st.builds(TrackFrames, track=st.text(max_size=8),
                   kind=st.sampled_from([TrackKind.VIDEO, TrackKind.AUDIO]),
                   frames=st.lists(frames, max_size=3).map(tuple),
                   rate=st.floats(0, 1000, allow_nan=False))
results = st.builds(StepResult, step=st.integers(0, 2**40),
                    tracks=st.lists(tracks, max_size=3).map(tuple),
                    elapsed_seconds=st.floats(0, 10, allow_nan=False),
                    files=st.lists(st.builds(StepFileRef, name=st.text(max_size=5)),
                                   max_size=2).map(tuple),
                    error=st.none() | st.text(max_size=20))
requests = st.builds(RequestStep, media_input=st.lists(tracks, max_size=3).map(tuple))
envelopes = st.one_of(
    st.builds(DataServerMessage, request_id=st.text(max_size=8),
              kind=st.just(MessageKind.RESPONSE), payload=results),
    st.builds(DataClientMessage, request_id=st.text(max_size=8),
              kind=st.just(MessageKind.REQUEST), payload=requests))


def _pb_bytes(message: Any) -> bytes:
    """Google's own encoding of ``message`` (the path the bulk one bypasses)."""
    detached = bulk.detach
    try:
        bulk.detach = lambda _: None  # type: ignore[assignment]
        return encode(message)
    finally:
        bulk.detach = detached  # type: ignore[assignment]


def _pb_class(message: Any) -> Any:
    return (envelopes_pb2.DataServerMessage if isinstance(message, DataServerMessage)
            else envelopes_pb2.DataClientMessage)


@settings(max_examples=60, deadline=None)
@given(message=envelopes)
def test_the_spliced_encoding_is_the_same_message_as_protobufs(message: Any) -> None:
    wire = encode(message)
    ours, google = _pb_class(message)(), _pb_class(message)()
    ours.ParseFromString(wire)
    google.ParseFromString(_pb_bytes(message))
    assert ours == google  # the same fields and values, whatever their order
    assert len(wire) == len(_pb_bytes(message))
    assert decode(wire, type(message)) == message
    assert decode(_pb_bytes(message), type(message)) == message


def _step(size: int, frames: int = 1) -> DataServerMessage:
    shown = tuple(Frame(encoding=FrameEncoding.RAW, dtype="uint8", shape=(1, size, 1),
                        data=bytes([i]) * size) for i in range(frames))
    return DataServerMessage(request_id="r1", kind=MessageKind.RESPONSE, payload=StepResult(
        step=3, tracks=(TrackFrames(track="main_video", kind=TrackKind.VIDEO, frames=shown),)))


def test_big_frames_bypass_protobuf_and_small_ones_do_not() -> None:
    assert bulk.detach(_step(BIG // 4)) is None  # not worth it
    detached = bulk.detach(_step(BIG, frames=2))
    assert detached is not None and detached.data == (bytes([0]) * BIG, bytes([1]) * BIG)
    assert all(not f.data for f in detached.message.payload.tracks[0].frames)
    wire = encode(_step(BIG, frames=2))
    cut = bulk.cut(DataServerMessage, wire)
    assert cut is not None and cut[1] == detached.data and len(cut[0]) < 100
    assert bulk.cut(DataServerMessage, encode(_step(BIG // 4))) is None
    # envelopes without frames are never walked
    assert bulk.detach(DataServerMessage(payload=Error(code="x", message="y" * BIG))) is None
    assert not bulk.carries_frames(envelopes_pb2.DataServerMessage)


def test_the_last_data_field_wins_as_in_protobuf() -> None:
    wire = encode(_step(BIG))
    twice = bulk.splice(DataServerMessage, wire, [b"\x07" * BIG])  # a second data field
    assert decode(twice, DataServerMessage).payload.tracks[0].frames[0].data == b"\x07" * BIG


@pytest.mark.parametrize("cut_at", [1, 5, 40, -BIG // 2, -1])
def test_truncated_input_fails_as_it_always_did(cut_at: int) -> None:
    wire = encode(_step(BIG * 2))
    assert bulk.cut(DataServerMessage, wire[:cut_at]) is None
    with pytest.raises(DecodeError):
        decode(wire[:cut_at], DataServerMessage)


def test_what_the_walk_does_not_understand_is_decoded_the_usual_way() -> None:
    wire = encode(_step(BIG * 2))
    group = bytes([11 << 3 | 3]) + wire  # a (deprecated) group start before the payload
    assert bulk.cut(DataServerMessage, group) is None
    with pytest.raises(DecodeError):
        decode(group, DataServerMessage)
    zero = b"\x00\x00" + wire  # field number 0
    assert bulk.cut(DataServerMessage, zero) is None
    long_varint = bytes([8]) + b"\xff" * 11 + b"\x01" + wire
    assert bulk.cut(DataServerMessage, long_varint) is None
    # another payload after the step result: the oneof keeps the last, and its frames no
    # longer match the bytes cut out, so the original is decoded as protobuf would
    later = wire + encode(DataServerMessage(payload=Error(code="late")))
    assert decode(later, DataServerMessage).payload == Error(code="late")
    assert bulk.reattach(Error(code="x"), ()) is None


def _field(number: int, body: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(body)) + body


def test_a_data_field_of_the_wrong_wire_type_is_still_refused() -> None:
    wrong = _field(2, b"uint8") + bytes([4 << 3 | 0, 1])  # Frame.data as a varint
    big = _field(4, b"x" * BIG * 2)  # a second frame, big enough for the walk
    track = _field(3, wrong) + _field(3, big)
    wire = _field(11, _field(2, track))  # DataServerMessage.step_result.tracks
    cut = bulk.cut(DataServerMessage, wire)
    assert cut is not None and cut[1] == (b"", b"x" * BIG * 2)
    with pytest.raises(DecodeError, match="wrong wire type"):
        decode(wire, DataServerMessage)  # what protobuf's own path said about it
