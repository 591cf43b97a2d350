"""Returning freed native memory to the OS (reactor_anyio.webrtc.heap, issue 21)."""

from __future__ import annotations

import sys

import pytest

from reactor_anyio.webrtc import heap


def test_trims_are_rate_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(heap, "_lookup", lambda: calls.append)
    monkeypatch.setattr(heap, "_last", float("-inf"))
    now = [100.0]
    assert heap.release_free_memory(clock=lambda: now[0])
    assert not heap.release_free_memory(clock=lambda: now[0])  # just trimmed
    now[0] += heap.MIN_INTERVAL
    assert heap.release_free_memory(clock=lambda: now[0])
    now[0] += heap.MIN_INTERVAL
    assert not heap.release_free_memory(min_interval=heap.STREAMING_INTERVAL,
                                        clock=lambda: now[0])
    assert calls == [0, 0]


def test_a_missing_or_failing_trim_is_harmless(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "_last", float("-inf"))
    monkeypatch.setattr(heap, "_lookup", lambda: None)
    assert not heap.release_free_memory()

    def broken(pad: int) -> int:
        raise OSError("no")

    monkeypatch.setattr(heap, "_last", float("-inf"))
    monkeypatch.setattr(heap, "_lookup", lambda: broken)
    assert not heap.release_free_memory()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_glibc_trim_is_found_and_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "_last", float("-inf"))
    monkeypatch.setattr(heap, "_looked_up", False)
    monkeypatch.setattr(heap, "_trim", None)
    assert heap.release_free_memory()
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


def test_the_default_periodic_trim_is_rate_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(heap, "_lookup", lambda: calls.append)
    monkeypatch.setattr(heap, "_last", float("-inf"))
    trimmer = heap.PeriodicTrim(interval=1000.0)
    trimmer._trim()
    trimmer._trim()
    assert calls == [0]
