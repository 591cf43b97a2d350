"""The recorder's worker takes frames in batches, and at once when a clip asks (pacing.py).

The two ``_realtime`` tests depend on timing and are the ones run ten times for the report;
their margins are wide (the worker's idle period is raised to 30 s, so "not yet" cannot be a
timeout, and every "by now" waits up to 5 s)."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable

import pytest

from reactor_anyio.recording import Recorder
from reactor_anyio.recording import recorder as recorder_module
from reactor_anyio.recording.pacing import BATCH_FRAMES, WorkerPacing
from reactor_proto.recording import ClipPlan, PlaylistReady, RecordingConfig

from .conftest import counter_frame


def test_a_batch_is_at_most_half_the_queue_and_at_least_one() -> None:
    assert WorkerPacing(16, close_wait=0.1).batch == BATCH_FRAMES == 8
    assert WorkerPacing(6, close_wait=0.1).batch == 3
    assert WorkerPacing(1, close_wait=0.1).batch == 1
    assert WorkerPacing(16, close_wait=0.1, batch_frames=2).batch == 2
    assert WorkerPacing(16, close_wait=0.3, period=0.1).period == 0.3  # never under close_wait


def test_the_event_wakes_a_wait_and_a_short_queue_does_not() -> None:
    pacing = WorkerPacing(16, close_wait=0.01, period=30.0)
    pacing.queued(7)
    started = time.monotonic()
    pacing.wait(urgent=True)  # nothing set: the close_wait timeout
    assert time.monotonic() - started < 5
    pacing.queued(8)
    started = time.monotonic()
    pacing.wait(urgent=False)  # set by the batch: returns at once, and clears
    assert time.monotonic() - started < 5
    woke = threading.Event()

    def sleeper() -> None:
        pacing.wait(urgent=False)
        woke.set()

    thread = threading.Thread(target=sleeper)
    thread.start()
    assert not woke.wait(0.1)  # cleared: this wait sleeps
    pacing.wake()
    assert woke.wait(5)
    thread.join()


def _until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return False


@pytest.fixture
def slow_period(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recorder_module, "WorkerPacing",
                        functools.partial(WorkerPacing, period=30.0))


@pytest.mark.usefixtures("slow_period")
def test_frames_wait_for_a_batch_realtime() -> None:
    with Recorder(queue_frames=16) as recorder:  # batches of 8
        for n in range(7):
            assert recorder.offer(counter_frame(n))
        time.sleep(0.2)
        assert recorder.frames_recorded == 0
        assert recorder.offer(counter_frame(7))
        assert _until(lambda: recorder.frames_recorded == 8)
        for n in range(8, 11):
            assert recorder.offer(counter_frame(n))
        time.sleep(0.2)
        assert recorder.frames_recorded == 8
        assert recorder.idle(timeout=5)  # a waiting caller wakes it too
        assert recorder.frames_recorded == 11
        assert recorder.frames_dropped == 0


@pytest.mark.usefixtures("slow_period")
def test_a_clip_request_wakes_the_worker_and_closes_the_chunk_realtime() -> None:
    config = RecordingConfig(chunk_seconds=0.2)
    with Recorder(config, queue_frames=64) as recorder:  # batches of 8
        for n in range(8):
            assert recorder.offer(counter_frame(n))
        assert _until(lambda: recorder.frames_recorded == 8)
        for n in range(8, 12):  # under a batch: they wait
            assert recorder.offer(counter_frame(n))
        time.sleep(0.2)
        assert recorder.frames_recorded == 8
        plan = recorder.request_clip(0.1)
        assert isinstance(plan, ClipPlan), plan
        # the queued frames are recorded at once; the boundary chunk then closes on a
        # repeated frame after close_wait (frames have stopped)
        assert _until(lambda: recorder.frames_recorded >= 12)
        clip = plan.clip
        assert _until(lambda: isinstance(recorder.answer(clip.start_marker, clip.end_marker),
                                         PlaylistReady))
        assert recorder.failure is None
