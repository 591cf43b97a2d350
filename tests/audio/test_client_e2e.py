"""Our ``Reactor`` against ``reactor serve --model tone`` and ``echo``, on asyncio and trio:
the frequency our client hands the handler is the commanded one, before and after
``set_frequency``; PCM pushed on ``mic`` comes back on ``speaker``; stats count the audio."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
import numpy as np
import pytest

from reactor_anyio import Reactor
from reactor_anyio.runtime import LocalRuntime
from reactor_proto.client.audio import AudioFormatError
from reactor_proto.errors import InvalidStateError

from .conftest import SineTrack, dominant_hz, sine

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
RATE = 48_000


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def hosted(backend: str, model: str) -> Any:
    if backend == "trio":  # aiortc needs asyncio: the runtime runs on the bridge's thread
        from reactor_trio_compat import TrioHostedRuntime

        return TrioHostedRuntime(model)
    return LocalRuntime(model)


async def wait_for(predicate: Any, within: float = 10.0) -> None:
    with anyio.fail_after(within):
        while not predicate():  # noqa: ASYNC110
            await anyio.sleep(0.01)


class Recorder:
    """What the audio handler got, with the thread it ran on."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.rates: set[int] = set()
        self.threads: set[int] = set()
        self.stamps: list[int] = []

    def __call__(self, frame: np.ndarray, sample_rate: int, num_channels: int,
                 timestamp_us: int) -> None:
        assert frame.dtype == np.int16 and frame.shape[1] == num_channels
        self.chunks.append(frame)
        self.rates.add(sample_rate)
        self.threads.add(threading.get_ident())
        self.stamps.append(timestamp_us)

    @property
    def samples(self) -> int:
        return sum(c.shape[0] for c in self.chunks)

    def tail(self, seconds: float) -> np.ndarray:
        return np.concatenate(self.chunks)[-int(seconds * RATE):]


@pytest.fixture
async def tone(anyio_backend: str) -> AsyncIterator[LocalRuntime]:
    async with hosted(anyio_backend, "tone") as runtime:
        yield runtime


async def test_tone_at_the_commanded_frequency_before_and_after_set_frequency(
        tone: LocalRuntime) -> None:
    got = Recorder()
    async with Reactor(model_name="tone", local=True, api_url=tone.url) as reactor:
        reactor.track("main_audio").on_frame(got)
        await reactor.connect()
        assert reactor.track("main_audio").kind == "audio"
        await wait_for(lambda: got.samples >= RATE)
        assert got.rates == {RATE}
        assert got.threads == {threading.get_ident()}  # the caller's thread, either backend
        assert got.stamps == sorted(got.stamps)
        assert abs(dominant_hz(got.tail(0.5), RATE) - 440) < 5
        await reactor.send_command("set_frequency", {"hz": 1000})
        start = got.samples
        await wait_for(lambda: got.samples >= start + int(0.8 * RATE))
        assert abs(dominant_hz(got.tail(0.4), RATE) - 1000) < 5
        stats = await reactor.get_stats()
        assert stats is not None
        audio = stats.audio["main_audio"]
        assert audio.direction == "recvonly" and audio.frames_received >= 90
        assert audio.frames_delivered + audio.frames_dropped + audio.frames_buffered == \
            audio.frames_received


async def test_a_handler_set_after_connect_and_the_reactor_decorator(
        tone: LocalRuntime) -> None:
    got = Recorder()
    async with Reactor(model_name="tone", local=True, api_url=tone.url) as reactor:
        await reactor.connect()
        await reactor.send_command("set_frequency", {"hz": 2000})
        reactor.on_audio_frame(got)
        await wait_for(lambda: got.samples >= int(1.2 * RATE))
        assert abs(dominant_hz(got.tail(0.5), RATE) - 2000) < 5


