"""Returning freed native memory to the OS (reactor_anyio.webrtc.heap, issue 21)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from reactor_anyio.webrtc import heap
from reactor_proto.reclaim import Reclaim, ReclaimPolicy, ReclaimSchedule


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A fresh schedule and a recording trim: the trims performed."""
    calls: list[int] = []
    monkeypatch.setattr(heap, "_lookup", lambda: calls.append)
    monkeypatch.setattr(heap, "_schedule", ReclaimSchedule())
    monkeypatch.setattr(heap, "_armed", None)
    return calls


def test_streaming_trims_follow_the_schedule(fresh: list[int]) -> None:
    now = [100.0]
    assert heap.reclaim_while_streaming(clock=lambda: now[0])
    assert not heap.reclaim_while_streaming(clock=lambda: now[0])  # just trimmed
    now[0] += heap.STREAMING_INTERVAL - 1
    assert not heap.reclaim_while_streaming(clock=lambda: now[0])
    now[0] += 1
    assert heap.reclaim_while_streaming(clock=lambda: now[0])
    assert fresh == [0, 0]


def test_a_closed_session_is_collected_and_trimmed_on_its_loop(
        fresh: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    collected: list[int] = []
    monkeypatch.setattr(heap.gc, "collect", collected.append)
    heap.configure(ReclaimPolicy(after_close=0.01, min_interval=0.0))
    assert heap.current_policy().after_close == 0.01  # the first session's: a full collection

    async def main() -> None:
        loop = asyncio.get_running_loop()
        heap.session_closed(loop)
        heap.session_closed(loop)  # one timer for both
        await asyncio.sleep(0.2)

    asyncio.run(main())
    assert collected == [2] and fresh == [0]
    assert heap._armed is None  # nothing due: the timer has ended


def test_a_loop_that_ended_before_its_reclaim_does_not_block_the_next(
        fresh: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap.gc, "collect", lambda generation: 0)
    heap.configure(ReclaimPolicy(after_close=0.05, min_interval=0.0))

    async def close_and_leave() -> None:
        heap.session_closed(asyncio.get_running_loop())

    asyncio.run(close_and_leave())  # the loop is gone before the timer fires
    assert fresh == []

    async def close_and_wait() -> None:
        heap.session_closed(asyncio.get_running_loop())
        await asyncio.sleep(0.3)

    asyncio.run(close_and_wait())
    assert fresh == [0]  # both sessions' reclaim, once, on the new loop


def test_a_disabled_policy_does_nothing(fresh: list[int]) -> None:
    heap.configure(ReclaimPolicy(enabled=False))

    async def main() -> None:
        heap.session_closed(asyncio.get_running_loop())
        await asyncio.sleep(0.05)

    asyncio.run(main())
    assert not heap.reclaim_while_streaming()
    assert fresh == []


def test_a_process_without_its_collector_is_only_trimmed(
        fresh: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    collected: list[int] = []
    monkeypatch.setattr(heap.gc, "collect", collected.append)
    monkeypatch.setattr(heap.gc, "isenabled", lambda: False)
    assert heap.perform(Reclaim(collect=2, reason="session-closed"))
    assert collected == [] and fresh == [0]


def test_a_missing_or_failing_trim_is_harmless(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "_lookup", lambda: None)
    assert not heap.trim_now()

    def broken(pad: int) -> int:
        raise OSError("no")

    monkeypatch.setattr(heap, "_lookup", lambda: broken)
    assert not heap.trim_now()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_glibc_trim_is_found_and_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "_looked_up", False)
    monkeypatch.setattr(heap, "_trim", None)
    assert heap.trim_now()
    assert heap._lookup() is not None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_arenas_can_be_limited() -> None:
    assert heap.limit_arenas(8)  # glibc's own default cap on 1 core: harmless here


def test_periodic_trim_runs_in_a_thread_only_while_leases_are_held() -> None:
    import threading

    trimmed = threading.Event()
    threads: list[int] = []

    def trim() -> None:
        threads.append(threading.get_ident())
        trimmed.set()

    trimmer = heap.PeriodicTrim(interval=0.01, trim=trim)
    first, second = heap.TrimLease(trimmer), heap.TrimLease(trimmer)
    assert not trimmer.running
    first.acquire()
    first.acquire()  # idempotent
    second.acquire()
    assert trimmer.holders == 2 and trimmer.running
    assert trimmed.wait(5)
    assert threading.get_ident() not in threads  # never on the caller's thread
    first.release()
    assert trimmer.running  # one lease left
    second.release()
    second.release()  # idempotent
    assert trimmer.holders == 0 and not trimmer.running  # the thread has ended
    trimmer.release()  # an extra release is harmless
    assert trimmer.holders == 0


def test_a_failing_periodic_trim_keeps_the_thread() -> None:
    import threading

    calls: list[int] = []
    twice = threading.Event()

    def broken() -> None:
        calls.append(1)
        if len(calls) >= 2:
            twice.set()
        raise OSError("no")

    trimmer = heap.PeriodicTrim(interval=0.01, trim=broken)
    lease = heap.TrimLease(trimmer)
    lease.acquire()
    assert twice.wait(5)
    lease.release()
    assert not trimmer.running


def test_the_default_periodic_trim_follows_the_schedule(fresh: list[int]) -> None:
    trimmer = heap.PeriodicTrim(interval=1000.0)
    trimmer._trim()
    trimmer._trim()
    assert fresh == [0]
