"""Our ``Reactor`` stepping our runtime (§15), on asyncio and trio; and the Track API.

Helios steps with a changing prompt through ``state`` and ``commands``; the echo model
(``ReplyEcho``: echo plus commands that fail with their own code) steps raw frames pushed on
a published track and H.264 frames encoded here with PyAV, refuses what §15 refuses, and
fails a step whose command fails.  The Track tests stream: ``on_frame``, ``pause``/
``resume``, ``publish`` + ``push_frame`` to echo and back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import av
import numpy as np
import pytest

from reactor_anyio import (
    EncodedFrame,
    GenerationModeMismatchError,
    InvalidStateError,
    LocalProtocolError,
    Reactor,
    RequestTimeoutError,
    StepCommand,
    StepCommandFailedError,
    StepRefusedError,
)
from reactor_anyio.runtime import LocalRuntime

from .test_client_e2e import hosted, wait_for
from .test_coordinator_support import KEY, client, emulator

pytestmark = pytest.mark.anyio
ECHO = "tests.interop.v1_models:ReplyEcho"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def helios(anyio_backend: str) -> AsyncIterator[LocalRuntime]:
    async with hosted(anyio_backend, "helios") as runtime:
        yield runtime


@pytest.fixture
async def echo(anyio_backend: str) -> AsyncIterator[LocalRuntime]:
    async with hosted(anyio_backend, ECHO) as runtime:
        yield runtime


def h264(frames: list[np.ndarray[Any, Any]]) -> list[bytes]:
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height = frames[0].shape[1], frames[0].shape[0]
    codec.pix_fmt = "yuv420p"
    codec.options = {"tune": "zerolatency", "bframes": "0"}
    units: list[bytes] = []
    for image in frames:
        units += [bytes(p) for p in codec.encode(av.VideoFrame.from_ndarray(image, "rgb24"))]
    return units + [bytes(p) for p in codec.encode(None)]


async def test_helios_three_steps_with_state_and_commands(helios: LocalRuntime) -> None:
    async with Reactor("helios", local=True, api_url=helios.url,
                       generation="stepped") as reactor:
        assert reactor.generation == "stepped"
        await reactor.connect()
        first = await reactor.step(state={"prompt": "a red fox"})
        second = await reactor.step(commands=[StepCommand("schedule_prompt",
                                                          {"prompt": "a whale", "chunk": 0})])
        third = await reactor.step(state={"prompt": "a tree"},
                                   commands=[{"command": "set_prompt",
                                              "data": {"prompt": "a green tree"}}])
        assert [r.step for r in (first, second, third)] == [1, 2, 3]
        for result in (first, second, third):
            assert result.error is None and result.elapsed > 0
            out = result.track("main_video")
            assert out.rate > 0 and len(out.frames) == 1
            frame = out.frames[0].array
            assert frame.shape == (360, 640, 3) and frame.dtype == np.uint8
        assert not np.array_equal(first.track("main_video").frames[0].array,
                                  third.track("main_video").frames[0].array)
        with pytest.raises(KeyError):
            first.track("nope")
        # a refused step applies nothing and takes no step number
        with pytest.raises(StepRefusedError) as info:
            await reactor.step(state={"no_such_field": 1})
        assert info.value.code == "step_refused" and info.value.entry
        assert (await reactor.step()).step == 4


async def test_echo_encoded_frames_buffer_and_failures(echo: LocalRuntime) -> None:
    async with Reactor("reply_echo", local=True, api_url=echo.url,
                       generation="stepped") as reactor:
        await reactor.connect()
        webcam = await reactor.track("webcam").publish()
        assert webcam.published
        images = [np.full((64, 96, 3), 40 * (i + 1), dtype=np.uint8) for i in range(3)]
        units = h264(images)
        result = await reactor.step(media={"webcam": [
            EncodedFrame(unit, width=96, height=64) for unit in units]})
        frames = result.track("main_video").frames
        # echo scales to its output size and inverts (its default effect); lossy
        assert frames and frames[-1].array.shape == (360, 640, 3)
        assert abs(int(np.median(frames[-1].array)) - (255 - 120)) < 12

        # pushed frames wait for the next step; clear_step_inputs() drops them
        webcam.push_frame(np.full((32, 48, 3), 10, dtype=np.uint8))
        reactor.clear_step_inputs()
        webcam.push_frame(np.full((32, 48, 3), 90, dtype=np.uint8), capture_time_us=5)
        result = await reactor.step()
        (frame,) = result.track("main_video").frames
        assert int(np.median(frame.array)) == 255 - 90  # the second push, not the cleared one

        # a failing command: typed, with the handler's code and the failing entry
        with pytest.raises(StepCommandFailedError) as failed:
            await reactor.step(commands=[StepCommand("fail_with", {"code": "too_early"})])
        assert failed.value.command_code == "too_early"
        assert failed.value.entry == "commands[0]"
        with pytest.raises(LocalProtocolError):  # an output track: refused before sending
            await reactor.step(media={"main_video": [np.zeros((8, 8, 3), np.uint8)]})
        with pytest.raises(StepRefusedError):  # undecodable H.264: the runtime refuses
            await reactor.step(media={"webcam": [EncodedFrame(b"\0\0\0\1garbage", 96, 64)]})
        # neither the failed command nor the refusals took a step number
        assert (await reactor.step(media={"webcam": [images[0]]})).step == 3


async def test_step_timeout_and_streamed_refusals(echo: LocalRuntime) -> None:
    async with Reactor("reply_echo", local=True, api_url=echo.url, generation="stepped",
                       step_timeout=1e-6) as reactor:
        await reactor.connect()
        with pytest.raises(RequestTimeoutError):
            await reactor.step()
    async with Reactor("reply_echo", local=True, api_url=echo.url) as reactor:
        with pytest.raises(InvalidStateError):
            reactor.clear_step_inputs()
        await reactor.connect()
        with pytest.raises(InvalidStateError):
            await reactor.step()


async def test_stepped_client_against_a_streamed_session_fails_connect(
        echo: LocalRuntime) -> None:
    async with Reactor("reply_echo", local=True, api_url=echo.url) as streamed:
        await streamed.connect()  # the runtime now runs a streamed session
        async with Reactor("reply_echo", local=True, api_url=echo.url,
                           generation="stepped") as reactor:
            with pytest.raises(GenerationModeMismatchError):
                await reactor.connect()


async def test_track_api_streams_to_echo_and_back(echo: LocalRuntime) -> None:
    async with Reactor("reply_echo", local=True, api_url=echo.url) as reactor:
        early = reactor.track("main_video")  # before connect: any name
        received: list[np.ndarray[Any, Any]] = []
        early.on_frame(received.append)
        await reactor.connect()
        video = reactor.tracks.with_kind("video")  # echo also declares mic and speaker
        assert [t.name for t in video] == ["webcam", "main_video"] or \
            {t.name for t in video} == {"webcam", "main_video"}
        assert video.with_direction("sendonly").one().name == "webcam"
        assert reactor.tracks.with_kind("video").with_direction("recvonly").one() is early
        with pytest.raises(ValueError, match="no such track"):
            reactor.track("nope")
        webcam = reactor.track("webcam")
        with pytest.raises(InvalidStateError):
            webcam.push_frame(np.zeros((32, 32, 3), np.uint8))  # not published yet
        await webcam.publish()
        for _ in range(40):
            webcam.push_frame(np.full((48, 64, 3), 200, dtype=np.uint8))
            await anyio.sleep(0.02)
            if received and abs(int(np.median(received[-1])) - 55) <= 6:
                break
        # our pushed frame came back: scaled to echo's output and inverted (255 - 200)
        await wait_for(lambda: bool(received) and abs(int(np.median(received[-1])) - 55) <= 6)
        await early.pause()
        assert early.paused
        await wait_for(lambda: echo.consumers() == 0)
        await early.resume()
        await wait_for(lambda: echo.consumers() == 1)
        webcam.unpublish()
        assert not webcam.published


async def test_through_the_coordinator(anyio_backend: str) -> None:
    """``POST /sessions`` carries the mode in ``extra_configs``; the emulator does not
    forward the v1 marker yet, so the client asks for v1 itself."""
    async with emulator(api_keys=[KEY]) as emu, \
            client(emu, KEY, generation="stepped", wire="v1") as reactor:
        await reactor.connect()
        results = [await reactor.step(state={"prompt": p}) for p in ("a fox", "a whale")]
        assert [r.step for r in results] == [1, 2]
        assert results[1].track("main_video").frames[0].array.shape == (360, 640, 3)
        await reactor.disconnect()
