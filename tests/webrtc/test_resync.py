"""Loss recovery of the runtime's video senders (reactor_anyio.webrtc.resync) and the pacing
of its data-channel replies (reactor_anyio.webrtc.pacing), issue 21.

The end-to-end cases double as the minimal reproduction of the aiortc behaviour the resync
works around: an aiortc receiver that misses a packet whose retransmission is also lost
shows no new frame until 512 newer packets have arrived (its jitter buffer has no time
limit, and its NACK generator asks for each gap only once).
"""

from __future__ import annotations

import asyncio
import itertools
import struct
import time
from typing import Any

import numpy as np
import pytest
from aiortc.rtp import RTCP_RTPFB_NACK, RtcpReceiverInfo, RtcpRrPacket, RtcpRtpfbPacket

from reactor_anyio.webrtc.pacing import ChannelPacer
from reactor_anyio.webrtc.resync import SenderResync, _payload_offset
from reactor_proto.errors import LocalProtocolError
from reactor_proto.runtime.recovery import RecoveryConfig, RecoveryPolicy
from reactor_proto.runtime.reply_pacing import PacerConfig

from .conftest import channels_open, negotiate, wait_until

SSRC, RTX_SSRC = 0x11111111, 0x22222222


class FakeSender:
    _ssrc = SSRC
    _rtx_ssrc = RTX_SSRC

    def __init__(self) -> None:
        self.keyframes = 0

    def _send_keyframe(self) -> None:
        self.keyframes += 1


def rtp(seq: int, timestamp: int, ssrc: int = SSRC, payload: bytes = b"\x00" * 4,
        extension: bool = False) -> bytes:
    first = 0x80 | (0x10 if extension else 0)
    header = struct.pack("!BBHLL", first, 96, seq, timestamp, ssrc)
    if extension:
        header += struct.pack("!HH", 0xBEDE, 1) + b"\x00" * 4
    return header + payload


def seq_of(data: bytes) -> int:
    return int(struct.unpack_from("!H", data, 2)[0])


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rewrite_moves_the_sequence_at_a_frame_boundary_after_a_resync() -> None:
    clock, sender = Clock(), FakeSender()
    config = RecoveryConfig(settle=0.1, sequence_jump=512)
    resync = SenderResync(sender, RecoveryPolicy(config), clock=clock)  # type: ignore[arg-type]
    assert seq_of(resync.rewrite(rtp(100, 1)) or b"") == 100
    # the receiver asks for a packet long gone: resync
    nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=SSRC, lost=[40000])
    assert resync.handle_rtcp(nack) is None  # nothing left to retransmit
    clock.now = 0.2
    resync.tick()
    assert sender.keyframes == 1 and resync.resyncs == 1
    assert seq_of(resync.rewrite(rtp(101, 1)) or b"") == 101  # same frame: not yet
    assert seq_of(resync.rewrite(rtp(102, 2)) or b"") == 102 + 512  # next frame
    # RTX of a packet after the jump carries the shifted original sequence number
    rtx = resync.rewrite(rtp(7, 2, ssrc=RTX_SSRC, payload=struct.pack("!H", 102) + b"x",
                             extension=True))
    assert rtx is not None
    assert struct.unpack_from("!H", rtx, _payload_offset(rtx))[0] == 102 + 512
    # a retransmission without RTX (same SSRC, older number) is shifted, not a new frame
    assert seq_of(resync.rewrite(rtp(102, 2)) or b"") == 102 + 512
    assert resync.rewrite(rtp(5, 5, ssrc=0x3333)) == rtp(5, 5, ssrc=0x3333)


def test_nacks_are_translated_back_and_stale_ones_dropped() -> None:
    clock, sender = Clock(), FakeSender()
    resync = SenderResync(sender, RecoveryPolicy(RecoveryConfig(settle=0.1)),  # type: ignore[arg-type]
                          clock=clock)
    nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=SSRC, lost=[1])
    assert resync.handle_rtcp(nack) is nack  # nothing sent yet: passed through
    for seq in range(10, 20):
        resync.rewrite(rtp(seq, seq))
    resync.handle_rtcp(RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=SSRC,
                                       lost=[1000]))
    clock.now = 1.0
    resync.tick()
    resync.rewrite(rtp(20, 20))  # jump applied: 20 goes out as 532
    before = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=SSRC, lost=[15 + 512])
    assert resync.handle_rtcp(before) is None  # from before the resync: flushed
    resync.rewrite(rtp(21, 21))
    kept = resync.handle_rtcp(RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=SSRC,
                                              lost=[21 + 512]))
    assert kept is not None and kept.lost == [21]
    # the skipped numbers count as lost in the receiver's report; not as evidence
    report = RtcpReceiverInfo(ssrc=SSRC, fraction_lost=0, packets_lost=512,
                              highest_sequence=21 + 512, jitter=0, lsr=0, dlsr=0)
    resync.handle_rtcp(RtcpRrPacket(ssrc=1, reports=[report]))
    report2 = RtcpReceiverInfo(ssrc=SSRC, fraction_lost=0, packets_lost=512,
                               highest_sequence=30 + 512, jitter=0, lsr=0, dlsr=0)
    evidence = resync.policy.evidence
    resync.handle_rtcp(RtcpRrPacket(ssrc=1, reports=[report2]))
    assert resync.policy.evidence == evidence


# ---- end to end: a lossy path between a ServerPeer and an aiortc client ------------------

class NeverResync(RecoveryPolicy):
    def due(self, now: float) -> bool:
        return False


