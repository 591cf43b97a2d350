"""Frame callbacks in the pixel format they consume (issue 20), against the local runtime.

asyncio only: the format is applied by the receiver on aiortc's loop; under trio the bridge
delivers RGB (see docs/guide/frames.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import av
import numpy as np
import pytest

from reactor_anyio import Reactor
from reactor_anyio.runtime import LocalRuntime
from reactor_anyio.webrtc.convert import PixelFormatError

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def helios() -> AsyncIterator[LocalRuntime]:
    async with LocalRuntime("helios", model_options={"fps": 30}) as runtime:
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
