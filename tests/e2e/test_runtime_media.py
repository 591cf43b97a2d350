"""Inputs, hostile channel traffic and shutdown of the local runtime, over real WebRTC."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from reactor_anyio.http import HttpClient
from reactor_anyio.runtime import LocalRuntime
from reactor_anyio.webrtc import NdarrayVideoTrack

from .conftest import (
    ECHO_TRACKS,
    RawClient,
    hosted,
    open_fds,
    runtime_threads,
    state,
    wait_for,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

WEBCAM_COLOUR = (200, 40, 90)


def centre(frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    patch = frame[height // 2 - 8:height // 2 + 8, width // 2 - 8:width // 2 + 8]
    mean: np.ndarray = patch.reshape(-1, 3).mean(axis=0)
    return mean


async def test_echo_first_publisher_wins_and_frames_come_back_transformed(
        echo: LocalRuntime, http: HttpClient) -> None:
    first, second = RawClient(echo, http, ECHO_TRACKS), RawClient(echo, http, ECHO_TRACKS)
    webcam = NdarrayVideoTrack(fps=30)
    webcam.push(np.full((360, 640, 3), WEBCAM_COLOUR, dtype=np.uint8))
    try:
        await first.start_session()
        await first.connect()
        await second.connect()
        await wait_for(lambda: echo.connections() == 2)
        first.notify("resume_track", "main_video")
        first.control_request("publish_track", "webcam", "ctrl_1")
        await wait_for(lambda: first.response("ctrl_1") is not None)
        assert first.response("ctrl_1") == {"type": "response", "method": "publish_track",
                                            "request_id": "ctrl_1", "data": {}}
        first.peer.attach_track("webcam", webcam)
        second.control_request("publish_track", "webcam", "ctrl_1")
        await wait_for(lambda: second.response("ctrl_1") is not None)
        refused = second.response("ctrl_1")
        assert refused is not None and refused["error"]["code"] == "PUBLISHER_SLOT_TAKEN"
        assert echo.machine.slots == {"webcam": first.cid}

        await wait_for(lambda: echo.latest_input("webcam") is not None)
        inverted = np.array([255 - c for c in WEBCAM_COLOUR], dtype=float)
        await wait_for(lambda: bool(first.frames)
                       and np.abs(centre(first.frames[-1]) - inverted).max() < 40)
        # the model's greeting to each client on connection
        await wait_for(lambda: bool(first.app_messages("effect")))
        first.send_command("set_effect", {"effect": "none"})
        original = np.array(WEBCAM_COLOUR, dtype=float)
        await wait_for(lambda: np.abs(centre(first.frames[-1]) - original).max() < 40)

        # unpublishing frees the slot (and the model loses its input) for the next publisher
        first.notify("unpublish_track", "webcam")
        await wait_for(lambda: echo.machine.slots == {})
        assert echo.latest_input("webcam") is None
        second.control_request("publish_track", "webcam", "ctrl_2")
        await wait_for(lambda: second.response("ctrl_2") is not None)
        assert "error" not in (second.response("ctrl_2") or {})
        assert echo.machine.slots == {"webcam": second.cid}
    finally:
        webcam.stop()
        await first.aclose()
        await second.aclose()


async def test_hostile_channel_input_is_rejected_and_serving_continues(
        helios: LocalRuntime, http: HttpClient) -> None:
    client = RawClient(helios, http)
    try:
        await client.start_session()
        await client.connect()
        client.notify("resume_track", "main_video")
        client.send_command("schedule_prompt", {"prompt": "Steady", "chunk": 0})
        client.send_command("start", {})
        await wait_for(lambda: len(client.frames) >= 5)
        client.peer.send("data", "not json at all")
        client.peer.send("data", '{"scope": "application", "data": 7}')
        client.send_command("set_seed", {"seed": "not an int"})
        client.send_command("schedule_prompt", {"prompt": "x", "chunk": 0, "extra": True})
        client.peer.send("data", "x" * 200_000)  # large garbage: over aiortc's 64 KiB default
        client.peer.send("control", "{broken")
        client.control_request("teleport", "main_video", "ctrl_9")
        await wait_for(lambda: len(client.runtime_messages("commandRejected")) >= 4)
        await wait_for(lambda: client.response("ctrl_9") is not None)
        assert (client.response("ctrl_9") or {})["error"]["code"] == "UNKNOWN_METHOD"
        # the session kept streaming and still answers valid commands
        before = len(client.frames)
        client.send_command("set_seed", {"seed": 7})
        await wait_for(lambda: any(m["data"].get("event") == "seed_set"
                                   for m in client.app_messages("event")))
        await wait_for(lambda: len(client.frames) > before + 10)
        assert state(helios) == "STREAMING"
    finally:
        await client.aclose()


# asyncio only: it drives LocalRuntime.start()/aclose() in-process and counts the asyncio
# tasks of the runtime itself; under trio the runtime is hosted on the bridge's loop thread
# (no tasks to inspect from trio), and conftest's trio_leak_check covers threads and tasks.
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_shutdown_with_a_live_client_leaves_nothing_behind() -> None:
    threads, sockets = runtime_threads(), open_fds()
    current = asyncio.current_task()
    tasks = {t for t in asyncio.all_tasks() if t is not current}
    async with HttpClient() as http:
        runtime = LocalRuntime("helios", model_options={"fps": 30})
        await runtime.start()
        client = RawClient(runtime, http)
        try:
            await client.start_session()
            await client.connect()
            client.notify("resume_track", "main_video")
            await wait_for(lambda: len(client.frames) >= 5)
            assert runtime.peers_open() == 1
            started = time.monotonic()
            await runtime.aclose()
            assert time.monotonic() - started < 5.0
            assert runtime.peers_open() == 0
            await runtime.aclose()  # idempotent
        finally:
            await client.aclose()
    await wait_for(lambda: runtime_threads() <= threads, within=5)
    await wait_for(lambda: open_fds() <= sockets, within=5)
    await wait_for(lambda: {t for t in asyncio.all_tasks() if t is not current} <= tasks,
                   within=5)
    with pytest.raises(Exception, match="starts once"):
        await runtime.start()


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_shutdown_with_a_live_client_leaves_nothing_behind_under_trio() -> None:
    """The trio counterpart of the test above: the hosted runtime stops under a live bridged
    client; threads and sockets come back (trio tasks: conftest's trio_leak_check)."""
    from reactor_trio_compat import TrioHostedRuntime

    threads, sockets = runtime_threads(), open_fds()
    async with HttpClient() as http:
        hosting = TrioHostedRuntime("helios", model_options={"fps": 30})
        await hosting.__aenter__()
        runtime = hosting.runtime
        client = RawClient(runtime, http)
        try:
            await client.start_session()
            await client.connect()
            client.notify("resume_track", "main_video")
            await wait_for(lambda: len(client.frames) >= 5)
            assert hosting.peers_open() == 1
            started = time.monotonic()
            await hosting.__aexit__(None, None, None)
            assert time.monotonic() - started < 5.0
            assert runtime.peers_open() == 0
            await hosting.__aexit__(None, None, None)  # idempotent
        finally:
            await client.aclose()
    await wait_for(lambda: runtime_threads() <= threads, within=5)
    await wait_for(lambda: open_fds() <= sockets, within=5)


async def test_a_client_that_vanishes_is_dropped_by_the_ping_watchdog(
        http: HttpClient) -> None:
    async with hosted("helios", ping_timeout=0.3) as runtime:
        client = RawClient(runtime, http)
        try:
            await client.start_session()
            await client.connect()
            await wait_for(lambda: runtime.connections() == 1)
            # no pings are sent: after the timeout the connection is removed and closed
            await wait_for(lambda: runtime.connections() == 0, within=5)
            assert state(runtime) == "ORPHANED"
            await wait_for(lambda: runtime.peers_open() == 0)
        finally:
            await client.aclose()
