"""The reclaim schedule (reactor_proto.reclaim, issue 21): property tests.

Model: an adapter reports session closes at given times and polls the schedule at the times
it chose (a timer at :meth:`next_due`, a producer on every frame); every reclaim returned is
performed at once.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.errors import LocalProtocolError
from reactor_proto.reclaim import (
    SESSION_CLOSED,
    STREAMING,
    Reclaim,
    ReclaimPolicy,
    ReclaimSchedule,
)

policies = st.builds(
    ReclaimPolicy, collect=st.sampled_from([None, 0, 1, 2]),
    after_close=st.floats(0.0, 5.0), min_interval=st.floats(0.0, 10.0),
    streaming_interval=st.floats(0.1, 60.0), full_every=st.floats(0.1, 100.0) | st.just(math.inf))
close_times = st.lists(st.floats(0.0, 100.0), max_size=30).map(sorted)


def follow_timer(schedule: ReclaimSchedule, closes: list[float], until: float,
                 streaming: bool = False) -> list[tuple[float, Reclaim]]:
    """Closes reported at their times, the schedule polled at each :meth:`next_due` (the
    way the adapter's timer does); the reclaims performed, with their times."""
    done: list[tuple[float, Reclaim]] = []
    pending = list(closes)
    now = 0.0
    for _ in range(10_000):
        due = schedule.next_due(streaming=streaming)
        upcoming = [t for t in [due, pending[0] if pending else None] if t is not None]
        if not upcoming:
            return done
        now = max(now, min(upcoming))
        if now > until:
            return done
        while pending and pending[0] <= now:
            schedule.session_closed(pending.pop(0))
        reclaim = schedule.poll(now, streaming=streaming)
        if reclaim is not None:
            done.append((now, reclaim))
    raise AssertionError("the schedule never settled")  # pragma: no cover


@given(policies, close_times)
def test_reclaims_are_never_closer_than_the_minimum_interval(
        policy: ReclaimPolicy, closes: list[float]) -> None:
    done = follow_timer(ReclaimSchedule(policy), closes, until=1000.0)
    times = [t for t, _ in done]
    assert all(b - a >= policy.min_interval - 1e-9 for a, b in itertools.pairwise(times))


@given(policies, close_times)
def test_every_closed_session_gets_a_reclaim_after_its_delay(
        policy: ReclaimPolicy, closes: list[float]) -> None:
    schedule = ReclaimSchedule(policy)
    done = follow_timer(schedule, closes, until=1000.0)
    session_times = [t for t, r in done if r.reason == SESSION_CLOSED]
    for closed in closes:
        # some reclaim runs at or after the close's delay, and at most one more delay or
        # minimum interval after it (closes that came during a reclaim's delay share the
        # next one, at the latest of their due times: the state stays three numbers)
        after = [t for t in session_times if t >= closed + policy.after_close - 1e-9]
        assert after
        slack = max(policy.after_close, policy.min_interval)
        assert after[0] <= closed + policy.after_close + slack + 1e-6
    assert not schedule.pending
    assert schedule.next_due() is None  # nothing left: the adapter's timer ends
    assert all(r.collect in (policy.collect, 2) for _, r in done)
    if policy.collect is None:
        assert all(r.collect is None for _, r in done)


@given(policies.filter(lambda p: p.collect is not None), close_times)
def test_a_full_collection_comes_every_full_every_seconds_at_most_and_first(
        policy: ReclaimPolicy, closes: list[float]) -> None:
    done = [(t, r) for t, r in follow_timer(ReclaimSchedule(policy), closes, until=1000.0)
            if r.reason == SESSION_CLOSED]
    last_full = -math.inf
    for t, reclaim in done:
        due_full = t >= last_full + policy.full_every
        assert (reclaim.collect == 2) == (due_full or policy.collect == 2)
        if reclaim.collect == 2:
            last_full = t
    if done and math.isfinite(policy.full_every):
        assert done[0][1].collect == 2  # the first session's end: nothing collected it yet


@given(policies)
def test_while_streaming_a_trim_comes_every_interval_without_a_collection(
        policy: ReclaimPolicy) -> None:
    schedule = ReclaimSchedule(policy)
    done = follow_timer(schedule, [], until=200.0, streaming=True)
    times = [t for t, _ in done]
    assert times and times[0] == 0.0
    step = max(policy.streaming_interval, policy.min_interval)
    assert all(abs((b - a) - step) < 1e-6 for a, b in itertools.pairwise(times))
    assert all(r == Reclaim(collect=None, reason=STREAMING) for _, r in done)


@given(st.floats(0.0, 100.0), st.floats(0.0, 10.0))
def test_a_per_frame_caller_never_takes_a_sessions_reclaim(closed: float, later: float) -> None:
    schedule = ReclaimSchedule(ReclaimPolicy(streaming_interval=1000.0))
    schedule.poll(0.0, streaming=True, sessions=False)  # the first streaming trim
    schedule.session_closed(closed)
    now = closed + 2.0 + later + 5.0
    assert schedule.poll(now, streaming=True, sessions=False) is None
    assert schedule.pending
    assert schedule.poll(now) == Reclaim(collect=2, reason=SESSION_CLOSED)  # the first: full


def test_a_disabled_policy_never_reclaims() -> None:
    schedule = ReclaimSchedule(ReclaimPolicy(enabled=False))
    schedule.session_closed(0.0)
    assert not schedule.pending
    assert schedule.next_due(streaming=True) is None
    assert schedule.poll(100.0, streaming=True) is None


def test_sessions_closing_during_a_reclaim_get_one_more() -> None:
    schedule = ReclaimSchedule(ReclaimPolicy(after_close=2.0, min_interval=1.0))
    schedule.session_closed(0.0)
    schedule.session_closed(1.5)
    assert schedule.next_due() == 2.0
    assert schedule.poll(1.9) is None
    assert schedule.poll(2.0) is not None
    assert schedule.pending and schedule.next_due() == 3.5
    assert schedule.poll(3.5) is not None
    assert not schedule.pending


@pytest.mark.parametrize("field", ["after_close", "min_interval", "streaming_interval"])
@pytest.mark.parametrize("value", [-1.0, math.inf, math.nan])
def test_intervals_must_be_finite_and_non_negative(field: str, value: float) -> None:
    with pytest.raises(LocalProtocolError):
        ReclaimPolicy(**{field: value})  # type: ignore[arg-type]


def test_the_streaming_interval_is_positive() -> None:
    with pytest.raises(LocalProtocolError):
        ReclaimPolicy(streaming_interval=0.0)


def test_the_collection_is_a_generation_or_none() -> None:
    assert ReclaimPolicy(collect=None).collect is None
    with pytest.raises(LocalProtocolError):
        ReclaimPolicy(collect=3)
    for bad in (0.0, -1.0, math.nan):
        with pytest.raises(LocalProtocolError):
            ReclaimPolicy(full_every=bad)


def test_rapid_sessions_get_young_collections_between_full_ones() -> None:
    schedule = ReclaimSchedule(ReclaimPolicy(after_close=0.0, min_interval=1.0,
                                             full_every=60.0))
    kinds = []
    for second in range(0, 130, 2):
        schedule.session_closed(float(second))
        reclaim = schedule.poll(float(second))
        assert reclaim is not None
        kinds.append(reclaim.collect)
    assert kinds.count(2) == 3 and kinds[0] == 2 and kinds[30] == 2 and kinds[60] == 2
    assert set(kinds) == {1, 2}