async def lossy_stream(*, recover: bool, drop: int, watch: float) -> float:
    """Stream noise from a ServerPeer to a ClientPeer; once flowing, the client's transport
    drops ``drop`` consecutive media packets and every retransmission for 2 s.  Returns the
    longest gap between frames seen in the ``watch`` seconds after the loss."""
    pair = await negotiate()
    client, server = pair.client, pair.server
    arrivals: list[float] = []
    client.set_frame_callback("main_video", lambda _frame: arrivals.append(time.monotonic()))
    rng = np.random.default_rng(1)
    stop = asyncio.Event()

    async def feed() -> None:
        while not stop.is_set():
            server.push_frame("main_video", rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
            await asyncio.sleep(1 / 30)

    feeder = asyncio.create_task(feed())
    try:
        await wait_until(lambda: channels_open(pair))
        resync = server.resyncs["main_video"]
        if not recover:
            resync.policy = NeverResync()
        server.set_output_paused("main_video", False)
        await wait_until(lambda: len(arrivals) >= 15, within=10)
        transport: Any = client._pc.getTransceivers()[1].receiver.transport
        inner = transport._handle_rtp_data
        state = {"drop": drop, "rtx_until": 0.0}

        async def lossy(data: bytes, arrival_time_ms: int) -> None:
            ssrc = struct.unpack_from("!L", data, 8)[0]
            if ssrc == resync.ssrc and state["drop"] > 0:
                state["drop"] -= 1
                state["rtx_until"] = time.monotonic() + 2.0
                return
            if ssrc == resync.rtx_ssrc and time.monotonic() < state["rtx_until"]:
                return
            await inner(data, arrival_time_ms=arrival_time_ms)

        transport._handle_rtp_data = lossy
        await wait_until(lambda: state["drop"] == 0, within=5)
        lost_at = time.monotonic()
        await asyncio.sleep(watch)
        seen = [lost_at] + [t for t in arrivals if t > lost_at] + [time.monotonic()]
        return max(b - a for a, b in itertools.pairwise(seen))
    finally:
        stop.set()
        await feeder
        await client.close()
        await server.close()


@pytest.mark.anyio
async def test_aiortc_receiver_stalls_behind_an_unrepaired_hole_without_resync() -> None:
    """The reproduction: without the resync the picture freezes until 512 newer packets have
    arrived (about 2.5 s of this incompressible noise, 8 to 20 s of a real stream)."""
    gap = await lossy_stream(recover=False, drop=6, watch=3.0)
    assert gap > 2.0, gap


@pytest.mark.anyio
@pytest.mark.parametrize("drop", [6, 1])
async def test_frames_resume_within_a_second_of_unrepaired_loss(drop: int) -> None:
    # 6 packets: a loss spell, resync right after it settles; 1 packet: the retransmission
    # is never confirmed by a receiver report, resync after the repair timeout (0.8 s)
    gap = await lossy_stream(recover=True, drop=drop, watch=3.0)
    assert gap < 1.0 + (0.3 if drop == 1 else 0.0), gap


# ---- pacing ---------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_pacer_passes_a_burst_then_paces_in_order_and_flushes_at_close() -> None:
    loop = asyncio.get_running_loop()
    sent: list[tuple[str, str | bytes]] = []
    pacer = ChannelPacer(lambda label, msg: sent.append((label, msg)), loop=loop,
                         config=PacerConfig(rate=1000.0, burst=5))
    for i in range(20):
        pacer.send("data", f"m{i}", 2)
    assert len(sent) == 5 and pacer.backlog == 15
    await wait_until(lambda: len(sent) == 20, within=2.0)
    assert [m for _, m in sent] == [f"m{i}" for i in range(20)]
    for i in range(10):
        pacer.send("control", f"c{i}", 2)
    pacer.flush()
    assert len(sent) == 30 and pacer.backlog == 0
    assert pacer.delayed >= 15
    slow = ChannelPacer(lambda label, msg: sent.append((label, msg)), loop=loop,
                        config=PacerConfig(rate=0.001, burst=1))
    keep = slow.config.flush_at_close
    for i in range(keep + 11):
        slow.send("data", f"f{i - 1}", 2)  # f-1 goes out at once, the rest wait
    sent.clear()
    slow.flush()  # a closing peer sends only the newest waiting messages
    assert [m for _, m in sent] == [f"f{i}" for i in range(10, keep + 10)]
    assert slow.dropped == 10 and slow.backlog == 0


@pytest.mark.anyio
async def test_pacer_backlog_is_bounded_and_delivery_errors_are_contained() -> None:
    loop = asyncio.get_running_loop()

    delivered: list[str | bytes] = []

    def deliver(label: str, msg: str | bytes) -> None:
        if delivered:
            raise RuntimeError("closed")
        delivered.append(msg)

    with pytest.raises(LocalProtocolError, match="burst"):
        ChannelPacer(deliver, loop=loop, config=PacerConfig(burst=0))
    pacer = ChannelPacer(deliver, loop=loop,
                         config=PacerConfig(rate=1000.0, burst=1, max_backlog_bytes=10))
    for _ in range(5):
        pacer.send("data", "abcd", 4)
    assert delivered == ["abcd"]  # the burst allowance went out at once
    assert pacer.backlog == 2 and pacer.dropped == 2
    await wait_until(lambda: pacer.backlog == 0, within=2.0)  # errors logged, not raised
    with pytest.raises(RuntimeError):  # nothing queued: sent (and raising) at once
        pacer.send("data", "x", 1)
    pacer.close()
    assert pacer.backlog == 0
