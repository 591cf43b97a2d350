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
