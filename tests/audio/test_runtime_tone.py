"""``tone`` over real WebRTC to a plain aiortc receiver: the runtime encodes the model's PCM
with Opus, paced by the audio clock, beside its video; the frequency that arrives is the one
commanded, before and after ``set_frequency``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest

from reactor_anyio.http import HttpClient
from reactor_anyio.models import Tone, TrackSpec
from reactor_anyio.runtime import LocalRuntime

from .plain_client import PlainClient, dominant_frequency, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
TONE_TRACKS = (("main_video", "video", "recvonly"), ("main_audio", "audio", "recvonly"))
RATE = 48_000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the plain client is aiortc, asyncio only


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    async with HttpClient() as client:
        yield client


class Tone60ms(Tone):
    """``tone`` with 60 ms audio frames: one Opus packet per 60 ms."""

    outputs = (Tone.outputs[0], TrackSpec(name="main_audio", kind="audio", frame_ms=60))


@pytest.fixture(params=[20, 60], ids=["20ms", "60ms"])
async def tone(request: pytest.FixtureRequest) -> AsyncIterator[LocalRuntime]:
    async with LocalRuntime("tone" if request.param == 20 else Tone60ms) as runtime:
        yield runtime


def tail(client: PlainClient, seconds: float) -> np.ndarray:
    return client.received("main_audio")[-int(seconds * RATE):]


async def test_tone_arrives_at_the_commanded_frequency(tone: LocalRuntime,
                                                       http: HttpClient) -> None:
    client = PlainClient(tone.url, http, TONE_TRACKS)
    try:
        await client.connect()
        client.notify("resume_track", "main_audio")
        client.notify("resume_track", "main_video")
        await wait_for(lambda: len(client.received("main_audio")) >= RATE // 2)
        assert abs(dominant_frequency(tail(client, 0.4), RATE) - 440) < 10
        assert client.video_frames > 0
        client.command("set_frequency", {"hz": 1000})
        await wait_for(lambda: any(m["data"].get("type") == "frequency"
                                   and m["data"]["data"]["hz"] == 1000
                                   for m in client.messages if m.get("scope") == "application"))
        start = len(client.received("main_audio"))
        await wait_for(lambda: len(client.received("main_audio")) >= start + RATE // 2)
        assert abs(dominant_frequency(tail(client, 0.3), RATE) - 1000) < 10
        # pts on the 48 kHz audio clock, one frame (one packet) at a time; a producer
        # stalled over 100 ms (a loaded machine) skips ahead by whole frames, never back
        steps = np.diff(client.pts["main_audio"][-20:])
        frame = tone.model.output_track("main_audio").audio_format.frame_samples
        assert all(step > 0 and step % frame == 0 for step in steps.tolist()), steps
        assert np.count_nonzero(steps == frame) >= len(steps) - 2, steps
        assert tone.frames_produced("main_audio") > 8
    finally:
        await client.aclose()


async def test_a_paused_audio_output_sends_nothing(tone: LocalRuntime,
                                                   http: HttpClient) -> None:
    client = PlainClient(tone.url, http, TONE_TRACKS)
    try:
        await client.connect()
        client.notify("resume_track", "main_video")
        await wait_for(lambda: client.video_frames >= 5)
        assert client.received("main_audio").size == 0
        assert tone.consumers("main_audio") == 0
        client.notify("resume_track", "main_audio")
        await wait_for(lambda: tone.consumers("main_audio") == 1)
        await wait_for(lambda: client.received("main_audio").size > RATE // 10)
    finally:
        await client.aclose()
