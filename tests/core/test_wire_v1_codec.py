"""The v1 codec: docs/protocol §6.8.12/§15.9 byte vectors, round trips of every message,
and what decode does with truncated, garbage, mistyped and oversize input."""

from __future__ import annotations

import contextlib
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.errors import DecodeError, ErrorCode, LocalProtocolError
from reactor_proto.wire_v1 import (
    AudioCodec,
    ClientConnectionStat,
    ClientEnvironment,
    ClientStats,
    ClientTrackStat,
    ClipFailed,
    ClipReady,
    Command,
    ControlClientMessage,
    ControlServerMessage,
    DataClientMessage,
    DataServerMessage,
    Error,
    FileUploaded,
    Frame,
    FrameEncoding,
    FrameMetadata,
    FrameStage,
    MessageKind,
    MessageStage,
    ModelMessage,
    ModelSchema,
    Moderation,
    PauseTrack,
    Ping,
    PublishTrack,
    PublishTrackResponse,
    RequestClip,
    RequestRecording,
    RequestSchema,
    RequestStep,
    ResumeTrack,
    SessionEnded,
    StepFailureCode,
    StepFileRef,
    StepResult,
    TrackDirection,
    TrackFrames,
    TrackKind,
    UnpublishTrack,
    UploadReference,
    VideoCodec,
    channel_of,
    decode,
    encode,
    envelope_type,
)
from reactor_proto.wire_v1.codec import payload_field
from reactor_proto.wire_v1.envelopes import PAYLOAD_FIELDS, Channel, Sender

REQ, RESP, NOTE = MessageKind.REQUEST, MessageKind.RESPONSE, MessageKind.NOTIFICATION
TOP_LEVEL = (DataClientMessage, DataServerMessage, ControlClientMessage, ControlServerMessage)


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# ---- vectors of docs/protocol §6.8.12 and §15.9 -----------------------------------------------

RAW_2X2 = Frame(encoding=FrameEncoding.RAW, dtype="uint8", shape=(2, 2, 3), data=bytes(12))
VECTORS: list[tuple[Any, str]] = [
    (ControlClientMessage(kind=NOTE, payload=ResumeTrack(name="main_video")),
     "10 03 8a 01 0c 0a 0a 6d 61 69 6e 5f 76 69 64 65 6f"),
    (ControlClientMessage(kind=NOTE, payload=Ping()), "10 03 52 00"),
    (ControlClientMessage(request_id="2", kind=REQ, payload=RequestSchema()),
     "0a 01 32 10 01 5a 00"),
    (ControlServerMessage(request_id="2", kind=RESP,
                          payload=ModelSchema(openapi={"openapi": "3.1.0"})),
     "0a 01 32 10 02 52 16 0a 14 0a 12 0a 07 6f 70 65 6e 61 70 69 12 07 1a 05 33 2e 31 2e 30"),
    (DataClientMessage(request_id="3", kind=REQ,
                       payload=Command(type="set_prompt", data={"prompt": "a red fox"})),
     "0a 01 33 10 01 52 25 0a 0a 73 65 74 5f 70 72 6f 6d 70 74 12 17 0a 15 0a 06"
     "70 72 6f 6d 70 74 12 0b 1a 09 61 20 72 65 64 20 66 6f 78"),
    (DataServerMessage(request_id="3", kind=RESP), "0a 01 33 10 02"),
    (DataServerMessage(request_id="4", kind=RESP,
                       payload=ModelMessage(type="state", data={"frame_index": 1.0})),
     "0a 01 34 10 02 52 23 0a 05 73 74 61 74 65 12 1a 0a 18 0a 0b 66 72 61 6d 65"
     "5f 69 6e 64 65 78 12 09 11 00 00 00 00 00 00 f0 3f"),
    (ControlClientMessage(request_id="6", kind=REQ, payload=PublishTrack(name="webcam")),
     "0a 01 36 10 01 7a 08 0a 06 77 65 62 63 61 6d"),
    (ControlServerMessage(request_id="6", kind=RESP, payload=PublishTrackResponse()),
     "0a 01 36 10 02 72 00"),
    (ControlClientMessage(request_id="7", kind=REQ, payload=RequestClip(duration_seconds=10.0)),
     "0a 01 37 10 01 6a 09 09 00 00 00 00 00 00 24 40"),
    (ControlServerMessage(kind=NOTE, payload=SessionEnded(reason="bye")),
     "10 03 7a 05 0a 03 62 79 65"),
    (DataClientMessage(request_id="8", kind=REQ,
                       payload=RequestStep(state={"prompt": "a red fox"})),
     "0a 01 38 10 01 5a 19 0a 17 0a 15 0a 06 70 72 6f 6d 70 74 12 0b 1a 09 61 20 72 65 64 20"
     "66 6f 78"),
    (DataServerMessage(request_id="8", kind=RESP, payload=StepResult(
        step=1, elapsed_seconds=0.05,
        tracks=[TrackFrames(track="main_video", kind=TrackKind.VIDEO, rate=30.0,
                            frames=[RAW_2X2])])),
     "0a 01 38 10 02 5a 42 08 01 12 35 0a 0a 6d 61 69 6e 5f 76 69 64 65 6f 10 01 1a 1c 08 01"
     "12 05 75 69 6e 74 38 1a 03 02 02 03 22 0c" + "00" * 12 +
     "21 00 00 00 00 00 00 3e 40 19 9a 99 99 99 99 99 a9 3f"),
]


