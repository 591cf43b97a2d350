"""Frame callbacks: quick ones run on the loop, slow ones move to a worker thread and back."""

from __future__ import annotations

import threading
import time

import anyio
import numpy as np
import pytest

from reactor_anyio.webrtc.receiver import QUICK_STREAK, SLOW_CALLBACK, InputSlot

pytestmark = pytest.mark.anyio


async def test_slow_callback_is_offloaded_then_returns_to_the_loop() -> None:
    slot = InputSlot("main_video", capacity=1)
    loop_thread = threading.get_ident()
    calls: list[tuple[int, bool]] = []
    slow = {"on": True}

    def callback(frame: np.ndarray) -> None:
        calls.append((threading.get_ident(), slow["on"]))
        if slow["on"]:
            time.sleep(SLOW_CALLBACK * 2)

    slot.set_callback(callback)
    frame = np.zeros((4, 4, 3), np.uint8)

    async def deliver() -> None:
        """One frame, and wait until the callback has returned (no timing assumptions)."""
        before = len(calls)
        slot.mailbox.put(frame)
        with anyio.fail_after(5):
            while len(calls) == before or len(slot.mailbox):  # noqa: ASYNC110
                await anyio.sleep(0.001)
        await anyio.sleep(SLOW_CALLBACK * 3)  # let a slow call finish and be judged

    for _ in range(3):
        await deliver()
    assert slot.offloaded
    assert calls[0][0] == loop_thread  # the first (slow) call ran on the loop
    assert calls[-1][0] != loop_thread  # later slow calls ran in a worker thread
    slow["on"] = False
    for _ in range(QUICK_STREAK + 2):
        await deliver()
    assert not slot.offloaded
    await deliver()
    assert calls[-1][0] == loop_thread
    await slot.aclose()


async def test_callback_errors_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    slot = InputSlot("main_video", capacity=1)

    def broken(frame: np.ndarray) -> None:
        raise ValueError("user bug")

    slot.set_callback(broken)
    slot.mailbox.put(np.zeros((2, 2, 3), np.uint8))
    await anyio.sleep(0.01)
    assert "frame callback for track 'main_video' raised" in caplog.text
    await slot.aclose()
