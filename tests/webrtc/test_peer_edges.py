"""Edge paths of the peers: timeouts, foreign channels, producer outputs, raising callbacks."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from reactor_anyio.webrtc import (
    ClientPeer,
    IceConfig,
    MappedTrack,
    ProducerVideoTrack,
    ServerPeer,
    TrackSpec,
    restricted_host_addresses,
)
from reactor_proto.errors import InvalidStateError, LocalProtocolError, TransportError

from .conftest import channels_open, negotiate, wait_until

pytestmark = pytest.mark.anyio


async def test_gathering_timeout_is_a_transport_error() -> None:
    client = ClientPeer([TrackSpec(name="main_video")], ice=IceConfig.loopback(),
                        gathering_timeout=0)
    with pytest.raises(TransportError, match="ICE gathering"):
        await client.create_offer()
    await client.close()
    helper = ClientPeer([TrackSpec(name="main_video")], ice=IceConfig.loopback())
    offer, mids = await helper.create_offer()
    server = ServerPeer([MappedTrack(mid=mids["main_video"], name="main_video")],
                        ice=IceConfig.loopback(), gathering_timeout=0)
    with pytest.raises(TransportError, match="ICE gathering"):
        await server.accept(offer)
    await server.close()
    await helper.close()


async def test_attach_before_offer_and_size_before_sctp() -> None:
    client = ClientPeer([TrackSpec(name="cam", direction="sendonly")], ice=IceConfig.loopback())
    assert client.max_message_size == 65_536  # no SCTP transport yet: RFC 8841 default
    assert client.channel_state("data") is None
    with pytest.raises(InvalidStateError, match="create_offer"):
        client.attach_track("cam", None)
    await client.close()


async def test_foreign_channel_label_is_closed() -> None:
    # a raw aiortc offerer that opens an unexpected channel next to the two real ones
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    channels = [pc.createDataChannel(label) for label in ("control", "data", "rogue")]
    with restricted_host_addresses(("127.0.0.1",)):
        await pc.setLocalDescription(await pc.createOffer())
    server = ServerPeer([MappedTrack(mid="0", name="main_video")], ice=IceConfig.loopback())
    opened: list[str] = []
    server.on_channel_open = opened.append
    answer = await server.accept(pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    try:
        await wait_until(lambda: channels[2].readyState == "closed")
        await wait_until(lambda: sorted(opened) == ["control", "data"])
        assert server.channel_state("rogue") is None
    finally:
        await pc.close()
        await server.close()


async def test_producer_output_is_owned_and_stopped_on_close() -> None:
    tracks = (TrackSpec(name="main_video"),)
    client = ClientPeer(tracks, ice=IceConfig.loopback(), video_codecs=("video/VP8",))
    offer, mids = await client.create_offer()
    producer = ProducerVideoTrack(lambda now: np.full((64, 96, 3), 50, np.uint8), fps=30,
                                  name="model")
    server = ServerPeer([MappedTrack(mid=mids["main_video"], name="main_video")],
                        ice=IceConfig.loopback(), outputs={"main_video": producer})
    assert server.output_track("main_video") is producer
    with pytest.raises(LocalProtocolError, match="ProducerVideoTrack"):
        server.push_frame("main_video", np.zeros((2, 2, 3), np.uint8))
    await client.apply_answer(await server.accept(offer))
    got: list[np.ndarray] = []
    calls = 0

    def flaky(array: np.ndarray) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("consumer bug")  # logged, delivery continues
        got.append(array)

    client.set_frame_callback("main_video", flaky)
    server.set_output_paused("main_video", False)
    await wait_until(lambda: len(got) >= 5)
    assert got[-1].shape == (64, 96, 3)
    await client.close()
    await server.close()
    assert not any(t.name == "reactor-model" for t in threading.enumerate())


async def test_close_is_bounded_by_its_time_limit() -> None:
    pair = await negotiate()
    await wait_until(lambda: channels_open(pair))
    real_close = pair.server._pc.close

    async def stuck_close() -> None:
        await asyncio.sleep(3600)

    pair.server._pc.close = stuck_close  # type: ignore[method-assign]
    await asyncio.wait_for(pair.server.close(wait_at_most=0.05), 2)
    assert pair.server.closed
    await real_close()
    await pair.client.close()


async def test_a_second_track_for_a_name_replaces_the_first() -> None:
    pair = await negotiate()
    try:
        await wait_until(lambda: channels_open(pair))
        slot = pair.client._inputs["main_video"]
        first_task = slot._pull_task
        assert slot.track is not None
        slot.attach(slot.track)
        await asyncio.sleep(0)
        assert first_task is not None
        assert first_task.cancelled() or first_task.done()
    finally:
        await pair.client.close()
        await pair.server.close()


async def test_an_unreachable_stun_server_costs_time_not_the_offer() -> None:
    """The official runtime hands out a public STUN server; offline it never answers.  aioice
    gives up on it after 5 s and the offer goes out with the host candidates (the official
    clients proceed with what was gathered after 5 s), instead of failing the connect."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # a bound socket that never answers
    port = silent.getsockname()[1]
    client = ClientPeer([TrackSpec(name="main_video")],
                        ice=IceConfig(host_addresses=("127.0.0.1",),
                                      ice_servers=(f"stun:127.0.0.1:{port}",)))
    try:
        started = time.monotonic()
        offer, _ = await client.create_offer()
        assert "a=candidate:" in offer and "typ host" in offer
        assert time.monotonic() - started < 9
    finally:
        await client.close()
        silent.close()


async def test_host_candidates_current_notices_an_address_that_is_gone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A spare peer is offered long before use (reactor_proto.client.spare): the driver
    takes it only while its host candidates are on addresses the machine still has."""
    from reactor_anyio.webrtc import ice as ice_module

    client = ClientPeer([TrackSpec(name="main_video")], ice=IceConfig.loopback())
    await client.create_offer()
    assert client.host_candidates_current()
    # the same peer seen by an unrestricted discovery on a machine whose addresses changed
    client._ice = IceConfig()
    ice_module.install_host_address_filter()
    monkeypatch.setattr(ice_module, "_original_get_host_addresses",
                        lambda use_ipv4, use_ipv6: ["192.0.2.7"])
    assert not client.host_candidates_current()
    monkeypatch.setattr(ice_module, "_original_get_host_addresses",
                        lambda use_ipv4, use_ipv6: ["192.0.2.7", "127.0.0.1"])
    assert client.host_candidates_current()
    await client.close()
