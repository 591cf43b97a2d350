"""The core's audio policy (reactor_proto.runtime.audio): pacing, conforming what a model
returns, and the bound on received audio.  Property-tested: whatever a model returns, every
frame is exact, the buffer stays bounded and every sample is accounted for."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reactor_proto.errors import LocalProtocolError
from reactor_proto.runtime.audio import (
    DTYPE,
    ERROR,
    NON_FINITE,
    NONE,
    SHAPE,
    SUPPORTED_RATES,
    AudioClock,
    AudioConformer,
    AudioFormat,
    AudioInbox,
    ChunkInfo,
)

FMT = AudioFormat()


# ---- formats ------------------------------------------------------------------------------


def test_format_frames() -> None:
    assert FMT.frame_samples == 960 and FMT.frame_period == pytest.approx(0.02)
    assert AudioFormat(sample_rate=44_100, frame_ms=10).frame_samples == 441
    assert AudioFormat(sample_rate=8000, channels=2).frame_samples == 160
    assert AudioFormat(frame_ms=60).frame_samples == 2880


@pytest.mark.parametrize("kwargs", [{"sample_rate": 22_050}, {"channels": 3},
                                    {"channels": 0}, {"frame_ms": 30}, {"frame_ms": 120}])
def test_format_refuses_what_opus_clients_do_not_take(kwargs: dict[str, int]) -> None:
    with pytest.raises(LocalProtocolError):
        AudioFormat(**kwargs)


# ---- the clock ----------------------------------------------------------------------------


def test_clock_paces_on_frame_boundaries_and_counts_samples() -> None:
    clock = AudioClock(FMT, epoch=100.0)
    assert clock.deadline(100.005) == pytest.approx(100.02)
    assert clock.take(100.02) == 960
    assert clock.deadline(100.021) == pytest.approx(100.04)
    assert clock.take(100.04) == 1920
    assert clock.frames == 2 and clock.skipped_frames == 0 and clock.restarts == 1


def test_clock_skips_ahead_when_late_instead_of_bursting() -> None:
    clock = AudioClock(FMT, epoch=0.0, max_lag=0.1)
    clock.take(0.0)
    pts = clock.take(1.0)  # a second late: jumps to the present
    assert pts == 49 * 960 and clock.skipped_frames == 48
    assert clock.deadline(1.0) == pytest.approx(1.0)


def test_clock_restarts_after_a_park() -> None:
    clock = AudioClock(FMT, epoch=0.0)
    clock.take(0.0)
    clock.park()
    assert clock.deadline(5.001) == pytest.approx(5.02)
    assert clock.take(5.02) == 251 * 960
    assert clock.restarts == 2


def test_clock_refuses_a_zero_lag() -> None:
    with pytest.raises(LocalProtocolError):
        AudioClock(FMT, epoch=0.0, max_lag=0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=0.5), min_size=1, max_size=60))
def test_clock_pts_only_grow_in_whole_frames(delays: list[float]) -> None:
    clock = AudioClock(FMT, epoch=10.0, max_lag=0.1)
    now, last = 10.0, None
    for delay in delays:
        now = max(now, clock.deadline(now)) + delay
        pts = clock.take(now)
        assert pts % 960 == 0
        assert last is None or pts > last
        # never more than max_lag (plus a frame) behind the wall clock after a take
        assert (now - 10.0) - pts / 48_000 <= 0.1 + 0.02 + 1e-9
        last = pts


# ---- conforming ---------------------------------------------------------------------------


def int16(samples: int, channels: int = 1) -> ChunkInfo:
    return ChunkInfo(dtype="int16", shape=(samples, channels))


def test_exact_chunks_pass_through() -> None:
    conformer = AudioConformer(FMT)
    assert conformer.wants_chunk(0)
    verdict = conformer.judge(int16(960))
    assert (verdict.keep, verdict.drop, verdict.convert, verdict.refused) == (960, 0, False,
                                                                              None)
    assert not conformer.wants_chunk(1)
    cut = conformer.cut()
    assert (cut.take, cut.pad) == (960, 0)
    assert conformer.stats.underruns == 0 and conformer.stats.frames == 1


def test_short_chunks_are_asked_again_then_padded() -> None:
    conformer = AudioConformer(FMT, max_calls=2)
    conformer.judge(int16(100))
    assert conformer.wants_chunk(1)
    conformer.judge(int16(100))
    assert not conformer.wants_chunk(2)
    cut = conformer.cut()
    assert (cut.take, cut.pad) == (200, 760)
    stats = conformer.stats
    assert stats.underruns == 1 and stats.padded_samples == 760 and stats.chunks == 2


def test_long_chunks_are_kept_up_to_the_bound_and_the_rest_dropped() -> None:
    conformer = AudioConformer(FMT)
    verdict = conformer.judge(int16(48_000))
    assert verdict.keep == 4800 and verdict.drop == 43_200
    assert conformer.stats.dropped_samples == 43_200
    for _ in range(5):
        assert not conformer.wants_chunk(0)
        assert conformer.cut().pad == 0
    assert conformer.wants_chunk(0)
    assert conformer.flush() == 0


@pytest.mark.parametrize(("chunk", "reason"), [
    (None, NONE),
    (ChunkInfo(dtype="int32", shape=(960, 1)), DTYPE),
    (ChunkInfo(dtype="list", shape=()), DTYPE),
    (ChunkInfo(dtype="int16", shape=(960, 2)), SHAPE),
    (ChunkInfo(dtype="int16", shape=(2, 960, 1)), SHAPE),
    (ChunkInfo(dtype="int16", shape=()), SHAPE),
    (ChunkInfo(dtype="float32", shape=(960, 1), finite=False), NON_FINITE),
])
def test_bad_chunks_are_refused_and_counted(chunk: ChunkInfo | None, reason: str) -> None:
    conformer = AudioConformer(FMT)
    assert conformer.judge(chunk).refused == reason
    assert conformer.stats.refused == {reason: 1}
    assert conformer.cut().pad == 960  # the frame goes out as silence


def test_floats_are_converted_and_mono_may_be_flat() -> None:
    conformer = AudioConformer(FMT)
    verdict = conformer.judge(ChunkInfo(dtype="float64", shape=(480,)))
    assert verdict.convert and verdict.keep == 480
    stereo = AudioConformer(AudioFormat(channels=2))
    assert stereo.judge(ChunkInfo(dtype="int16", shape=(960,))).refused == SHAPE
    assert stereo.judge(int16(960, 2)).keep == 960


def test_a_raising_model_is_counted() -> None:
    conformer = AudioConformer(FMT)
    assert conformer.failed().refused == ERROR
    assert conformer.stats.refused == {ERROR: 1} and conformer.stats.chunks == 1


def test_conformer_limits_are_checked() -> None:
    with pytest.raises(LocalProtocolError):
        AudioConformer(FMT, max_calls=0)
    with pytest.raises(LocalProtocolError):
        AudioConformer(FMT, max_buffered=959)


chunks = st.one_of(
    st.none(),
    st.builds(ChunkInfo, dtype=st.sampled_from(["int16", "float32", "float64", "uint8"]),
              shape=st.one_of(st.tuples(st.integers(0, 5000)),
                              st.tuples(st.integers(0, 5000), st.integers(1, 2)),
                              st.tuples(st.integers(0, 3), st.integers(0, 3),
                                        st.integers(0, 3))),
              finite=st.booleans()))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SUPPORTED_RATES), st.integers(1, 2),
       st.lists(st.lists(chunks, max_size=6), min_size=1, max_size=30))
def test_every_frame_is_exact_and_every_sample_accounted(
        rate: int, channels: int, frames: list[list[ChunkInfo | None]]) -> None:
    fmt = AudioFormat(sample_rate=rate, channels=channels)
    conformer = AudioConformer(fmt)
    kept = dropped = taken = padded = 0
    for offered in frames:
        calls = 0
        for chunk in offered:
            if not conformer.wants_chunk(calls):
                break
            calls += 1
            verdict = conformer.judge(chunk)
            kept += verdict.keep
            dropped += verdict.drop
            assert verdict.refused is None or verdict.keep == verdict.drop == 0
            assert 0 <= conformer.buffered <= conformer.max_buffered
        assert calls <= conformer.max_calls
        cut = conformer.cut()
        assert cut.take + cut.pad == fmt.frame_samples
        taken += cut.take
        padded += cut.pad
    stats = conformer.stats
    assert kept == taken + conformer.buffered
    assert stats.dropped_samples == dropped and stats.padded_samples == padded
    assert stats.frames == len(frames)


# ---- received audio -----------------------------------------------------------------------


def test_inbox_drops_the_oldest_beyond_its_capacity() -> None:
    inbox = AudioInbox(1000)
    assert inbox.admit(600) == 0
    assert inbox.admit(600) == 200
    assert inbox.buffered == 1000 and inbox.dropped == 200
    assert inbox.take(300) == 300
    assert inbox.take() == 700
    assert inbox.take(5) == 0
    inbox.admit(10)
    assert inbox.clear() == 10 and inbox.dropped == 210 and inbox.received == 1210


def test_inbox_limits_are_checked() -> None:
    with pytest.raises(LocalProtocolError):
        AudioInbox(0)
    with pytest.raises(LocalProtocolError):
        AudioInbox(10).admit(-1)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 5000),
       st.lists(st.tuples(st.booleans(), st.integers(0, 6000)), max_size=50))
def test_inbox_stays_bounded_and_counts_everything(
        capacity: int, steps: list[tuple[bool, int]]) -> None:
    inbox = AudioInbox(capacity)
    read = 0
    for arrival, count in steps:
        if arrival:
            inbox.admit(count)
        else:
            read += inbox.take(count)
        assert 0 <= inbox.buffered <= capacity
    assert inbox.received == read + inbox.buffered + inbox.dropped
