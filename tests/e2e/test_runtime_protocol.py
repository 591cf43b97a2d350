"""The local runtime over real sockets and WebRTC, driven by hand (HttpClient + ClientPeer)."""

from __future__ import annotations

import time

import anyio
import numpy as np
import pytest

from reactor_anyio.http import HttpClient
from reactor_anyio.runtime import LocalRuntime

from .conftest import BASE, RawClient, body, hosted, state, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


async def test_full_flow_commands_messages_frames_and_pause(
        helios: LocalRuntime, http: HttpClient) -> None:
    client = RawClient(helios, http)
    try:
        descriptor = await client.start_session()
        assert descriptor["session_id"] == "local" and descriptor["state"] == "WAITING"
        assert descriptor["model"]["name"] == "helios"
        assert state(helios) == "WAITING"
        ice = await client.request("GET", f"{BASE}/ice_servers")
        assert (ice.status, body(ice)) == (200, {"ice_servers": []})
        started = time.monotonic()
        await client.connect()
        # the answer was ready at the first poll and carries the advertised limit
        assert client.peer.max_message_size == 262144
        await wait_for(lambda: helios.connections() == 1)
        assert state(helios) == "STREAMING"
        assert time.monotonic() - started < 2.0
        # outputs start paused: nothing is produced until resume_track
        assert helios.frames_produced() == 0 and client.frames == []
        client.notify("resume_track", "main_video")
        client.send_command("schedule_prompt", {"prompt": "A forest", "chunk": 0})
        client.send_command("start", {})
        await wait_for(lambda: len(client.frames) >= 30)
        assert client.frames[-1].shape == (360, 640, 3)
        assert client.frames[-1].dtype == np.uint8
        await wait_for(lambda: bool(client.app_messages("state")))
        events = {m["data"]["event"] for m in client.app_messages("event")}
        assert {"prompt_scheduled", "generation_started"} <= events
        assert client.app_messages("state")[-1]["data"]["running"] is True

        # pause_track stops this connection's frames and the model stops advancing
        client.notify("pause_track", "main_video")
        await wait_for(lambda: helios.consumers() == 0)
        await anyio.sleep(0.3)  # frames already in flight still arrive
        received, produced = len(client.frames), helios.frames_produced()
        await anyio.sleep(0.5)
        assert len(client.frames) <= received + 2
        assert helios.frames_produced() <= produced + 1
        client.notify("resume_track", "main_video")
        await wait_for(lambda: len(client.frames) >= received + 10)

        # a bad command is answered with commandRejected and the runtime keeps serving
        client.send_command("no_such_command", {})
        client.send_command("schedule_prompt", {"prompt": "x", "chunk": -1})
        await wait_for(lambda: len(client.runtime_messages("commandRejected")) >= 2)
        rejected = client.runtime_messages("commandRejected")
        assert [r["command"] for r in rejected[:2]] == ["no_such_command", "schedule_prompt"]
        client.send_runtime("requestSchema")
        await wait_for(lambda: bool(client.runtime_messages("modelSchema")))
        assert "schedule_prompt" in str(client.runtime_messages("modelSchema")[0])
        health = await client.request("GET", "/health")
        assert body(health) == {"status": "healthy", "model": "helios", "state": "STREAMING"}
        before = len(client.frames)
        await wait_for(lambda: len(client.frames) > before + 5)

        stopped = await client.request("POST", "/stop_session")
        assert (stopped.status, body(stopped)) == (200, None)
        assert state(helios) == "READY"
        await wait_for(lambda: client.peer.connection_state == "closed"
                       or client.peer.channel_state("data") == "closed")
        await wait_for(lambda: helios.peers_open() == 0)
    finally:
        await client.aclose()


async def test_two_clients_share_one_session_with_their_own_pause(
        helios: LocalRuntime, http: HttpClient) -> None:
    first, second = RawClient(helios, http), RawClient(helios, http)
    try:
        await first.start_session()
        again = await second.start_session()  # idempotent: joins the running session
        assert again["state"] == "WAITING"
        await first.connect()
        await second.connect()
        await wait_for(lambda: helios.connections() == 2)
        assert first.cid != second.cid
        first.notify("resume_track", "main_video")
        second.notify("resume_track", "main_video")
        first.send_command("schedule_prompt", {"prompt": "Shared", "chunk": 0})
        first.send_command("start", {})
        await wait_for(lambda: len(first.frames) >= 15 and len(second.frames) >= 15)
        # model messages are broadcast to both
        await wait_for(lambda: bool(second.app_messages("event")))
        # one production feeds both viewers
        assert helios.frames_produced() < len(first.frames) + len(second.frames)
        second.notify("pause_track", "main_video")
        await wait_for(lambda: helios.consumers() == 1)
        # the second's frames already in flight land while the first gets its next few
        drained = len(first.frames)
        await wait_for(lambda: len(first.frames) >= drained + 5)
        paused_at = len(second.frames)
        count = len(first.frames)
        await wait_for(lambda: len(first.frames) >= count + 10)
        assert len(second.frames) <= paused_at + 2
        await first.aclose()
        await wait_for(lambda: helios.connections() == 1)
        assert state(helios) == "STREAMING"
    finally:
        await first.aclose()
        await second.aclose()
    await wait_for(lambda: helios.connections() == 0)
    assert state(helios) == "ORPHANED"


async def test_legacy_flat_routes_on_1001_are_resumed_by_the_runtime(
        helios: LocalRuntime, http: HttpClient) -> None:
    client = RawClient(helios, http)
    try:
        await client.start_session()
        await client.connect(legacy=True)
        await wait_for(lambda: helios.connections() == 1)
        assert helios.machine.connections.get(1001) is not None
        # no resume_track: the runtime resumes the legacy connection itself
        client.send_command("schedule_prompt", {"prompt": "Legacy", "chunk": 0})
        client.send_command("start", {})
        await wait_for(lambda: len(client.frames) >= 10)
        await wait_for(lambda: bool(client.app_messages("state")))
        polled = await client.request("GET", f"{BASE}/sdp_params?connection_id=1001")
        assert polled.status == 200 and "sdp_answer" in body(polled)
    finally:
        await client.aclose()
    await wait_for(lambda: helios.connections() == 0)


async def test_orphan_timeout_returns_to_ready(http: HttpClient) -> None:
    async with hosted("helios", orphan_timeout=0.4) as runtime:
        client = RawClient(runtime, http)
        try:
            await client.start_session()
            await wait_for(lambda: state(runtime) == "READY", within=3)
            await client.start_session()
            await client.connect()
            await wait_for(lambda: runtime.connections() == 1)
        finally:
            await client.aclose()
        await wait_for(lambda: state(runtime) == "ORPHANED")
        started = time.monotonic()
        await wait_for(lambda: state(runtime) == "READY", within=3)
        assert time.monotonic() - started < 1.5
