"""The clip vocabulary (v0 JSON, v1 payloads) and the validators of durations, ranges,
recording ids and chunk names."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.envelope import RuntimeMessageType, Scope
from reactor_proto.errors import DecodeError
from reactor_proto.recording import (
    ChunkNameError,
    Clip,
    ClipFailure,
    ClipKind,
    ClipRangeError,
    ClipRequest,
    RecordingRequest,
    check_duration,
    check_range,
    chunk_name,
    decode_reply,
    parse_chunk_name,
    parse_chunk_path,
    parse_clip_query,
)
from reactor_proto.recording.errors import RecordingError, RecordingErrorCode
from reactor_proto.recording.validate import MAX_DURATION_SECONDS
from reactor_proto.wire_v1 import payloads as v1

RID = "0b0e7c2a-1d0e-4c57-9d5f-7a1f3b2c4d5e"
CLIP = Clip(session_id=RID, kind=ClipKind.SNAP, start_marker=12.0, end_marker=42.0,
            now_marker=42.0, predicted_ready_at_ms=1_765_000_000_000,
            playlist_url=f"/clips?session_id={RID}&start=12.000&end=42.000")


def test_clip_round_trips_through_v0_json_and_v1() -> None:
    assert Clip.from_json(CLIP.to_json()) == CLIP
    assert Clip.from_v1(CLIP.to_v1()) == CLIP
    assert CLIP.duration_seconds == 30.0
    with_marker = Clip(**{**CLIP.to_json(), "kind": ClipKind.RECORDING,
                          "first_real_frame_marker": 0.5})
    assert Clip.from_json(with_marker.to_json()) == with_marker
    # v1 has no first_real_frame_marker (§6.8.6): it is dropped, the rest survives
    assert Clip.from_v1(with_marker.to_v1()).first_real_frame_marker is None
    assert Clip.from_v1(with_marker.to_v1()).kind is ClipKind.RECORDING


def test_envelopes_carry_the_runtime_types() -> None:
    assert CLIP.to_envelope().type == RuntimeMessageType.CLIP_READY
    assert CLIP.to_envelope().scope is Scope.RUNTIME
    assert ClipFailure(reason="x").to_envelope().data == {"reason": "x"}
    assert ClipRequest(duration_seconds=4).to_envelope().data == {"duration_seconds": 4}
    assert RecordingRequest().to_envelope().type == RuntimeMessageType.REQUEST_RECORDING


def test_requests_and_failures_round_trip() -> None:
    assert ClipRequest.from_json({"duration_seconds": 4.5}) == ClipRequest(duration_seconds=4.5)
    assert ClipRequest.from_v1(ClipRequest(duration_seconds=4.5).to_v1()).duration_seconds == 4.5
    assert RecordingRequest.from_json(None) == RecordingRequest()
    assert RecordingRequest.from_json({"extra": 1}) == RecordingRequest()
    assert RecordingRequest.from_v1(RecordingRequest().to_v1()) == RecordingRequest()
    assert RecordingRequest().to_v1() == v1.RequestRecording()
    failure = ClipFailure(reason="recorder disabled")
    assert ClipFailure.from_json(failure.to_json()) == failure
    assert ClipFailure.from_v1(failure.to_v1()) == failure


def test_decode_reply_files_by_type() -> None:
    assert decode_reply("clipReady", CLIP.to_json()) == CLIP
    assert decode_reply("clipFailed", {"reason": "r"}) == ClipFailure(reason="r")
    assert decode_reply("modelSchema", {}) is None


@pytest.mark.parametrize(("data", "field"), [
    ({**CLIP.to_json(), "kind": "movie"}, "data.kind"),
    ({**CLIP.to_json(), "start_marker": "12"}, "data.start_marker"),
    ({k: v for k, v in CLIP.to_json().items() if k != "playlist_url"}, "data.playlist_url"),
    ([], "data"),
])
def test_bad_clip_ready_names_the_field(data: object, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        Clip.from_json(data)
    assert info.value.field == field


def test_clip_request_keeps_a_bad_duration_for_the_validator() -> None:
    # a string is carried through so the runtime answers "invalid duration_seconds"
    assert ClipRequest.from_json({"duration_seconds": "4"}).duration_seconds == "4"
    with pytest.raises(DecodeError):
        ClipRequest.from_json({})
    with pytest.raises(DecodeError):
        RecordingRequest.from_json([1])


def test_v1_unknown_kind_is_a_snap() -> None:
    assert Clip.from_v1(v1.ClipReady(kind="")).kind is ClipKind.SNAP


@pytest.mark.parametrize("value", [math.nan, -1.0, 0, 0.0, -0.0, math.inf, -math.inf, "4",
                                   None, True, [4], 10**400, MAX_DURATION_SECONDS * 2])
def test_bad_durations_are_typed_and_name_the_field(value: object) -> None:
    with pytest.raises(ClipRangeError) as info:
        check_duration(value)
    assert info.value.field == "duration_seconds"
    assert info.value.code == RecordingErrorCode.INVALID_DURATION
    assert "duration_seconds" in str(info.value)
    assert isinstance(info.value, RecordingError)
    assert info.value.recoverable is False


def test_a_duration_over_the_clip_limit_is_capped() -> None:
    assert check_duration(4) == 4.0
    assert check_duration(500.0, max_seconds=300.0) == 300.0
    assert check_duration(MAX_DURATION_SECONDS) == MAX_DURATION_SECONDS


@pytest.mark.parametrize(("query", "field"), [
    ({"session_id": RID, "start": "nan", "end": "4"}, "start"),
    ({"session_id": RID, "start": "-1", "end": "4"}, "start"),
    ({"session_id": RID, "start": "1e3", "end": "4"}, "start"),
    ({"session_id": RID, "start": "0", "end": "inf"}, "end"),
    ({"session_id": RID, "start": "8", "end": "4"}, "end"),
    ({"session_id": RID, "start": "4", "end": "4"}, "end"),
    ({"session_id": RID, "start": "0", "end": "9" * 40}, "end"),
    ({"session_id": RID, "start": "0"}, "end"),
    ({"session_id": RID, "start": "", "end": "4"}, "start"),
    ({"session_id": RID, "start": " 1", "end": "4"}, "start"),
])
def test_bad_ranges_are_400_material(query: dict[str, str], field: str) -> None:
    with pytest.raises(ClipRangeError) as info:
        parse_clip_query(query)
    assert info.value.field == field


def test_a_good_query_parses() -> None:
    assert parse_clip_query({"session_id": RID, "start": "12.000", "end": "42.5"}) == (
        RID, 12.0, 42.5)
    assert parse_clip_query({"session_id": RID, "start": ".5", "end": "+3."}) == (RID, 0.5, 3.0)


@pytest.mark.parametrize("bad_id", ["", "../etc", RID.upper(), RID + "/x", None, 7,
                                    "0b0e7c2a1d0e4c579d5f7a1f3b2c4d5e"])
def test_bad_recording_ids(bad_id: object) -> None:
    with pytest.raises(ChunkNameError) as info:
        parse_clip_query({"session_id": bad_id, "start": "0", "end": "1"})
    assert info.value.code == RecordingErrorCode.CLIP_GONE


def test_check_range_refuses_non_numbers() -> None:
    with pytest.raises(ClipRangeError) as info:
        check_range("0", 1.0)  # type: ignore[arg-type]
    assert info.value.field == "start"
    with pytest.raises(ClipRangeError):
        check_range(-1.0, 1.0)
    assert check_range(0, 1) == (0.0, 1.0)


def test_chunk_names_round_trip_and_are_bounded() -> None:
    assert chunk_name(12) == "chunk_00012.m4s"
    assert parse_chunk_name("chunk_00012.m4s") == 12
    assert parse_chunk_name("init.mp4") is None
    for bad in (-1, 100_000, True, 1.0):
        with pytest.raises(ChunkNameError):
            chunk_name(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["../init.mp4", "chunk_1.m4s", "chunk_000012.m4s",
                                  "chunk_00012.m4s/", "..%2Fchunk_00001.m4s", "init.mp4\x00",
                                  "chunk_00001.m4s\n", "CHUNK_00001.M4S", "", ".", "..",
                                  "chunk_\u0660\u0660\u0660\u0660\u0661.m4s", None])
def test_bad_chunk_names(name: object) -> None:
    with pytest.raises(ChunkNameError) as info:
        parse_chunk_name(name)
    assert info.value.field == "name"


def test_chunk_paths() -> None:
    assert parse_chunk_path(f"/clips/chunks/{RID}/chunk_00003.m4s") == (RID, 3)
    assert parse_chunk_path(f"/clips/chunks/{RID}/init.mp4") == (RID, None)
    for bad in (f"/clips/chunks/{RID}/../x/init.mp4", f"/clips/chunks/{RID}",
                "/clips/chunks/../../etc/passwd", f"/clip/chunks/{RID}/init.mp4",
                f"/clips/chunks/{RID}//init.mp4"):
        with pytest.raises(ChunkNameError):
            parse_chunk_path(bad)


@given(st.text(max_size=40))
def test_parse_chunk_name_accepts_only_its_grammar(name: str) -> None:
    try:
        index = parse_chunk_name(name)
    except ChunkNameError:
        return
    assert name == ("init.mp4" if index is None else chunk_name(index))


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(),
                 st.text(max_size=8), st.none(), st.booleans()))
def test_check_duration_is_total(value: object) -> None:
    try:
        seconds = check_duration(value, max_seconds=300)
    except ClipRangeError as exc:
        field = exc.field
    else:
        assert 0 < seconds <= 300 and math.isfinite(seconds)
        return
    assert field == "duration_seconds"
