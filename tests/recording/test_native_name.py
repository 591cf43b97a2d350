"""The recorder's worker carries its own name in the OS thread list (bench figure 11 reads
the served runtime's recording CPU per thread by that name)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from reactor_anyio.recording import Recorder, native
from reactor_anyio.recording.native import WORKER_NAME, name_this_thread

from .conftest import counter_frame


def _comm(native_id: int) -> str:
    return Path(f"/proc/self/task/{native_id}/comm").read_text().strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux thread names")
def test_the_worker_is_named_in_the_os_and_records_as_before() -> None:
    with Recorder() as recorder:
        assert recorder.offer(counter_frame(0))
        assert recorder.idle(timeout=10)
        ident = recorder._thread.native_id
        assert ident is not None
        assert _comm(ident) == WORKER_NAME
        assert recorder.frames_recorded == 1
    assert len(WORKER_NAME.encode()) <= 15  # the kernel keeps 15 bytes


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux thread names")
def test_a_long_name_is_cut_to_fifteen_bytes() -> None:
    seen: list[str] = []

    def run() -> None:
        assert name_this_thread("a-name-longer-than-fifteen-bytes")
        seen.append(_comm(threading.get_native_id()))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == ["a-name-longer-t"]


def test_elsewhere_or_on_failure_naming_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native.sys, "platform", "darwin")
    assert name_this_thread("x") is False
    monkeypatch.setattr(native.sys, "platform", "linux")

    def broken() -> object:
        raise OSError("no libc")

    monkeypatch.setattr(native, "_prctl", broken)
    assert name_this_thread("x") is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_the_bench_reads_a_named_threads_cpu_and_keeps_it_after_it_ends() -> None:
    import os

    from bench.recording_served import ThreadCpuSampler, named_threads_cpu

    go, named, seen = threading.Event(), threading.Event(), threading.Event()

    def busy() -> None:
        name_this_thread("bench-probe-x")
        named.set()
        go.wait(10)
        deadline = time.thread_time() + 0.1
        while time.thread_time() < deadline:
            pass
        seen.wait(10)  # until a sample has its CPU (/proc counts in clock ticks)

    thread = threading.Thread(target=busy)
    with ThreadCpuSampler(os.getpid(), "bench-probe-x", period=0.01) as sampler:
        thread.start()
        assert named.wait(10)
        assert list(named_threads_cpu(os.getpid(), "bench-probe-x")) == [str(thread.native_id)]
        go.set()
        deadline = time.monotonic() + 10
        while not (sampler.samples and sampler.samples[-1][1] > 0):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        seen.set()
        thread.join()
        ended = len(sampler.samples)
        time.sleep(0.1)  # samples after the thread ended
    assert named_threads_cpu(os.getpid(), "bench-probe-x") == {}
    assert len(sampler.samples) > ended
    values = [cpu for _, cpu in sampler.samples]
    assert values == sorted(values)  # never drops when the thread goes
    assert values[-1] > 0
