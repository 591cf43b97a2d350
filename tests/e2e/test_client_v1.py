"""Our ``Reactor`` client on the v1 wire against ``reactor serve``, on asyncio and trio.

The runtime serves both wires and marks v1 in its descriptor, so ``wire="auto"`` picks v1;
``wire="v0"`` forces the JSON wire.  The model is ``tests.interop.v1_models:ReplyEcho``: the
echo model plus commands that answer, fail with their own code, or crash.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from reactor_anyio import FrameSource, Reactor, ReactorError
from reactor_anyio.runtime import LocalRuntime
from reactor_proto.wire_v1 import Wire

from .test_client_e2e import hosted, wait_for

pytestmark = pytest.mark.anyio
MODEL = "tests.interop.v1_models:ReplyEcho"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def runtime(anyio_backend: str) -> AsyncIterator[LocalRuntime]:
    async with hosted(anyio_backend, MODEL) as served:
        yield served


async def test_v1_replies_schema_errors_pause_publish_and_uploads(
        runtime: LocalRuntime) -> None:
    frames: list[np.ndarray] = []
    messages: list[Any] = []
    async with Reactor(model_name="reply_echo", local=True, api_url=runtime.url) as reactor:
        reactor.set_frame_callback(frames.append)
        reactor.on("message", messages.append)
        await reactor.connect()
        assert reactor._machine.wire is Wire.V1

        # a command's correlated reply; a command without one is acknowledged with None
        reply = await reactor.send_command("ping_reply", {"text": "hello"})
        assert reply == {"type": "pong", "data": {"text": "hello"}}
        assert await reactor.send_command("set_effect", {"effect": "mirror"}) is None

        # error replies are typed errors: the documented code of a failed send, with the
        # runtime's own code as the cause
        with pytest.raises(ReactorError) as info:
            await reactor.send_command("fail_with", {"code": "too_early"})
        assert (info.value.code, info.value.cause) == ("MESSAGE_SEND_FAILED", "too_early")
        with pytest.raises(ReactorError) as info:
            await reactor.send_command("crash", {})
        assert (info.value.code, info.value.cause) == ("MESSAGE_SEND_FAILED", "internal_error")

        document = await reactor.request_schema()
        assert "ping_reply" in str(document) and document.get("openapi")

        # uploads travel as v1 upload references
        ref = await reactor.upload_file(b"\x00" * 1000, name="blob.bin")
        reply = await reactor.send_command("use_file", {"file": ref})
        assert reply == {"type": "file", "data": {"name": "blob.bin", "size": 1000}}

        # publish the webcam: the echo model sends it back
        source = FrameSource(fps=30)
        await reactor.publish_track("webcam", source)
        for _ in range(30):
            source.push(np.full((48, 64, 3), 200, dtype=np.uint8))
        await wait_for(lambda: len(frames) >= 5)

        await reactor.pause_track("main_video")
        await wait_for(lambda: runtime.consumers() == 0)
        await reactor.resume_track("main_video")
        await wait_for(lambda: runtime.consumers() == 1)
        received = len(frames)
        for _ in range(30):
            source.push(np.full((48, 64, 3), 100, dtype=np.uint8))
        await wait_for(lambda: len(frames) > received)
        await reactor.unpublish_track("webcam")
    assert reactor.get_status().value == "disconnected"


async def test_wire_v0_forces_the_json_wire(runtime: LocalRuntime) -> None:
    messages: list[Any] = []
    async with Reactor(model_name="reply_echo", local=True, api_url=runtime.url,
                       wire="v0") as reactor:
        reactor.on("message", messages.append)
        await reactor.connect()
        assert reactor._machine.wire is Wire.V0
        assert await reactor.send_command("ping_reply", {"text": "hi"}) is None
        # on v0 the reply still reaches the sender, as a plain message
        await wait_for(lambda: {"type": "pong", "data": {"text": "hi"}} in messages)
        document = await reactor.request_schema()
        assert "ping_reply" in str(document)
