"""The audio policy core (reactor_proto.client.audio): validation, drop-oldest accounting,
the send budget and frame sizing, property-tested."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.client.audio import (
    FRAME_MS,
    OPUS_SAMPLE_RATE,
    SUPPORTED_SAMPLE_RATES,
    AudioFormatError,
    DropOldestBuffer,
    PcmFormat,
    SendBudget,
    check_format,
    check_layout,
    frame_samples,
    media_time_us,
)
from reactor_proto.errors import LocalProtocolError


@given(st.sampled_from(SUPPORTED_SAMPLE_RATES), st.sampled_from([1, 2]))
def test_supported_formats_pass(rate: int, channels: int) -> None:
    assert check_format(rate, channels) == PcmFormat(sample_rate=rate, num_channels=channels)


@given(st.one_of(st.integers(), st.floats(allow_nan=True), st.text(max_size=3), st.none(),
                 st.booleans()))
def test_unsupported_rate_names_sample_rate(rate: object) -> None:
    if rate in SUPPORTED_SAMPLE_RATES and not isinstance(rate, bool):
        return
    with pytest.raises(AudioFormatError) as caught:
        check_format(rate, 1)
    assert caught.value.field == "sample_rate" and "sample_rate" in str(caught.value)
    assert caught.value.code == "INVALID_ARGUMENT"


@pytest.mark.parametrize("channels", [0, 3, 6, -1, True, 1.5, "1"])
def test_unsupported_channels_name_num_channels(channels: object) -> None:
    with pytest.raises(AudioFormatError, match="num_channels") as caught:
        check_format(48_000, channels)
    assert caught.value.field == "num_channels"


MONO = PcmFormat(sample_rate=16_000, num_channels=1)
STEREO = PcmFormat(sample_rate=48_000, num_channels=2)


@given(st.integers(0, 10_000), st.sampled_from(["int16", "float32", "float64"]))
def test_layouts_count_samples_per_channel(n: int, dtype: str) -> None:
    assert check_layout(dtype=dtype, shape=(n,), fmt=MONO).samples == n
    assert check_layout(dtype=dtype, shape=(n, 2), fmt=STEREO).samples == n
    assert check_layout(dtype=dtype, shape=(2 * n,), fmt=STEREO).samples == n
    assert check_layout(dtype=dtype, shape=(n,), fmt=MONO).scale == (dtype != "int16")


@pytest.mark.parametrize(("dtype", "shape", "fmt", "match"), [
    ("int32", (10,), MONO, "dtype int32"),
    ("uint8", (10,), MONO, "dtype uint8"),
    ("int16", (11,), STEREO, "not a multiple"),
    ("int16", (10, 1), STEREO, r"expected \(samples, 2\)"),
    ("int16", (2, 10), STEREO, r"expected \(samples, 2\)"),
    ("int16", (2, 10, 1), MONO, "1-D interleaved"),
])
def test_bad_layouts_are_named(dtype: str, shape: tuple[int, ...], fmt: PcmFormat,
                               match: str) -> None:
    with pytest.raises(AudioFormatError, match=match) as caught:
        check_layout(dtype=dtype, shape=shape, fmt=fmt, field="frame")
    assert caught.value.field == "frame" and "frame" in str(caught.value)


def test_nan_samples_are_refused() -> None:
    with pytest.raises(AudioFormatError, match="NaN"):
        check_layout(dtype="float32", shape=(10,), fmt=MONO, finite=False)


@given(st.sampled_from(SUPPORTED_SAMPLE_RATES))
def test_frame_sizes_are_20_ms(rate: int) -> None:
    assert frame_samples(rate) * 1000 == rate * FRAME_MS
    assert frame_samples(OPUS_SAMPLE_RATE) == 960


@given(st.integers(0, 2**32), st.integers(0, 2**20), st.sampled_from(SUPPORTED_SAMPLE_RATES))
def test_media_time_counts_from_the_first_frame(first: int, offset: int, rate: int) -> None:
    assert media_time_us(first, rate, first) == 0
    assert media_time_us(first + offset, rate, first) == offset * 1_000_000 // rate


@given(st.integers(1, 20), st.lists(st.booleans(), max_size=200))
def test_drop_oldest_buffer_is_bounded_and_accounts_for_everything(
        capacity: int, ops: list[bool]) -> None:
    buffer: DropOldestBuffer[int] = DropOldestBuffer(capacity)
    model: list[int] = []
    for i, put in enumerate(ops):
        if put:
            dropped = buffer.put(i)
            model.append(i)
            assert dropped == (1 if len(model) > capacity else 0)
            del model[:-capacity]
        else:
            assert buffer.take() == (model.pop(0) if model else None)
        assert len(buffer) == len(model) <= capacity
        assert buffer.accepted == buffer.taken + buffer.dropped + len(buffer)
    kept = len(buffer)
    assert buffer.discard_all() == kept and len(buffer) == 0
    assert buffer.accepted == buffer.taken + buffer.dropped


def test_buffer_capacity_must_be_positive() -> None:
    with pytest.raises(LocalProtocolError, match="capacity"):
        DropOldestBuffer(0)


@given(st.integers(20, 3000),
       st.lists(st.one_of(st.integers(0, 200_000), st.just(-1), st.just(-2)), max_size=100))
def test_send_budget_bounds_drops_oldest_and_sends_whole_frames(
        capacity_ms: int, ops: list[int]) -> None:
    """Non-negative: a push of that many samples; -1: a frame tick; -2: a partial flush."""
    budget = SendBudget(capacity_ms=capacity_ms)
    queue: list[int] = []  # a model: sample serial numbers waiting
    serial = 0
    for op in ops:
        if op >= 0:
            incoming = list(range(serial, serial + op))
            serial += op
            admission = budget.admit(op)
            del queue[:admission.drop_queued]
            queue.extend(incoming[admission.skip_incoming:])
            # what is kept is always the newest audio
            if admission.drop_queued or admission.skip_incoming:
                assert queue == list(range(serial - len(queue), serial))
        elif op == -1:
            ready = budget.take_frame()
            assert ready == (len(queue) >= budget.frame)
            if ready:
                del queue[:budget.frame]
        else:
            assert budget.take_partial() == len(queue)
            queue.clear()
        assert budget.queued == len(queue) <= budget.capacity
        assert budget.pushed == budget.sent + budget.dropped + budget.queued
    left = budget.queued
    assert budget.clear() == left and budget.queued == 0


def test_send_budget_refuses_a_buffer_under_one_frame_and_negative_pushes() -> None:
    with pytest.raises(AudioFormatError, match="buffer_ms") as caught:
        SendBudget(capacity_ms=10)
    assert caught.value.field == "buffer_ms"
    with pytest.raises(LocalProtocolError, match="incoming"):
        SendBudget().admit(-1)


@given(st.integers(1, 60), st.integers(0, 4),
       st.lists(st.one_of(st.integers(0, 5000), st.just(-1)), max_size=300))
def test_settle_trims_only_a_standing_queue(window: int, slack: int, ops: list[int]) -> None:
    """Non-negative: a push; -1: one sender interval (settle, then take a frame)."""
    budget = SendBudget(window_frames=window, slack_frames=slack)
    lowest: int | None = None
    ticks = 0
    for op in ops:
        if op >= 0:
            budget.admit(op)
            continue
        lowest = budget.queued if lowest is None else min(lowest, budget.queued)
        ticks += 1
        before = budget.queued
        trimmed = budget.settle()
        if ticks == window:
            assert trimmed == max(0, lowest - budget.slack)
            ticks, lowest = 0, None
        else:
            assert trimmed == 0
        assert budget.queued == before - trimmed
        budget.take_frame()
        assert budget.pushed == budget.sent + budget.dropped + budget.queued
        assert budget.trimmed <= budget.dropped


def test_a_queue_that_never_empties_is_trimmed_to_the_slack() -> None:
    budget = SendBudget(window_frames=50, slack_frames=2)
    budget.admit(960 * 30)  # 600 ms ahead of the sender, then real time
    trimmed = 0
    for _ in range(50):
        budget.admit(960)
        trimmed += budget.settle()
        assert budget.take_frame()
    # the lowest level seen at settle() was 31 frames (30 ahead + the one just pushed)
    assert trimmed == 960 * (31 - 2)
    assert budget.queued == 960 and budget.trimmed == trimmed
    for _ in range(50):  # bursty: empties inside the window, nothing goes
        if _ % 25 == 0:
            budget.admit(960 * 25)
        assert budget.settle() == 0
        budget.take_frame()
