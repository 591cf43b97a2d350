"""Audio in stepped sessions (§15.4, §15.5), our ``Reactor`` against our runtime on asyncio
and trio: ``tone`` answers each step with its span of the commanded sine (continuous across
steps), ``echo`` answers with the step's own ``mic`` input on ``speaker``; pushed audio is
checked as a streamed push is and cleared by ``clear_step_inputs()``; the runtime refuses
audio its track does not take, naming the part (``entry``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from reactor_anyio import Reactor, StepRefusedError
from reactor_anyio.runtime import LocalRuntime
from reactor_proto.client.audio import AudioFormatError

from .test_client_e2e import hosted

pytestmark = pytest.mark.anyio
RATE = 48_000


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def tone(anyio_backend: str) -> AsyncIterator[LocalRuntime]:
    async with hosted(anyio_backend, "tone") as runtime:
        yield runtime


@pytest.fixture
async def echo(anyio_backend: str) -> AsyncIterator[LocalRuntime]:
    async with hosted(anyio_backend, "echo") as runtime:
        yield runtime


def dominant_hz(samples: np.ndarray[Any, Any], rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def sine(hz: float, samples: int, amplitude: int = 8000) -> np.ndarray[Any, Any]:
    return (np.sin(2 * np.pi * hz * np.arange(samples) / RATE) * amplitude).astype(np.int16)


async def test_tone_steps_carry_the_commanded_frequency(tone: LocalRuntime) -> None:
    async with Reactor("tone", local=True, api_url=tone.url, generation="stepped") as reactor:
        await reactor.connect()
        played: list[np.ndarray[Any, Any]] = []
        for hz in (440.0, 440.0, 1000.0, 1000.0):
            result = await reactor.step(commands=[{"command": "set_frequency",
                                                   "data": {"hz": hz}}])
            audio = result.track("main_audio")
            assert audio.kind == "audio" and audio.rate == RATE
            (frame,) = audio.frames
            assert frame.array.dtype == np.int16 and frame.array.shape == (1, RATE // 15)
            assert abs(dominant_hz(frame.array[0]) - hz) <= RATE / frame.array.shape[1]
            played.append(frame.array[0])
            assert result.track("main_video").frames  # the card, beside the audio
        # consecutive steps are one continuous sine: no jump at the boundary
        joined = np.concatenate(played[:2]).astype(np.int32)
        steepest = 2 * np.pi * 440 / RATE * 0.4 * 32767  # tone's amplitude is 0.4
        assert np.abs(np.diff(joined)).max() < 1.2 * steepest


async def test_echo_steps_return_the_steps_mic_input(echo: LocalRuntime) -> None:
    async with Reactor("echo", local=True, api_url=echo.url, generation="stepped") as reactor:
        await reactor.connect()
        mic = await reactor.track("mic").publish()
        voice = sine(1500, RATE // 10)  # 100 ms
        mic.push_frame(voice[: RATE // 20], sample_rate=RATE, num_channels=1)
        mic.push_frame(voice[RATE // 20:].astype(np.float32) / 32767, sample_rate=RATE)
        result = await reactor.step()
        (frame,) = result.track("speaker").frames
        assert frame.array.shape == (1, len(voice))
        assert np.abs(frame.array[0].astype(np.int32) - voice).max() <= 1

        # stereo pushes are mixed down for the mono mic (rounded mean of the channels)
        left, right = sine(600, 4800), sine(600, 4800, amplitude=4000)
        mic.push_frame(np.stack([left, right], axis=1), sample_rate=RATE, num_channels=2)
        (frame,) = (await reactor.step()).track("speaker").frames
        expected = np.round((left.astype(np.float64) + right) / 2).astype(np.int16)
        assert np.array_equal(frame.array[0], expected)

        # step(media=...) takes int16 (channels, samples) arrays too
        (frame,) = (await reactor.step(media={"mic": [voice[None, :4800]]})
                    ).track("speaker").frames
        assert np.array_equal(frame.array[0], voice[:4800])

        # cleared pushes are gone: a step without audio is one frame's time of silence
        mic.push_frame(voice, sample_rate=RATE)
        reactor.clear_step_inputs()
        (frame,) = (await reactor.step()).track("speaker").frames
        assert frame.array.shape == (1, RATE // 30) and not frame.array.any()


async def test_bad_audio_is_refused_before_or_by_the_runtime(echo: LocalRuntime) -> None:
    async with Reactor("echo", local=True, api_url=echo.url, generation="stepped") as reactor:
        await reactor.connect()
        mic = await reactor.track("mic").publish()
        # the client's own checks, as for a streamed push: nothing is buffered
        bad: list[tuple[Any, dict[str, Any], str]] = [
            (np.zeros(480, np.int16), {"sample_rate": 22_050}, "sample_rate"),
            (np.zeros(480, np.int16), {"num_channels": 3}, "num_channels"),
            (np.zeros(480, np.int32), {}, "pcm"),
            (np.full(480, np.nan, np.float32), {}, "pcm"),
            (np.zeros((480, 2), np.int16), {"num_channels": 1}, "pcm"),
        ]
        for pcm, kwargs, field in bad:
            with pytest.raises(AudioFormatError) as error:
                mic.push_frame(pcm, **kwargs)
            assert error.value.field == field
        mic.push_frame(np.zeros(480, np.int16), sample_rate=16_000)
        with pytest.raises(AudioFormatError):  # one rate per track and step
            mic.push_frame(np.zeros(480, np.int16), sample_rate=RATE)

        # the runtime's: the mic takes 48 kHz, so 16 kHz is refused with the track's entry
        with pytest.raises(StepRefusedError) as refused:
            await reactor.step()
        assert refused.value.entry == "media_input[0]" and "48000 Hz" in str(refused.value)
        with pytest.raises(StepRefusedError) as refused:  # more than a second of audio
            await reactor.step(media={"mic": [np.zeros((1, RATE + 1), np.int16)]})
        assert refused.value.entry == "media_input[0]"
        with pytest.raises(StepRefusedError) as refused:  # audio for the video input
            await reactor.step(media={"webcam": [np.zeros((1, 480), np.int16)]})
        assert refused.value.entry == "media_input[0].frames[0]"
        # refusals took no step number
        assert (await reactor.step()).step == 1
