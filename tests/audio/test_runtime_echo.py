"""``echo`` returns the audio published on ``mic`` on ``speaker`` (plain aiortc client):
the runtime decodes the Opus it receives to the model's declared PCM and encodes the
model's answer again; only the slot holder's audio reaches the model."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from reactor_anyio.http import HttpClient
from reactor_anyio.runtime import LocalRuntime
from reactor_anyio.runtime.model_host import RuntimeModelContext

from .plain_client import PlainClient, SineTrack, dominant_frequency, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
RATE = 48_000
ECHO_TRACKS = (("webcam", "video", "sendonly"), ("mic", "audio", "sendonly"),
               ("main_video", "video", "recvonly"), ("speaker", "audio", "recvonly"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the plain client is aiortc, asyncio only


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    async with HttpClient() as client:
        yield client


async def test_echo_returns_the_published_audio(http: HttpClient) -> None:
    async with LocalRuntime("echo") as echo:
        sine = SineTrack(660)
        client = PlainClient(echo.url, http, ECHO_TRACKS[1:2] + ECHO_TRACKS[3:])
        try:
            await client.connect(publish={"mic": sine})
            client.notify("resume_track", "speaker")
            client.request("publish_track", "mic", "ctrl_1")
            await wait_for(lambda: list(echo.machine.slots) == ["mic"])
            await wait_for(lambda: len(client.received("speaker")) >= RATE)
            await wait_for(lambda: abs(dominant_frequency(
                client.received("speaker")[-RATE // 4:], RATE) - 660) < 10)
            context = echo.model.ctx
            assert isinstance(context, RuntimeModelContext)
            inbox = context.audio_inbox("mic")
            assert inbox.received > RATE // 2
            client.notify("unpublish_track", "mic")
            await wait_for(lambda: not echo.machine.slots)
        finally:
            sine.stop()
            await client.aclose()
