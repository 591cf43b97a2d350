"""The runtime's lean audio RTP loop (reactor_anyio.webrtc.audio_rtp) between two plain aiortc
peers on loopback: what arrives decodes to the sine that was encoded, every packet offered is
sent once with contiguous sequence numbers and RTP timestamps that follow the packets' pts,
nothing leaves while the gate is paused, and the counters aiortc's RTCP sender reports read
advance.  The private aiortc names the loop relies on are pinned here."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from typing import Any

import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import is_rtcp

from reactor_anyio.webrtc import LOOPBACK_HOST_ADDRESSES, restricted_host_addresses
from reactor_anyio.webrtc.audio_receive import frame_to_pcm
from reactor_anyio.webrtc.audio_rtp import install
from reactor_anyio.webrtc.audio_source import (
    OpusPacketizer,
    PausableAudioTrack,
    QueuedAudioTrack,
)
from reactor_proto.runtime.audio import AudioFormat

from .conftest import dominant_hz, sine, wait_until

FMT = AudioFormat(sample_rate=48_000, channels=1, frame_ms=20)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_the_private_aiortc_names_the_loop_uses_exist() -> None:
    names = RTCRtpSender.__init__.__code__.co_names
    for name in ("rtp_started", "rtp_exited", "mid", "rtp_header_extensions_map",
                 "ntp_timestamp", "rtp_timestamp", "octet_count", "packet_count"):
        assert f"_RTCRtpSender__{name}" in names, name
    assert "_run_rtp" in RTCRtpSender.send.__code__.co_names


async def connect() -> tuple[RTCPeerConnection, RTCPeerConnection, PausableAudioTrack,
                             QueuedAudioTrack, list[Any]]:
    source = QueuedAudioTrack(capacity=50)
    gate = PausableAudioTrack(source, paused=True)
    sender_pc, receiver_pc = RTCPeerConnection(), RTCPeerConnection()
    sender = sender_pc.addTrack(gate)
    install(sender)
    received: list[Any] = []

    async def record(track: Any) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                received.append(await track.recv())

    tasks: list[asyncio.Task[None]] = []
    receiver_pc.on("track", lambda track: tasks.append(asyncio.ensure_future(record(track))))
    with restricted_host_addresses(LOOPBACK_HOST_ADDRESSES):
        await sender_pc.setLocalDescription(await sender_pc.createOffer())
        await receiver_pc.setRemoteDescription(sender_pc.localDescription)
        await receiver_pc.setLocalDescription(await receiver_pc.createAnswer())
        await sender_pc.setRemoteDescription(receiver_pc.localDescription)
    return sender_pc, receiver_pc, gate, source, received


@pytest.mark.anyio
async def test_bursts_arrive_in_order_and_decode_to_the_sine() -> None:
    sender_pc, receiver_pc, gate, source, received = await connect()
    sent: list[bytes] = []
    try:
        sender = sender_pc.getSenders()[0]
        await wait_until(lambda: sender.transport.state == "connected")
        original = sender.transport._send_rtp

        async def spy(data: bytes) -> None:
            if not is_rtcp(data):
                sent.append(data)
            await original(data)

        sender.transport._send_rtp = spy
        opus = OpusPacketizer(FMT)
        pcm = sine(700, 1.2)
        offered = 0
        source.offer(opus.encode(pcm[:960], 0))
        await asyncio.sleep(0.1)
        assert sent == []  # paused: nothing leaves
        source.discard_pending()
        gate.set_paused(False)
        for start in range(960, len(pcm), 2880):  # bursts of three 20 ms packets
            burst = [p for at in range(start, min(start + 2880, len(pcm)), 960)
                     for p in opus.encode(pcm[at:at + 960], at)]
            source.offer(burst)
            offered += len(burst)
            await asyncio.sleep(0.06)
        await wait_until(lambda: len(sent) == offered)
        await wait_until(lambda: len(received) >= offered - 4)
        heads = [struct.unpack_from("!BBHLL", data) for data in sent]
        assert all(h[1] & 0x80 for h in heads)  # marker set on every packet, as aiortc does
        assert len({h[4] for h in heads}) == 1 and heads[0][4] == sender._ssrc
        assert [(h[2] - heads[0][2]) & 0xFFFF for h in heads] == list(range(offered))
        assert [(h[3] - heads[0][3]) & 0xFFFFFFFF for h in heads] == [
            960 * i for i in range(offered)]
        stats = await sender.getStats()
        outbound = next(s for s in stats.values() if s.type == "outbound-rtp")
        assert outbound.packetsSent == offered and outbound.bytesSent > 0
        decoded = np.concatenate([frame_to_pcm(f) for f in received])
        assert abs(dominant_hz(decoded[4800:], 48_000) - 700) < 15
    finally:
        await sender_pc.close()
        await receiver_pc.close()
    assert sender.track is None  # the loop stopped its track on the way out
