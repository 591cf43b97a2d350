"""Audio through the client's aiortc peer (asyncio) against a plain aiortc peer: a sine the
peer plays arrives as int16 PCM at its frequency; PCM we push (any rate) decodes there."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from reactor_anyio.webrtc import ClientPeer, IceConfig, TrackSpec
from reactor_anyio.webrtc.audio_receive import AudioFrameQueue, ReceivedAudio
from reactor_anyio.webrtc.audio_send import PcmAudioTrack

from .conftest import PlainPeer, dominant_hz, sine, wait_until

pytestmark = pytest.mark.anyio

TRACKS = (
    TrackSpec(name="main_audio", kind="audio", direction="recvonly"),
    TrackSpec(name="mic", kind="audio", direction="sendonly"),
    TrackSpec(name="main_video", kind="video", direction="recvonly"),
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def connected(play: dict[str, float],
                    queue: AudioFrameQueue | None = None) -> tuple[ClientPeer, PlainPeer]:
    client = ClientPeer(TRACKS, ice=IceConfig.loopback())
    if queue is not None:
        client.set_audio_sink("main_audio", queue)
    offer, mids = await client.create_offer()
    plain = PlainPeer()
    await client.apply_answer(await plain.answer(offer, mids, play))
    return client, plain


async def collect(queue: AudioFrameQueue, seconds: float) -> list[ReceivedAudio]:
    frames: list[ReceivedAudio] = []
    while sum(f.pcm.shape[0] for f in frames) < seconds * 48_000:
        frames.append(await asyncio.wait_for(queue.get(), 10))
    return frames


async def test_sine_arrives_as_int16_pcm_at_its_frequency() -> None:
    queue = AudioFrameQueue(capacity=500)
    client, plain = await connected({"main_audio": 440.0}, queue)
    try:
        frames = await collect(queue, 1.0)
        first = frames[0]
        assert first.pcm.dtype == np.int16 and first.pcm.ndim == 2
        assert first.sample_rate == 48_000 and first.num_channels in (1, 2)
        stamps = [f.timestamp_us for f in frames]
        assert stamps[0] == 0 and stamps == sorted(stamps)
        pcm = np.concatenate([f.pcm for f in frames[10:]])  # past the decoder's warm-up
        assert abs(dominant_hz(pcm, 48_000) - 440.0) < 5
        plain.sines["main_audio"].hz = 1000.0
        await collect(queue, 0.3)  # what was already in flight
        later = np.concatenate([f.pcm for f in await collect(queue, 0.5)])
        assert abs(dominant_hz(later, 48_000) - 1000.0) < 5
        assert queue.frames_dropped == 0
    finally:
        await client.close()
        await plain.close()


async def test_slow_consumer_drops_oldest_and_counts() -> None:
    queue = AudioFrameQueue(capacity=5)
    client, plain = await connected({"main_audio": 440.0}, queue)
    try:
        await wait_until(lambda: queue.frames_received >= 30)
        assert len(queue) == 5
        assert queue.frames_dropped == queue.frames_received - 5
        item = queue.get_nowait()  # the oldest *kept* one: a recent frame
        assert item.timestamp_us >= (queue.frames_received - 6) * 20_000
    finally:
        await client.close()
        await plain.close()
    assert queue.frames_received == queue.frames_delivered + queue.frames_dropped + len(queue)


async def test_audio_without_a_sink_is_read_and_discarded() -> None:
    client, plain = await connected({"main_audio": 440.0})
    try:
        await wait_until(lambda: any(
            s.frames_read > 20 for s in client._audio_input_table().values()))
    finally:
        await client.close()
        await plain.close()


@pytest.mark.parametrize(("rate", "channels"), [(48_000, 1), (16_000, 1), (44_100, 2),
                                                (8_000, 2)])
async def test_pushed_pcm_at_any_rate_decodes_on_the_other_side(rate: int,
                                                                 channels: int) -> None:
    client, plain = await connected({})
    mic = PcmAudioTrack()
    client.attach_track("mic", mic)
    try:
        pcm = sine(600.0, 1.5, rate=rate, channels=channels)
        step = rate // 50
        for start in range(0, pcm.shape[0], step):  # real time, 20 ms at a time
            mic.push(pcm[start:start + step], sample_rate=rate, num_channels=channels)
            await asyncio.sleep(0.02)
        await wait_until(lambda: plain.recorded("mic").shape[0] >= 48_000)
        await wait_until(lambda: mic.samples_queued == 0)
        await asyncio.sleep(0.3)
        got = plain.recorded("mic")
        loud = np.flatnonzero(np.abs(got[:, 0].astype(np.int32)) > 4000)
        voiced = got[loud[0]:loud[-1]]
        assert voiced.shape[0] > 1.3 * 48_000
        assert abs(dominant_hz(voiced, 48_000) - 600.0) < 5
        assert mic.samples_dropped == 0 and mic.frames_sent > 50
    finally:
        mic.stop()
        await client.close()
        await plain.close()
