"""Closing a peer while aiortc's background connect runs raises into nobody; ours ends quietly.

The race (seen in CI: a cancelled ``connect()``): ``close()`` stops the ICE transport while the
connect task waits on it, the task then finds the data channel's transport closed and raises
``InvalidStateError`` from a task nobody awaits.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.exceptions import InvalidStateError as AiortcInvalidStateError

from reactor_anyio.webrtc.connection import PeerConnection

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiortc objects live on an asyncio loop


async def _close_mid_connect(delay: float) -> None:
    offerer = PeerConnection(RTCConfiguration(iceServers=[]))
    answerer = PeerConnection(RTCConfiguration(iceServers=[]))
    offerer.addTransceiver("video", direction="recvonly")
    offerer.createDataChannel("control")
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)
    await asyncio.sleep(delay)
    await offerer.close()
    await answerer.close()


async def test_closing_during_connect_reports_nothing_to_the_loop() -> None:
    loop = asyncio.get_running_loop()
    unretrieved: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unretrieved.append(context))
    try:
        # delays spread over the 30 ms a loopback ICE check takes here; with the plain
        # RTCPeerConnection a few of these 60 closes land inside the window
        for step in range(60):
            await _close_mid_connect(step * 0.0005)
        await asyncio.sleep(0.1)
        gc.collect()  # a task's unretrieved exception is reported when the task is freed
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert unretrieved == []


async def test_connect_errors_still_raise_while_the_peer_is_open(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def failing_connect(self: RTCPeerConnection) -> None:
        raise AiortcInvalidStateError("RTCIceTransport is closed")

    monkeypatch.setattr(RTCPeerConnection, "_RTCPeerConnection__connect", failing_connect)
    peer = PeerConnection(RTCConfiguration(iceServers=[]))
    with pytest.raises(AiortcInvalidStateError):
        await peer._RTCPeerConnection__connect()
    await peer.close()
    assert peer.closing
    await peer._RTCPeerConnection__connect()  # closed: the same error ends quietly
