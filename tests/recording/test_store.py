"""RecordingStore: cuts, closes, evictions, and its answers to clip requests and /clips."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.errors import LocalProtocolError
from reactor_proto.recording import (
    ClipFailure,
    ClipKind,
    ClipPlan,
    Cut,
    PlaylistBadRange,
    PlaylistGone,
    PlaylistPending,
    PlaylistReady,
    RecordingConfig,
    RecordingStore,
    Timeline,
    parse_clip_query,
    parse_playlist,
)
from reactor_proto.recording.store import EPSILON

RID = "0b0e7c2a-1d0e-4c57-9d5f-7a1f3b2c4d5e"
FPS = 30
UNIX_MS = 1_765_000_000_000


class Recorder:
    """Drives a store as the recorder adapter does: every cut closes the previous chunk at
    once with ``size`` bytes, and evicted chunks are forgotten."""

    def __init__(self, config: RecordingConfig | None = None, size: int = 1000) -> None:
        self.store = RecordingStore(RID, config)
        self.timeline = Timeline(self.store.config.max_gap_seconds)
        self.size = size
        self.pts = 1000.0
        self.on_disk: dict[int, int] = {}

    def frame(self, step: float = 1 / FPS) -> Cut | None:
        marker = self.timeline.advance(self.pts)
        assert marker is not None
        cut = self.store.on_frame(marker)
        self.pts += step
        if cut is not None and cut.closes is not None:
            self.close(cut.closes)
        return cut

    def close(self, index: int) -> None:
        self.on_disk[index] = self.size
        for gone in self.store.chunk_closed(index, size=self.size):
            del self.on_disk[gone.index]

    def seconds(self, seconds: float) -> None:
        for _ in range(round(seconds * FPS)):
            self.frame()


def test_chunks_are_cut_every_chunk_seconds() -> None:
    rec = Recorder()
    first = rec.frame()
    assert first == Cut(index=0, marker=0.0, closes=None)
    rec.seconds(12.1)
    assert [c.index for c in rec.store.chunks] == [0, 1, 2]
    assert all(abs(c.duration - 4) < 1 / FPS for c in rec.store.chunks)
    assert rec.store.open_chunk is not None and rec.store.open_chunk[0] == 3


def test_a_clip_request_closes_the_boundary_chunk_at_the_next_frame() -> None:
    rec = Recorder()
    rec.seconds(10)
    plan = rec.store.request_clip(4, unix_ms=UNIX_MS)
    assert isinstance(plan, ClipPlan) and plan.close_boundary
    clip = plan.clip
    assert clip.kind is ClipKind.SNAP and clip.session_id == RID
    assert clip.end_marker == pytest.approx(10 - 1 / FPS)
    assert clip.duration_seconds == pytest.approx(4)
    assert clip.predicted_ready_at_ms == UNIX_MS + 500
    query = dict(part.split("=") for part in clip.playlist_url.split("?")[1].split("&"))
    _, start, end = parse_clip_query(query)
    assert isinstance(rec.store.answer(start, end), PlaylistPending)
    cut = rec.frame()
    assert cut is not None and cut.closes == 2  # closed after 2 s, not 4
    answer = rec.store.answer(start, end)
    assert isinstance(answer, PlaylistReady)
    assert [c.index for c in answer.chunks] == [1, 2]
    covered = answer.chunks[-1].end - answer.chunks[0].start
    assert 4 <= covered <= 4 + 4 + 1 / FPS
    assert len(parse_playlist(answer.text).segments) == 2


def test_retry_after_is_whole_seconds_within_the_chunk() -> None:
    rec = Recorder()
    rec.seconds(1)
    assert rec.store.answer(0, 0.9) == PlaylistPending(retry_after=4)
    rec.store.request_close()
    assert rec.store.answer(0, 0.9) == PlaylistPending(retry_after=1)


def test_recording_request_covers_everything_retained() -> None:
    rec = Recorder()
    rec.seconds(9)
    plan = rec.store.request_recording(unix_ms=UNIX_MS)
    assert isinstance(plan, ClipPlan)
    assert plan.clip.kind is ClipKind.RECORDING and plan.clip.start_marker == 0.0
    rec.frame()
    answer = rec.store.answer(plan.clip.start_marker, plan.clip.end_marker)
    assert isinstance(answer, PlaylistReady) and [c.index for c in answer.chunks] == [0, 1, 2]


def test_failures_before_media_and_after_a_crash() -> None:
    store = RecordingStore(RID)
    assert store.request_clip(4, unix_ms=0) == ClipFailure(reason="no media generated yet")
    assert store.request_recording(unix_ms=0) == ClipFailure(reason="no media generated yet")
    for bad in (math.nan, -1, 0, "4", math.inf, 1e300):
        assert store.request_clip(bad, unix_ms=0) == ClipFailure(
            reason="invalid duration_seconds")
    store.on_frame(0.0)
    store.recorder_failed("encoder crashed")
    store.recorder_failed("second reason is ignored")
    assert store.request_clip(4, unix_ms=0) == ClipFailure(
        reason="internal error: encoder crashed")
    assert store.on_frame(1.0) is None


def test_a_single_frame_is_a_clip_of_one_frame() -> None:
    rec = Recorder()
    rec.frame()
    plan = rec.store.request_clip(4, unix_ms=0)
    assert isinstance(plan, ClipPlan)
    assert plan.clip.end_marker > plan.clip.start_marker


def test_clip_is_capped_at_clip_max_seconds() -> None:
    rec = Recorder(RecordingConfig(clip_max_seconds=5))
    rec.seconds(20)
    plan = rec.store.request_clip(60, unix_ms=0)
    assert isinstance(plan, ClipPlan) and plan.clip.duration_seconds == pytest.approx(5)


def test_retention_evicts_old_chunks_and_answers_410() -> None:
    rec = Recorder(RecordingConfig(retention_seconds=8))
    rec.seconds(30)
    kept = list(rec.store.chunks)
    assert kept[0].end > 30 - 8 - 4.25
    assert set(rec.on_disk) == {c.index for c in kept}
    assert isinstance(rec.store.answer(0, 4), PlaylistGone)
    assert rec.store.chunk(0) is None and rec.store.chunk(kept[0].index) == kept[0]


def test_byte_cap_evicts_oldest_first() -> None:
    rec = Recorder(RecordingConfig(max_bytes=2500), size=1000)
    rec.seconds(30)
    assert rec.store.total_bytes <= 2500 and len(rec.store.chunks) == 2
    assert sum(rec.on_disk.values()) == rec.store.total_bytes


def test_a_capped_clip_starts_where_the_recording_is_kept() -> None:
    rec = Recorder(RecordingConfig(max_bytes=1000), size=1000)
    rec.seconds(30)
    plan = rec.store.request_clip(20, unix_ms=0)
    assert isinstance(plan, ClipPlan)
    assert plan.clip.start_marker == rec.store.chunks[0].start


def test_bad_and_future_ranges_are_400() -> None:
    rec = Recorder()
    rec.seconds(10)
    assert isinstance(rec.store.answer(100, 200), PlaylistBadRange)
    rec.frame()
    rec.store.session_ended(now=50)
    # after the end a range past the last chunk is served up to what exists, or refused
    ready = rec.store.answer(0, 11)
    assert isinstance(ready, PlaylistReady)
    assert isinstance(rec.store.answer(20, 30), PlaylistBadRange)
    assert rec.store.request_clip(4, unix_ms=0) != ClipFailure(reason="no media generated yet")


def test_a_finished_recording_lingers_then_expires() -> None:
    rec = Recorder(RecordingConfig(linger_seconds=60))
    rec.seconds(6)
    cut = rec.store.finish_chunk()
    assert cut is not None and cut.closes == 1
    rec.close(cut.closes)
    assert rec.store.finish_chunk() is None
    rec.store.session_ended(now=100)
    rec.store.session_ended(now=200)  # the first end counts
    assert rec.store.next_deadline() == 160
    assert rec.store.handle_timeout(159) == ()
    gone = rec.store.handle_timeout(160)
    assert [c.index for c in gone] == [0, 1]
    assert rec.store.next_deadline() is None and rec.store.handle_timeout(1000) == ()
    assert isinstance(rec.store.answer(0, 1), PlaylistGone)
    assert rec.store.chunk(0) is None
    assert isinstance(rec.store.request_clip(1, unix_ms=0), ClipFailure)


def test_closing_an_uncut_chunk_is_a_local_error_and_a_lost_chunk_is_gone() -> None:
    rec = Recorder()
    with pytest.raises(LocalProtocolError):
        rec.store.chunk_closed(5, size=1)
    store = RecordingStore(RID)
    store.on_frame(0)
    cut = store.on_frame(4.0)
    assert cut is not None and cut.closes == 0
    store.chunk_lost(0)
    store.chunk_lost(0)
    assert isinstance(store.answer(0, 1), PlaylistGone)


def test_chunk_indices_are_bounded() -> None:
    store = RecordingStore(RID)
    store.on_frame(0)
    store.open_chunk = (99_999, 0.0)  # as if the recording had run for 111 hours
    assert store.on_frame(5.0) is None
    assert store.failure is not None and "chunks" in store.failure


def test_config_refuses_nonsense() -> None:
    with pytest.raises(LocalProtocolError):
        RecordingConfig(chunk_seconds=0)
    with pytest.raises(LocalProtocolError):
        RecordingConfig(max_bytes=-1)
    assert RecordingConfig().retention == 308
    assert RecordingConfig(retention_seconds=10).retention == 10


def test_timeline_caps_gaps_and_drops_old_frames() -> None:
    timeline = Timeline(max_gap=0.25)
    assert timeline.advance(100.0) == 0.0
    assert timeline.advance(100.5) == 0.25
    assert timeline.advance(100.5) is None
    assert timeline.advance(math.nan) is None
    assert timeline.advance(100.6) == pytest.approx(0.35)


def test_retained_start_follows_the_store() -> None:
    store = RecordingStore(RID)
    assert store.retained_start is None
    store.on_frame(1.0)
    assert store.retained_start == 1.0
    store.on_frame(5.0)
    assert store.retained_start == 1.0  # cut, not yet on disk
    store.chunk_closed(0, size=10)
    assert store.retained_start == 1.0 and store.chunk(None) is None


# ---- properties ------------------------------------------------------------------------

ops = st.lists(st.one_of(
    st.tuples(st.just("frames"), st.integers(1, 200)),
    st.tuples(st.just("gap"), st.floats(0.05, 30)),
    st.tuples(st.just("clip"), st.floats(0.1, 400)),
    st.tuples(st.just("recording"), st.just(0.0)),
), max_size=30)


@given(ops, st.integers(200, 5000), st.floats(1, 60), st.sampled_from([1.0, 2.0, 4.0]))
def test_any_sequence_keeps_the_bounds(steps: list[tuple[str, float]], cap: int,
                                       retention: float, chunk_seconds: float) -> None:
    config = RecordingConfig(chunk_seconds=chunk_seconds, max_bytes=cap,
                             retention_seconds=retention)
    rec = Recorder(config, size=300)
    for op, arg in steps:
        if op == "frames":
            for _ in range(int(arg)):
                rec.frame()
        elif op == "gap":
            rec.frame(step=arg)
        elif op == "clip":
            rec.store.request_clip(arg, unix_ms=0)
        else:
            rec.store.request_recording(unix_ms=0)
        store = rec.store
        assert store.total_bytes <= cap
        assert store.total_bytes == sum(c.size for c in store.chunks)
        assert set(rec.on_disk) == {c.index for c in store.chunks}
        indices = [c.index for c in store.chunks]
        assert indices == sorted(set(indices))
        for older, newer in zip(store.chunks, list(store.chunks)[1:], strict=False):
            assert older.end <= newer.start + 1e-9
        if store.chunks and store.now_marker is not None:
            # nothing kept entirely behind the retention horizon (checked at each close,
            # so the horizon may lag by the chunk being written)
            lag = chunk_seconds + config.max_gap_seconds
            assert store.chunks[0].end > store.now_marker - retention - lag
        for chunk in store.chunks:
            assert 0 < chunk.duration <= chunk_seconds + config.max_gap_seconds + 1e-9


@given(st.floats(0.5, 120), st.floats(0.1, 300), st.integers(0, 29),
       st.sampled_from([1.0, 2.0, 4.0]))
def test_a_clip_covers_the_request_and_at_most_one_chunk_more(
        recorded: float, asked: float, extra_frames: int, chunk_seconds: float) -> None:
    rec = Recorder(RecordingConfig(chunk_seconds=chunk_seconds))
    rec.seconds(recorded)
    for _ in range(extra_frames):
        rec.frame()
    plan = rec.store.request_clip(asked, unix_ms=0)
    assert isinstance(plan, ClipPlan)
    clip = plan.clip
    rec.frame()  # the next frame closes the boundary chunk
    start, end = float(f"{clip.start_marker:.3f}"), float(f"{clip.end_marker:.3f}")
    answer = rec.store.answer(start, end)
    assert isinstance(answer, PlaylistReady), answer
    covered_from, covered_to = answer.chunks[0].start, answer.chunks[-1].end
    assert covered_from <= clip.start_marker + EPSILON
    assert covered_to >= clip.end_marker - EPSILON
    wanted = min(asked, clip.end_marker)  # nothing exists before marker 0
    assert clip.duration_seconds >= min(wanted, clip.end_marker) - 1e-9
    assert (covered_to - covered_from) - clip.duration_seconds <= chunk_seconds + 1 / FPS + 1e-6


def test_a_chunk_lost_after_it_was_counted_is_forgotten() -> None:
    store = RecordingStore(RID)
    store.on_frame(0)
    store.on_frame(4.0)
    store.chunk_closed(0, size=10)
    store.chunk_lost(0)
    assert not store.chunks and store.total_bytes == 0
    assert isinstance(store.answer(0, 1), PlaylistGone)
