"""Fuzz the recording core's parsers and validators (``reactor_proto.recording``).

Byte 0 picks the target; the rest is its input:

* 0 -- a ``/clips`` playlist (``parse_playlist``): accepted playlists have an init URI, at
  least one and at most ``MAX_SEGMENTS`` segments with finite, non-negative durations;
  what the runtime builds from them (same durations) parses back to the same durations.
* 1 -- a ``GET /clips`` query string (``parse_clip_query``): accepted means a canonical
  recording id and 0 <= start < end, all finite; a store asked for that range answers one
  of the four documented answers.
* 2 -- a chunk route path (``parse_chunk_path``): accepted paths rebuild to themselves, so
  nothing but ``/clips/chunks/<uuid>/<init.mp4|chunk_NNNNN.m4s>`` ever names a file.
* 3 -- a JSON value as ``duration_seconds`` (``check_duration``): accepted is finite and in
  (0, clip_max_seconds]; a store given it answers a clip plan or ``clipFailed``.
* 4 -- a JSON ``clipReady`` payload (``Clip.from_json``): accepted round-trips through v0
  JSON and (minus ``first_real_frame_marker``) through the v1 payload.

Documented refusals: ``RecordingError`` (with ``ClipRangeError`` / ``ChunkNameError``) and
``DecodeError``.
"""

from __future__ import annotations

import math
from urllib.parse import parse_qsl

import attrs

from reactor_proto.errors import DecodeError
from reactor_proto.jsonfields import loads_bounded
from reactor_proto.recording import (
    Clip,
    ClipFailure,
    ClipPlan,
    PlaylistBadRange,
    PlaylistGone,
    PlaylistPending,
    PlaylistReady,
    RecordingStore,
    build_playlist,
    check_duration,
    chunk_name,
    parse_chunk_path,
    parse_clip_query,
    parse_playlist,
)
from reactor_proto.recording.errors import RecordingError
from reactor_proto.recording.manifest import MAX_SEGMENTS, chunk_path
from reactor_proto.recording.validate import INIT_NAME

ACCEPTED = (RecordingError, DecodeError)
RID = "0b0e7c2a-1d0e-4c57-9d5f-7a1f3b2c4d5e"


def _store() -> RecordingStore:
    store = RecordingStore(RID)
    for index in range(40):  # 10 s at 4 fps, two chunks closed
        cut = store.on_frame(index / 4)
        if cut is not None and cut.closes is not None:
            store.chunk_closed(cut.closes, size=100)
    return store


def _playlist(body: bytes) -> None:
    playlist = parse_playlist(body)
    assert playlist.init_uri
    assert 1 <= len(playlist.segments) <= MAX_SEGMENTS
    durations = [s.duration for s in playlist.segments]
    assert all(math.isfinite(d) and d >= 0 for d in durations)
    rebuilt = parse_playlist(build_playlist(RID, list(enumerate(durations[:100])),
                                            chunk_seconds=4))
    for before, after in zip(durations, rebuilt.segments, strict=False):
        assert abs(before - after.duration) <= 0.0005 + before * 1e-12


def _query(body: bytes) -> None:
    params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    session_id, start, end = parse_clip_query(params)
    assert session_id == params["session_id"]
    assert math.isfinite(start) and math.isfinite(end) and 0 <= start < end
    answer = _store().answer(start, end)
    assert isinstance(answer, PlaylistReady | PlaylistPending | PlaylistGone | PlaylistBadRange)
    if isinstance(answer, PlaylistReady):
        assert answer.chunks and parse_playlist(answer.text).segments


def _chunk_path(body: bytes) -> None:
    path = body.decode("utf-8", "replace")
    recording_id, index = parse_chunk_path(path)
    name = INIT_NAME if index is None else chunk_name(index)
    assert chunk_path(recording_id, name) == path


def _duration(body: bytes) -> None:
    value = loads_bounded(body, what="duration_seconds", max_bytes=4096)
    seconds = check_duration(value, max_seconds=300)
    assert math.isfinite(seconds) and 0 < seconds <= 300
    plan = _store().request_clip(value, unix_ms=0)
    assert isinstance(plan, ClipPlan | ClipFailure)
    if isinstance(plan, ClipPlan):
        assert 0 < plan.clip.duration_seconds <= 300 + 1e-9


def _clip(body: bytes) -> None:
    clip = Clip.from_json(loads_bounded(body, what="data", max_bytes=1 << 16))
    assert Clip.from_json(clip.to_json()) == clip
    assert Clip.from_v1(clip.to_v1()) == attrs.evolve(clip, first_real_frame_marker=None)


TARGETS = (_playlist, _query, _chunk_path, _duration, _clip)


def one_input(data: bytes) -> None:
    if not data:
        return
    TARGETS[data[0] % len(TARGETS)](data[1:])
