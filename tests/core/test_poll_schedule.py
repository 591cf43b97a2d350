"""The poll schedules (reactor_proto.client.config): property tests (issue 20).

Model: polls are instantaneous (zero round trip), the first at 0, then after each delay.
An awaited thing (the SDP answer) that exists from time ``t`` on is seen by the first poll
at or after ``t``; its *lateness* is that poll's time minus ``t``.
"""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.client.config import ANSWER_POLL, ClientConfig, PollSchedule


def poll_times(schedule: PollSchedule, until: float) -> list[float]:
    times, now = [0.0], 0.0
    for attempt in itertools.count():
        now += schedule.delay(attempt)
        times.append(now)
        if now > until:
            return times
    raise AssertionError("unreachable")  # pragma: no cover


def lateness(schedule: PollSchedule, t: float) -> float:
    return next(p for p in poll_times(schedule, t + schedule.cap + 1) if p >= t) - t


schedules = st.builds(
    PollSchedule,
    first=st.floats(0.001, 0.5), factor=st.floats(1.0, 4.0), cap=st.floats(0.5, 5.0),
    dense=st.floats(0.001, 0.05) | st.just(0.0), dense_until=st.floats(0.0, 1.0))


@given(schedules, st.integers(0, 200))
def test_delays_are_positive_and_bounded(schedule: PollSchedule, attempt: int) -> None:
    delay = schedule.delay(attempt)
    assert 0 < delay <= max(schedule.cap, schedule.dense)


@given(schedules)
def test_the_dense_phase_comes_first_and_covers_its_window(schedule: PollSchedule) -> None:
    dense = schedule.dense_polls
    assert all(schedule.delay(i) == schedule.dense for i in range(dense))
    if dense:
        assert dense * schedule.dense >= schedule.dense_until - 1e-9
        assert (dense - 1) * schedule.dense < schedule.dense_until
    assert schedule.delay(dense) == min(schedule.cap, schedule.first)


@given(st.floats(0.0, 0.25))
def test_an_answer_in_the_first_quarter_second_is_caught_within_8_ms(t: float) -> None:
    assert lateness(ANSWER_POLL, t) <= 0.008 + 1e-9


@given(st.floats(0.25, 15.0))
def test_a_later_answer_waits_at_most_one_capped_backoff(t: float) -> None:
    schedule = ANSWER_POLL
    assert lateness(schedule, t) <= min(schedule.cap, max(schedule.first, t)) + 1e-9


@given(schedules, st.floats(0.0, 60.0))
def test_request_count_is_bounded_by_the_phases(schedule: PollSchedule, budget: float) -> None:
    count = schedule.worst_case_requests(budget)
    assert count >= 1
    # one request at 0, the dense ones, then at most budget / (smallest later gap) + the
    # geometric ramp, bounded by budget/first when the factor is 1
    later = budget / min(schedule.cap, schedule.first) + 1
    assert count <= 1 + schedule.dense_polls + later + 1


def test_answer_poll_numbers() -> None:
    assert ClientConfig(model_name="m").answer_poll == ANSWER_POLL
    assert ANSWER_POLL.dense_polls == 32
    # the 15 s answer budget: 32 dense polls, then the old ramp (21 requests in 15 s)
    assert ANSWER_POLL.worst_case_requests(15.0) <= 32 + 21
    assert ANSWER_POLL.worst_case_requests(0.0) == 1
    # no dense phase: the previous schedule, unchanged
    plain = PollSchedule()
    assert plain.dense_polls == 0 and plain.delay(0) == 0.025
