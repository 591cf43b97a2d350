"""stop_decoder: aiortc's decoder thread ends without its backlog and without a join on the
loop (issue 20, figure 6)."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from typing import Any

from reactor_anyio.webrtc.decoder import stop_decoder


class FakeReceiver:
    """The two private attributes stop_decoder uses, with aiortc's decoder loop behind them:
    each queued item takes ``per_item`` seconds, ``None`` ends the thread."""

    def __init__(self, per_item: float) -> None:
        self.decoded = 0
        self._RTCRtpReceiver__decoder_queue: queue.Queue[Any] = queue.Queue()
        self._RTCRtpReceiver__decoder_thread: threading.Thread | None = threading.Thread(
            target=self._work, args=(per_item,), daemon=True)

    def _work(self, per_item: float) -> None:
        while self._RTCRtpReceiver__decoder_queue.get() is not None:
            time.sleep(per_item)
            self.decoded += 1


def test_the_backlog_is_dropped_and_the_loop_keeps_running() -> None:
    async def main() -> tuple[float, int, int]:
        receiver = FakeReceiver(per_item=0.01)
        thread = receiver._RTCRtpReceiver__decoder_thread
        assert thread is not None
        for _ in range(50):  # 0.5 s of backlog
            receiver._RTCRtpReceiver__decoder_queue.put(object())
        thread.start()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        task = asyncio.get_running_loop().create_task(ticker())
        started = time.monotonic()
        assert await stop_decoder(receiver)
        took = time.monotonic() - started
        task.cancel()
        assert not thread.is_alive()
        assert receiver._RTCRtpReceiver__decoder_thread is None  # aiortc's stop: no join
        return took, receiver.decoded, ticks

    took, decoded, ticks = asyncio.run(main())
    assert decoded < 10  # the frame(s) in hand, not the 50 queued
    assert took < 0.3
    assert ticks >= 1  # the loop ran while the thread finished


def test_nothing_to_stop() -> None:
    async def main() -> None:
        assert not await stop_decoder(object())
        idle = FakeReceiver(per_item=0)
        idle._RTCRtpReceiver__decoder_thread = None  # never started (no track yet)
        assert not await stop_decoder(idle)

    asyncio.run(main())
