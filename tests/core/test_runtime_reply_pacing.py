"""The reply pacer's policy (reactor_proto.runtime.reply_pacing), driven by a simulated clock:
order is kept, small messages never exceed the bucket, nothing is lost under the backlog
bound, and big messages never wait for tokens."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reactor_proto.errors import LocalProtocolError
from reactor_proto.runtime.reply_pacing import Offered, PacerConfig, ReplyPacer

configs = st.builds(
    PacerConfig,
    rate=st.floats(min_value=1.0, max_value=2000.0),
    burst=st.integers(min_value=1, max_value=20),
    max_backlog_bytes=st.integers(min_value=1, max_value=50_000),
    free_message_bytes=st.integers(min_value=0, max_value=5000),
    flush_at_close=st.integers(min_value=0, max_value=10),
)
#: (seconds since the previous event, message size or None for "the timer fired")
events = st.lists(st.tuples(st.floats(min_value=0.0, max_value=0.05),
                            st.one_of(st.none(), st.integers(min_value=0, max_value=6000))),
                  max_size=120)


class Run:
    """Drives a pacer the way the adapter does: offer, and call ``due`` when the timer that
    ``wakeup`` asked for would have fired (or any later event happens)."""

    def __init__(self, config: PacerConfig) -> None:
        self.now = 0.0
        self.pacer: ReplyPacer[int] = ReplyPacer(config, now=self.now)
        self.sent: list[tuple[float, int]] = []   # (time, message number)
        self.refused: list[int] = []
        self.sizes: dict[int, int] = {}
        self.count = 0

    def advance(self, dt: float) -> None:
        target = self.now + dt
        while True:  # fire every timer that falls inside the step
            wait = self.pacer.wakeup(self.now)
            if wait is None or self.now + wait > target:
                break
            self.now += wait
            self.sent.extend((self.now, n) for n in self.pacer.due(self.now))
        self.now = target
        self.sent.extend((self.now, n) for n in self.pacer.due(self.now))

    def offer(self, size: int) -> None:
        n = self.count
        self.count += 1
        self.sizes[n] = size
        offered = self.pacer.offer(n, size, self.now)
        if offered is Offered.SEND_NOW:
            self.sent.append((self.now, n))
        elif offered is Offered.REFUSED:
            self.refused.append(n)


@settings(max_examples=300, deadline=None)
@given(configs, events)
def test_order_kept_and_nothing_lost_but_what_is_refused(config: PacerConfig,
                                                         steps: list[tuple[float, int | None]]
                                                         ) -> None:
    run = Run(config)
    for dt, size in steps:
        run.advance(dt)
        if size is not None:
            run.offer(size)
    run.advance(10_000.0)  # long enough for anything waiting
    order = [n for _, n in run.sent]
    assert order == sorted(order)
    assert set(order) | set(run.refused) == set(range(run.count))
    assert not set(order) & set(run.refused)
    assert run.pacer.backlog == 0 and run.pacer.queued_bytes == 0
    assert run.pacer.dropped == len(run.refused)


@settings(max_examples=300, deadline=None)
@given(configs, events)
def test_small_messages_stay_within_the_bucket(config: PacerConfig,
                                               steps: list[tuple[float, int | None]]) -> None:
    run = Run(config)
    for dt, size in steps:
        run.advance(dt)
        if size is not None:
            run.offer(size)
    run.advance(10_000.0)
    # in any window [a, b], paid messages <= burst + rate * (b - a)
    paid = [t for t, n in run.sent if run.pacer.tokens_for(run.sizes[n])]
    for i, start in enumerate(paid):
        for j in range(i, len(paid)):
            assert j - i + 1 <= config.burst + config.rate * (paid[j] - start) + 1e-6


@settings(max_examples=200, deadline=None)
@given(configs, st.lists(st.integers(min_value=0, max_value=6000), max_size=60))
def test_with_nothing_waiting_big_messages_go_at_once(config: PacerConfig,
                                                      sizes: list[int]) -> None:
    pacer: ReplyPacer[int] = ReplyPacer(config, now=0.0)
    for n, size in enumerate(sizes):
        big = size >= config.free_message_bytes
        offered = pacer.offer(n, size, 0.0)
        if big and pacer.backlog == 0:
            assert offered is Offered.SEND_NOW
        if offered is Offered.QUEUED:  # from here on everything queues behind it
            assert all(pacer.offer(m, s, 0.0) is not Offered.SEND_NOW
                       for m, s in enumerate(sizes[n + 1:], n + 1))
            break


@settings(max_examples=200, deadline=None)
@given(configs, st.integers(min_value=0, max_value=40))
def test_at_close_keeps_the_newest_and_counts_the_rest(config: PacerConfig,
                                                       waiting: int) -> None:
    pacer: ReplyPacer[int] = ReplyPacer(
        PacerConfig(rate=config.rate, burst=1, flush_at_close=config.flush_at_close),
        now=0.0)
    assert pacer.offer(-1, 1, 0.0) is Offered.SEND_NOW  # spends the only token
    for n in range(waiting):
        assert pacer.offer(n, 1, 0.0) is Offered.QUEUED
    keep = pacer.at_close()
    assert keep == list(range(waiting))[max(0, waiting - config.flush_at_close):]
    assert pacer.dropped == waiting - len(keep)
    assert pacer.backlog == 0 and pacer.wakeup(0.0) is None


def test_wakeup_says_when_the_next_token_arrives_and_a_clock_stepping_back_is_harmless(
        ) -> None:
    pacer: ReplyPacer[str] = ReplyPacer(PacerConfig(rate=100.0, burst=1), now=5.0)
    assert pacer.offer("a", 10, 5.0) is Offered.SEND_NOW
    assert pacer.offer("b", 10, 5.0) is Offered.QUEUED
    assert pacer.wakeup(5.0) == pytest.approx(0.01)
    assert pacer.due(4.0) == []           # earlier than the last reading: no refill
    assert pacer.due(5.005) == []
    assert pacer.due(5.0101) == ["b"]
    assert pacer.delayed == 1 and pacer.dropped == 0


@pytest.mark.parametrize("bad", [{"rate": 0.0}, {"burst": 0}, {"max_backlog_bytes": 0},
                                 {"free_message_bytes": -1}, {"flush_at_close": -1}])
def test_bad_config_is_a_typed_error_naming_the_field(bad: dict[str, float]) -> None:
    with pytest.raises(LocalProtocolError, match=next(iter(bad))):
        PacerConfig(**bad)  # type: ignore[arg-type]


def test_negative_size_is_refused_by_name() -> None:
    pacer: ReplyPacer[str] = ReplyPacer(now=0.0)
    with pytest.raises(LocalProtocolError, match="size"):
        pacer.offer("x", -1, 0.0)