@pytest.mark.parametrize(("message", "wire"), VECTORS)
def test_protocol_vectors(message: Any, wire: str) -> None:
    assert encode(message) == h(wire)
    assert decode(h(wire), type(message)) == message


def test_error_reply_and_publish_refusal_sizes() -> None:
    # §6.8.12 gives the sizes of these two replies.
    refused = ControlServerMessage(request_id="6", kind=RESP, payload=Error(
        code="publish_refused", message="track already published"))
    assert len(encode(refused)) == 50
    rejected = DataServerMessage(request_id="5", kind=RESP, payload=Error(
        code="invalid_command", message="prompt: required"))
    assert encode(rejected)[:8] == h("0a 01 35 10 02 c2 02 23")
    assert len(encode(rejected)) == 43


# ---- strategies for every message -----------------------------------------------------------

text = st.text(max_size=12)
doubles = st.floats(allow_nan=False)
int64 = st.integers(-(2**63), 2**63 - 1)
uint64 = st.integers(0, 2**64 - 1)
json_scalar = (st.none() | st.booleans() | st.text(max_size=8) | doubles
               | st.integers(-(2**53), 2**53))
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
json_object = st.dictionaries(text, json_value, max_size=4)


def open_enum(cls: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(list(cls)) | st.integers(-(2**31), 2**31 - 1)


def builds(cls: type, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(cls, **fields)


upload_ref = builds(UploadReference, upload_id=text, name=text, mime_type=text, size=int64)
command = builds(Command, type=text, data=json_object,
                 uploads=st.dictionaries(text, upload_ref, max_size=2))
frame = builds(Frame, encoding=open_enum(FrameEncoding), dtype=text,
               shape=st.lists(st.integers(0, 2**32 - 1), max_size=4),
               data=st.binary(max_size=32), metadata=st.none() | st.binary(max_size=8),
               capture_time_us=st.none() | int64)
track_frames = builds(TrackFrames, track=text, kind=open_enum(TrackKind),
                      frames=st.lists(frame, max_size=3), rate=doubles)
error = builds(Error, code=text, message=text)
codecs = st.one_of(
    st.tuples(st.none(), st.none()),
    st.tuples(open_enum(VideoCodec), st.none()),
    st.tuples(st.none(), open_enum(AudioCodec)),
)
track_stat = st.builds(
    lambda c, **kw: ClientTrackStat(video_codec=c[0], audio_codec=c[1], **kw), codecs,
    timestamp=int64, track_name=text, kind=open_enum(TrackKind),
    direction=open_enum(TrackDirection), paused=st.booleans(),
    metrics=st.dictionaries(text, doubles, max_size=3),
    frame_stages=st.lists(builds(FrameStage, name=text, total_ms=doubles, frames=uint64,
                                 part_of=text), max_size=2),
    codec_implementation=text, hardware_codec=st.none() | st.booleans())
connection_stat = builds(
    ClientConnectionStat, timestamp=int64, metrics=st.dictionaries(text, doubles, max_size=3),
    environment=st.none() | builds(ClientEnvironment, sdk_type=text, sdk_version=text, os=text,
                                   os_version=text, arch=text, device_model=text),
    message_stages=st.lists(builds(MessageStage, name=text, total_ms=doubles, messages=uint64,
                                   part_of=text), max_size=2))

PAYLOADS: dict[type, st.SearchStrategy[Any]] = {
    Error: error,
    Command: command,
    RequestStep: builds(RequestStep, state=json_object, commands=st.lists(command, max_size=2),
                        media_input=st.lists(track_frames, max_size=2)),
    ModelMessage: builds(ModelMessage, type=text, data=json_object),
    StepResult: builds(
        StepResult, step=uint64, tracks=st.lists(track_frames, max_size=2),
        elapsed_seconds=doubles,
        files=st.lists(builds(StepFileRef, name=text, content_type=text, size=uint64),
                       max_size=2),
        error=st.none() | text, failure_code=open_enum(StepFailureCode),
        code=st.none() | text, entry=st.none() | text),
    Ping: st.just(Ping()),
    RequestSchema: st.just(RequestSchema()),
    RequestRecording: st.just(RequestRecording()),
    FileUploaded: builds(FileUploaded, upload_id=text, name=text, mime_type=text, size=int64),
    RequestClip: builds(RequestClip, duration_seconds=doubles),
    PublishTrack: builds(PublishTrack, name=text),
    PauseTrack: builds(PauseTrack, name=text),
    ResumeTrack: builds(ResumeTrack, name=text),
    UnpublishTrack: builds(UnpublishTrack, name=text),
    ClientStats: builds(ClientStats, track_stats=st.lists(track_stat, max_size=2),
                        connection_stat=st.none() | connection_stat),
    ModelSchema: builds(ModelSchema, openapi=json_object),
    ClipReady: builds(ClipReady, session_id=text, kind=text, start_marker=doubles,
                      end_marker=doubles, now_marker=doubles, predicted_ready_at_ms=int64,
                      playlist_url=text),
    ClipFailed: builds(ClipFailed, reason=text),
    Moderation: builds(Moderation, action=text, input_kind=text, command=text,
                       categories=st.lists(text, max_size=3), message=text),
    PublishTrackResponse: builds(PublishTrackResponse, name=text),
    SessionEnded: builds(SessionEnded, reason=text),
}


def envelopes_of(cls: type) -> st.SearchStrategy[Any]:
    payload = st.none() | st.one_of([PAYLOADS[p] for p in PAYLOAD_FIELDS[cls]])
    return st.builds(cls, request_id=text, kind=st.sampled_from(list(MessageKind)),
                     payload=payload)


any_envelope = st.one_of([envelopes_of(cls) for cls in TOP_LEVEL])
frame_metadata = builds(FrameMetadata, frame_id=uint64, capture_time_us=uint64,
                        user_data=st.binary(max_size=16))


def test_every_payload_has_a_strategy() -> None:
    assert set(PAYLOADS) == {p for members in PAYLOAD_FIELDS.values() for p in members}


# ---- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", TOP_LEVEL, ids=lambda c: c.__name__)
@given(data=st.data())
def test_round_trip_every_envelope(cls: type, data: st.DataObject) -> None:
    message = data.draw(envelopes_of(cls))
    assert decode(encode(message), cls) == message


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=lambda c: c.__name__)
@given(data=st.data())
def test_round_trip_every_payload(payload: type, data: st.DataObject) -> None:
    for cls, members in PAYLOAD_FIELDS.items():
        if payload in members:
            message = cls(request_id=data.draw(text), kind=RESP,
                          payload=data.draw(PAYLOADS[payload]))
            assert decode(encode(message), cls) == message


@given(frame_metadata)
def test_round_trip_frame_metadata(metadata: FrameMetadata) -> None:
    assert decode(encode(metadata), FrameMetadata) == metadata


def _refusal(data: bytes, cls: type) -> DecodeError | None:
    try:
        decode(data, cls)
    except DecodeError as exc:
        return exc
    return None


@given(any_envelope)
def test_every_prefix_decodes_or_raises_decode_error(message: Any) -> None:
    wire = encode(message)
    for cut in range(len(wire)):
        refused = _refusal(wire[:cut], type(message))
        assert refused is None or refused.code == ErrorCode.DECODE_FAILED


@pytest.mark.parametrize("cls", [*TOP_LEVEL, FrameMetadata], ids=lambda c: c.__name__)
@given(garbage=st.binary(max_size=64))
def test_garbage_decodes_or_raises_decode_error(cls: type, garbage: bytes) -> None:
    refused = _refusal(garbage, cls)
    if refused is not None:
        assert refused.field is not None
        return
    message: Any = decode(garbage, cls)
    # Whatever is accepted is a message of its own: it re-encodes and decodes equal.
    assert decode(encode(message), cls) == message


@given(any_envelope, st.binary(min_size=1, max_size=16))
def test_byte_flips_decode_or_raise_decode_error(message: Any, noise: bytes) -> None:
    wire = bytearray(encode(message))
    for i, byte in enumerate(noise):
        if wire:
            wire[(i * 7919) % len(wire)] ^= byte
    with contextlib.suppress(DecodeError):
        decode(bytes(wire), type(message))


def test_integers_come_back_as_doubles() -> None:
    message = DataServerMessage(kind=NOTE, payload=ModelMessage(type="t", data={"n": 2**60}))
    back = decode(encode(message), DataServerMessage)
    assert isinstance(back.payload, ModelMessage)
    assert back.payload.data == {"n": float(2**60)}
    assert isinstance(back.payload.data["n"], float)


# ---- what decode refuses and what it ignores ------------------------------------------------


def test_oversize_is_refused_before_parsing() -> None:
    with pytest.raises(DecodeError) as info:
        decode(b"\xff" * 101, DataClientMessage, max_bytes=100)
    assert info.value.code == ErrorCode.MESSAGE_TOO_LARGE
    assert info.value.value == 101
    assert decode(b"", DataClientMessage, max_bytes=0) == DataClientMessage()


def test_text_frames_are_not_v1() -> None:
    with pytest.raises(DecodeError, match="binary"):
        decode('{"type": "ping"}', ControlClientMessage)  # type: ignore[arg-type]


def test_truncated_protobuf() -> None:
    with pytest.raises(DecodeError, match="not valid protobuf") as info:
        decode(h("0a 05 61 62"), ControlClientMessage)
    assert info.value.field == "message"


@pytest.mark.parametrize(("wire", "field"), [
    ("08 05", "DataClientMessage.request_id"),                 # string sent as varint
    ("12 01 00", "DataClientMessage.kind"),                    # enum sent as bytes
    ("52 02 08 01", "DataClientMessage.command.type"),         # nested string as varint
    ("52 04 1a 02 08 01", "DataClientMessage.command.uploads"),  # map entry as varint inside
    ("5a 02 18 05", "DataClientMessage.request_step.media_input"),
])
def test_wrong_wire_types_are_refused(wire: str, field: str) -> None:
    with pytest.raises(DecodeError, match="wrong wire type") as info:
        decode(h(wire), DataClientMessage)
    assert str(info.value.field).startswith(field)


def test_wrong_wire_type_inside_a_repeated_message_and_a_map_value() -> None:
    step = DataClientMessage(kind=REQ, payload=RequestStep(
        commands=[Command(type="a", uploads={"f": UploadReference(upload_id="u")})]))
    wire = encode(step)
    # Append to the upload reference (innermost) a varint for its string field 2.
    inner = encode(ControlClientMessage())  # empty: b""
    assert inner == b""
    ref = h("0a 01 75 10 07")  # upload_id="u", then name (field 2) as varint 7
    entry = h("0a 01 66 12") + bytes([len(ref)]) + ref
    cmd = h("0a 01 61 1a") + bytes([len(entry)]) + entry
    req = h("12") + bytes([len(cmd)]) + cmd
    bad = h("10 01 5a") + bytes([len(req)]) + req
    assert wire != bad
    with pytest.raises(DecodeError) as info:
        decode(bad, DataClientMessage)
    assert info.value.field == "DataClientMessage.request_step.commands[0].uploads['f'].name"


def test_unknown_message_kind_is_refused() -> None:
    with pytest.raises(DecodeError, match="unknown message kind 9") as info:
        decode(h("10 09 52 00"), ControlClientMessage)
    assert info.value.field == "kind"


def test_unknown_fields_are_ignored() -> None:
    ping = ControlClientMessage(kind=NOTE, payload=Ping())
    # field 99 varint, field 5 bytes, and an unknown field inside the payload
    noisy = encode(ping) + h("98 06 01") + h("2a 02 68 69")
    assert decode(noisy, ControlClientMessage) == ping
    resume = h("10 03 8a 01 05 0a 01 61 30 07")  # ResumeTrack{name="a", field 6 = 7}
    assert decode(resume, ControlClientMessage).payload == ResumeTrack(name="a")


@pytest.mark.parametrize("message", [
    DataClientMessage(kind=REQ, payload=Command(
        type="c", data={"a": [1.0, {"b": None}]},
        uploads={"f": UploadReference(upload_id="u")})),
    ControlClientMessage(kind=NOTE, payload=ClientStats(track_stats=[ClientTrackStat(
        metrics={"fps": 24.0}, frame_stages=[FrameStage(name="decode")])])),
])
def test_unknown_fields_beside_maps_and_lists_are_ignored(message: Any) -> None:
    # An unknown field makes decode walk the whole message looking for mistyped fields.
    noisy = encode(message) + h("f8 07 01")  # field 127, varint
    assert decode(noisy, type(message)) == message


def test_an_unknown_payload_member_decodes_without_payload() -> None:
    message = decode(h("0a 01 31 10 01 f2 01 00"), ControlClientMessage)  # field 30
    assert message == ControlClientMessage(request_id="1", kind=REQ, payload=None)


def test_unknown_enum_values_are_kept_as_numbers() -> None:
    frames = TrackFrames(kind=7, frames=[Frame(encoding=9)])
    result = DataServerMessage(kind=RESP, payload=StepResult(failure_code=42, tracks=[frames]))
    back = decode(encode(result), DataServerMessage)
    assert isinstance(back.payload, StepResult)
    assert back.payload.failure_code == 42
    assert not isinstance(back.payload.failure_code, StepFailureCode)
    assert back.payload.tracks[0].kind == 7
    known = decode(encode(attrs.evolve(result, payload=StepResult(failure_code=2))),
                   DataServerMessage)
    assert isinstance(known.payload, StepResult)
    assert known.payload.failure_code is StepFailureCode.NOT_READY


def test_concatenated_messages_merge_like_protobuf() -> None:
    # §15.5: the runtime appends a second serialization carrying only the files.
    first = DataServerMessage(request_id="8", kind=RESP,
                              payload=StepResult(step=3, elapsed_seconds=0.5))
    files = DataServerMessage(request_id="8", kind=RESP, payload=StepResult(
        files=[StepFileRef(name="a.png", content_type="image/png", size=10)]))
    merged = decode(encode(first) + encode(files), DataServerMessage)
    assert merged.payload == StepResult(
        step=3, elapsed_seconds=0.5,
        files=(StepFileRef(name="a.png", content_type="image/png", size=10),))


def test_struct_values_without_kind_read_as_null() -> None:
    # ModelMessage{type="t", data={"k": Value{}}}
    body = h("0a 01 74 12 07 0a 05 0a 01 6b 12 00")
    wire = h("10 03 52") + bytes([len(body)]) + body
    message = decode(wire, DataServerMessage)
    assert message.payload == ModelMessage(type="t", data={"k": None})


def test_nesting_past_the_recursion_limit_is_refused() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(200):
        node["a"] = {}
        node = node["a"]
    wire = encode(DataServerMessage(kind=NOTE, payload=ModelMessage(type="t", data=deep)))
    with pytest.raises(DecodeError):
        decode(wire, DataServerMessage)


# ---- what encode refuses --------------------------------------------------------------------


@pytest.mark.parametrize("message", [
    DataClientMessage(payload=Command(type="x", data={"blob": b"\x00"})),
    DataClientMessage(payload=Command(type="x", data={1: "one"})),  # type: ignore[dict-item]
    DataClientMessage(payload=Command(type=5)),  # type: ignore[arg-type]
    ControlClientMessage(payload=ClientStats(track_stats=[ClientTrackStat(
        video_codec=VideoCodec.VP8, audio_codec=AudioCodec.OPUS)])),
    DataClientMessage(payload=ModelMessage()),  # type: ignore[arg-type]
    ControlServerMessage(payload=Command()),  # type: ignore[arg-type]
    DataClientMessage(payload=RequestStep(media_input=[TrackFrames(
        frames=[Frame(shape=[-1])])])),
])
def test_encode_refuses_what_protobuf_cannot_carry(message: Any) -> None:
    with pytest.raises(LocalProtocolError):
        encode(message)


def test_only_top_level_messages_encode_and_decode() -> None:
    with pytest.raises(LocalProtocolError):
        encode(Ping())  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        decode(b"", Ping)  # type: ignore[type-var]


def test_routing_helpers() -> None:
    assert envelope_type("data", "client") is DataClientMessage
    assert envelope_type(Channel.DATA, Sender.RUNTIME) is DataServerMessage
    assert envelope_type("control", "client") is ControlClientMessage
    assert envelope_type("control", "runtime") is ControlServerMessage
    assert channel_of(DataServerMessage()) is Channel.DATA
    assert channel_of(ControlClientMessage()) is Channel.CONTROL
    assert payload_field(ControlServerMessage, PublishTrackResponse) == "publish_track"
    assert payload_field(ControlServerMessage, Command) is None
    with pytest.raises(ValueError, match="video"):
        envelope_type("video", "client")
