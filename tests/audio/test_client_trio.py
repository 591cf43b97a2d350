"""Audio under trio: the bridged peer (aiortc on its own loop thread) hands received PCM to a
queue read in trio, and PCM pushed from trio is sent, against a plain aiortc peer."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest
import trio

from reactor_anyio.webrtc import IceConfig, TrackSpec
from reactor_anyio.webrtc.audio_receive import AudioFrameQueue, ReceivedAudio
from reactor_anyio.webrtc.audio_send import PcmAudioTrack
from reactor_trio_compat import BridgedClientPeer
from reactor_trio_compat.loop_thread import AiortcLoopThread

from .conftest import PlainPeer, dominant_hz, sine

pytestmark = pytest.mark.anyio

TRACKS = (
    TrackSpec(name="main_audio", kind="audio", direction="recvonly"),
    TrackSpec(name="mic", kind="audio", direction="sendonly"),
)


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


async def wait_until(predicate: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within} s")
        await trio.sleep(0.01)


async def test_bridged_peer_receives_and_sends_audio() -> None:
    client = BridgedClientPeer(TRACKS, ice=IceConfig.loopback())
    lt = client.loop_thread
    lt_ref = AiortcLoopThread.acquire()  # keeps the thread for the plain peer's close
    queue = AudioFrameQueue(capacity=500)
    client.set_audio_sink("main_audio", queue)
    offer, mids = await client.create_offer()

    async def answer_on_loop() -> tuple[PlainPeer, str]:
        plain = PlainPeer()
        return plain, await plain.answer(offer, mids, {"main_audio": 880.0})

    plain, answer = await lt.run(answer_on_loop)
    mic = PcmAudioTrack()
    try:
        await client.apply_answer(answer)
        client.attach_track("mic", mic)
        frames: list[ReceivedAudio] = []
        with trio.fail_after(15):
            while len(frames) < 60:
                frames.append(await queue.get())  # awaited in trio, filled on the loop thread
        assert threading.current_thread() is threading.main_thread()
        pcm = np.concatenate([f.pcm for f in frames[10:]])
        assert pcm.dtype == np.int16 and abs(dominant_hz(pcm, 48_000) - 880.0) < 5
        tone = sine(300.0, 1.0, rate=24_000)
        for start in range(0, tone.shape[0], 480):
            mic.push(tone[start:start + 480], sample_rate=24_000)  # from the trio thread
            await trio.sleep(0.02)
        await wait_until(lambda: mic.samples_queued == 0)
        await trio.sleep(0.3)
        got = plain.recorded("mic")
        loud = np.flatnonzero(np.abs(got[:, 0].astype(np.int32)) > 4000)
        assert loud.size and abs(dominant_hz(got[loud[0]:loud[-1]], 48_000) - 300.0) < 5
    finally:
        await client.close()
        await lt.run(plain.close)
        mic.stop()
        await lt_ref.release()
