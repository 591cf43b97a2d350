"""reactor_proto.sack_coalescing: SACKs answered together send exactly what the same SACKs
answered one by one (aiortc's rule after each) would have sent, no more."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reactor_proto import sack_coalescing as sc

CHUNK = 1160


def _sequential(queue: list[int], flight: int, sacks: list[tuple[int, int]],
                burst: int | None) -> int:
    """aiortc: after each SACK (acking ``acked`` bytes, window ``cwnd``), send new chunks
    while in flight < min(in flight + burst, cwnd).  Returns how many chunks were sent.

    The SACKs were all waiting before the first was handled, so none acknowledges a chunk
    sent in answer to an earlier one: acks come out of the data in flight before."""
    sent = new = 0
    for acked, cwnd in sacks:
        flight -= min(acked, flight)
        limit = cwnd if burst is None else min(flight + new + burst, cwnd)
        while sent < len(queue) and flight + new < limit:
            new += queue[sent]
            sent += 1
    return sent


def _coalesced(queue: list[int], flight: int, sacks: list[tuple[int, int]],
               burst: int | None) -> int:
    """Ours: each SACK's bookkeeping, nothing sent until the last, which sends all owed."""
    owed = sc.NOTHING_OWED
    for acked, cwnd in sacks:
        flight -= min(acked, flight)
        owed = sc.owe(owed, iter(queue[owed.chunks:]), flight=flight, cwnd=cwnd, burst=burst)
    return owed.chunks


sizes = st.lists(st.sampled_from([CHUNK, CHUNK, CHUNK, 112, 640]), max_size=80)
events = st.lists(st.tuples(st.integers(0, 6 * CHUNK), st.integers(CHUNK, 300 * CHUNK)),
                  min_size=1, max_size=12)


@given(queue=sizes, flight=st.integers(0, 40 * CHUNK), sacks=events,
       burst=st.sampled_from([None, 4 * CHUNK, 2 * CHUNK]))
def test_one_transmission_sends_what_the_sacks_one_by_one_would_have(
        queue: list[int], flight: int, sacks: list[tuple[int, int]],
        burst: int | None) -> None:
    assert _coalesced(queue, flight, sacks, burst) == _sequential(queue, flight, sacks, burst)


@given(queue=sizes, flight=st.integers(0, 40 * CHUNK), cwnd=st.integers(CHUNK, 300 * CHUNK),
       burst=st.sampled_from([None, 4 * CHUNK]))
def test_a_lone_sack_is_aiortcs_rule(queue: list[int], flight: int, cwnd: int,
                                     burst: int | None) -> None:
    owed = sc.owe(sc.NOTHING_OWED, iter(queue), flight=flight, cwnd=cwnd, burst=burst)
    assert owed.chunks == _sequential(queue, flight, [(0, cwnd)], burst)
    assert owed.size == sum(queue[:owed.chunks])
    if owed.chunks:  # the last chunk went while the flight was still below the limit
        limit = cwnd if burst is None else min(flight + burst, cwnd)
        assert flight + owed.size - queue[owed.chunks - 1] < limit


def test_only_reads_the_chunks_it_sends() -> None:
    read: list[int] = []

    def lazily() -> object:
        for size in [CHUNK] * 1000:
            read.append(size)
            yield size

    owed = sc.owe(sc.NOTHING_OWED, lazily(), flight=0, cwnd=10**9,  # type: ignore[arg-type]
                  burst=4 * CHUNK)
    assert owed.chunks == 4 and len(read) <= 5


@given(waiting=st.booleans(), gaps=st.booleans(), fast=st.booleans())
def test_deferred_only_behind_waiting_datagrams_and_never_with_loss(
        waiting: bool, gaps: bool, fast: bool) -> None:
    deferred = sc.may_defer(waiting=waiting, gaps=gaps, fast_recovery=fast)
    assert deferred == (waiting and not gaps and not fast)
