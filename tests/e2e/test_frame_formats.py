"""Frame callbacks in the pixel format they consume (issue 20), against the local runtime,
on both backends (under trio the format travels to the bridge's loop thread)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import av
import numpy as np
import pytest

from reactor_anyio import Reactor
from reactor_anyio.runtime import LocalRuntime
from reactor_anyio.webrtc.convert import PixelFormatError

from .conftest import hosted

pytestmark = pytest.mark.anyio


@pytest.fixture
async def helios() -> AsyncIterator[LocalRuntime]:
    async with hosted("helios", model_options={"fps": 30}) as runtime:
        yield runtime


async def frames_of(url: str, *, frame_format: str = "rgb24",
                    per_call: str | None = None) -> list[Any]:
    frames: list[Any] = []
    async with Reactor(model_name="helios", local=True, api_url=url,
                       frame_format=frame_format) as reactor:
        reactor.set_frame_callback(frames.append, format=per_call)
        await reactor.connect()
        await reactor.send_command("schedule_prompt", {"prompt": "A forest", "chunk": 0})
        await reactor.send_command("start", {})
        with anyio.fail_after(10):
            while len(frames) < 3:  # noqa: ASYNC110
                await anyio.sleep(0.01)
    return frames


async def test_constructor_format_and_per_callback_format(helios: LocalRuntime) -> None:
    bgr = (await frames_of(helios.url, frame_format="bgr24"))[-1]
    assert bgr.shape == (360, 640, 3) and bgr.dtype == np.uint8
    gray = (await frames_of(helios.url, frame_format="bgr24", per_call="gray"))[-1]
    assert gray.shape == (360, 640)
    decoded = (await frames_of(helios.url, per_call="frame"))[-1]
    assert isinstance(decoded, av.VideoFrame) and (decoded.width, decoded.height) == (640, 360)
    # the same picture: BGR is RGB reversed (up to the codec's rounding of one conversion)
    rgb = decoded.to_ndarray(format="rgb24")
    assert np.array_equal(decoded.to_ndarray(format="bgr24"), rgb[..., ::-1])


async def test_unknown_formats_are_refused_by_name() -> None:
    with pytest.raises(PixelFormatError, match="frame_format"):
        Reactor(model_name="helios", local=True, frame_format="rgba")
    reactor = Reactor(model_name="helios", local=True)
    with pytest.raises(PixelFormatError, match="format"):
        reactor.set_frame_callback(print, format="BGR")
    reactor.set_frame_callback(None, format="gray")  # clearing needs no callback


async def test_a_format_change_mid_stream_never_hands_the_old_format(
        helios: LocalRuntime) -> None:
    # A frame converted for the previous callback's format may be in flight when the format
    # changes (in the decoder thread, the mailbox, or under trio on the way to the bridge):
    # the new callback must still only see its own format.  The old callback holds its thread
    # for two frame intervals (so a frame converted to gray is waiting), then switches.
    gray: list[Any] = []
    bgr: list[Any] = []
    async with Reactor(model_name="helios", local=True, api_url=helios.url) as reactor:

        def old_callback(frame: Any) -> None:
            gray.append(frame)
            if len(gray) == 3:
                time.sleep(0.07)
                reactor.set_frame_callback(bgr.append, format="bgr24")

        reactor.set_frame_callback(old_callback, format="gray")
        await reactor.connect()
        await reactor.send_command("schedule_prompt", {"prompt": "A forest", "chunk": 0})
        await reactor.send_command("start", {})
        with anyio.fail_after(10):
            while len(bgr) < 10:  # noqa: ASYNC110
                await anyio.sleep(0.005)
    assert len(gray) == 3 and all(f.shape == (360, 640) for f in gray)
    assert all(f.shape == (360, 640, 3) for f in bgr), {f.shape for f in bgr}