async def test_published_pcm_comes_back_through_echo(anyio_backend: str) -> None:
    got = Recorder()
    async with hosted(anyio_backend, "echo") as echo, \
            Reactor(model_name="echo", local=True, api_url=echo.url) as reactor:
        reactor.track("speaker").on_frame(got)
        await reactor.connect()
        mic = await reactor.track("mic").publish()
        pcm = sine(750.0, 2.0, rate=16_000)
        for start in range(0, pcm.shape[0], 320):  # real time, 20 ms per push
            mic.push_frame(pcm[start:start + 320], sample_rate=16_000, num_channels=1)
            await anyio.sleep(0.02)
        await wait_for(lambda: any(np.abs(c).max() > 4000 for c in got.chunks))
        await anyio.sleep(0.5)
        audio = np.concatenate(got.chunks)
        loud = np.flatnonzero(np.abs(audio[:, 0].astype(np.int32)) > 4000)
        assert abs(dominant_hz(audio[loud[0]:loud[-1]], RATE) - 750) < 5
        stats = await reactor.get_stats()
        assert stats is not None and stats.audio["mic"].samples_pushed >= 2 * RATE - 960


async def test_bad_pushes_and_a_burst_never_stall_the_video(anyio_backend: str) -> None:
    frames: list[int] = []
    async with hosted(anyio_backend, "echo") as echo, \
            Reactor(model_name="echo", local=True, api_url=echo.url) as reactor:
        reactor.track("main_video").on_frame(lambda frame: frames.append(frame.shape[0]))
        await reactor.connect()
        webcam = await reactor.track("webcam").publish(fps=30)
        mic = await reactor.track("mic").publish(buffer_ms=500)
        picture = np.full((360, 640, 3), 90, np.uint8)
        webcam.push_frame(picture)
        await wait_for(lambda: len(frames) >= 5)
        bad: list[tuple[dict[str, Any], str]] = [
            ({"sample_rate": 22_050}, "sample_rate"),
            ({"num_channels": 3}, "num_channels"),
            ({"user_data": b"x"}, "user_data"),
            ({"capture_time_us": 5}, "capture_time_us"),
        ]
        for kwargs, field in bad:
            with pytest.raises(AudioFormatError) as caught:
                mic.push_frame(np.zeros(960, np.int16), **kwargs)
            assert caught.value.field == field
        for pcm in (np.zeros(960, np.int32), np.zeros((960, 2), np.int16),
                    np.full(960, np.nan, np.float32)):
            with pytest.raises(AudioFormatError) as caught:
                mic.push_frame(pcm)
            assert caught.value.field == "pcm"
        before = len(frames)
        for _ in range(50):  # 10 s of audio in one burst: bounded, the oldest dropped
            mic.push_frame(sine(440.0, 0.2))
        await wait_for(lambda: len(frames) >= before + 15)  # half a second of video
        stats = await reactor.get_stats()
        assert stats is not None
        sent = stats.audio["mic"]
        assert sent.samples_pushed == 10 * RATE
        # at most the 500 ms buffer survived, plus what the sender took meanwhile
        assert sent.direction == "sendonly"
        assert sent.samples_dropped >= 10 * RATE - RATE // 2 - 960 * sent.frames_sent


async def test_publishing_an_aiortc_audio_track(anyio_backend: str) -> None:
    got = Recorder()
    async with hosted(anyio_backend, "echo") as echo, \
            Reactor(model_name="echo", local=True, api_url=echo.url) as reactor:
        reactor.track("speaker").on_frame(got)
        await reactor.connect()
        mic = await reactor.track("mic").publish(source=SineTrack(620.0))
        assert isinstance(mic.audio_source, SineTrack)
        with pytest.raises(InvalidStateError, match=r"publish\(source=\.\.\.\)"):
            mic.push_frame(np.zeros(960, np.int16))
        await wait_for(lambda: got.samples >= RATE
                       and np.abs(got.tail(0.3)).max() > 4000)
        assert abs(dominant_hz(got.tail(0.5), RATE) - 620) < 5
        mic.unpublish()
        assert mic.audio_source is None
