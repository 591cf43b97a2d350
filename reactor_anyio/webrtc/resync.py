"""Performs the core's resync decision on an aiortc video sender (issue 21).

:class:`reactor_proto.runtime.recovery.RecoveryPolicy` decides *when* a stream needs a
resync; this module observes what the policy needs and performs the resync, on one
``RTCRtpSender`` of ours:

* RTCP reaching the sender (NACKs, receiver reports) passes through
  :meth:`SenderResync.handle_rtcp` first: reports feed the policy, NACKs are translated back
  to the sender's own sequence numbers (and filtered by the policy) before aiortc retransmits;
* every RTP packet the sender writes passes through :meth:`SenderResync.rewrite` on its way
  to SRTP: the sequence number (and an RTX packet's original sequence number) is shifted by
  the offset the resyncs accumulated;
* a resync asks the sender for a key frame and, at the next frame boundary, adds
  ``sequence_jump`` to that offset, so a receiver stuck behind a hole it will never fill
  (aiortc's jitter buffer) flushes it and decodes from the key frame.

aiortc keeps the sequence number in a local variable of its send loop, so rewriting the
plaintext packet is the only way to move it; the hooks are instance attributes on aiortc
objects we own (``_handle_rtcp_packet`` of our sender, ``_send_rtp`` of our DTLS transport),
private API pinned by tests/webrtc/test_resync.py.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCRtpSender
from aiortc.rtp import RTCP_RTPFB_NACK, RtcpRrPacket, RtcpRtpfbPacket, RtcpSrPacket, is_rtcp

from reactor_proto.runtime.recovery import SEQ_MOD, RecoveryPolicy, seq_distance

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
SendRtp = Callable[[bytes], Awaitable[None]]
#: jumps a receiver report has not yet shown are kept this long at most
_PENDING_JUMPS = 16


def _rtp_ssrc(data: bytes) -> int | None:
    return struct.unpack_from("!L", data, 8)[0] if len(data) >= 12 else None


def _payload_offset(data: bytes) -> int:
    """Where the payload of RTP packet ``data`` starts (after CSRCs and extensions)."""
    offset = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10 and len(data) >= offset + 4:
        offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
    return offset


class SenderResync:
    """The resync machinery of one video sender; see the module docstring."""

    def __init__(self, sender: RTCRtpSender, policy: RecoveryPolicy | None = None, *,
                 clock: Clock = time.monotonic) -> None:
        self.sender = sender
        self.policy = policy or RecoveryPolicy()
        self._clock = clock
        self.ssrc: int = sender._ssrc
        self.rtx_ssrc: int = sender._rtx_ssrc
        self._offset = 0
        self._pending_jump = False
        self._epoch_start: int | None = None  # first original seq after the latest jump
        self._newest: int | None = None  # newest original seq sent
        self._timestamp: int | None = None
        self._jumps: list[tuple[int, int]] = []  # (first rewritten seq after, size)
        self._jumped_seen = 0
        self.resyncs = 0

    # ---- RTCP in ------------------------------------------------------------------------

    def handle_rtcp(self, packet: Any) -> Any | None:
        """Observe ``packet``; return what aiortc's sender should handle (``None``: drop)."""
        now = self._clock()
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            packet = self._translate_nack(packet, now)
        elif isinstance(packet, RtcpRrPacket | RtcpSrPacket):
            for report in packet.reports:
                if report.ssrc == self.ssrc:
                    lost = report.packets_lost - self._jumped(report.highest_sequence)
                    self.policy.receiver_report(lost, now)
                elif report.ssrc == self.rtx_ssrc:
                    self.policy.rtx_report(report.highest_sequence, report.packets_lost, now)
        self._check(now)
        return packet

    def _translate_nack(self, packet: RtcpRtpfbPacket, now: float) -> RtcpRtpfbPacket | None:
        if self._newest is None:
            return packet
        originals = []
        for seq in packet.lost:
            original = (seq - self._offset) % SEQ_MOD
            # from before the latest resync: the receiver has flushed it, nothing to repair
            if self._epoch_start is not None \
                    and seq_distance(self._newest, original) \
                    > seq_distance(self._newest, self._epoch_start):
                continue
            originals.append(original)
        serve = self.policy.nack(originals, self._newest, now)
        if not serve:
            return None
        return RtcpRtpfbPacket(fmt=packet.fmt, ssrc=packet.ssrc, media_ssrc=packet.media_ssrc,
                               lost=serve)

    def _jumped(self, highest: int) -> int:
        """Sequence numbers our resyncs skipped that the receiver has seen past (they count
        as lost in its report, but nothing was lost)."""
        seen = [j for j in self._jumps if seq_distance(highest % SEQ_MOD, j[0]) < SEQ_MOD // 2]
        for jump in seen:
            self._jumped_seen += jump[1]
            self._jumps.remove(jump)
        return self._jumped_seen

    # ---- RTP out ------------------------------------------------------------------------

    def rewrite(self, data: bytes) -> bytes | None:
        """``data`` with its sequence number shifted (``None``: do not send)."""
        ssrc = _rtp_ssrc(data)
        if ssrc == self.ssrc:
            seq, timestamp = struct.unpack_from("!HL", data, 2)
            if self._newest is not None and seq_distance(self._newest, seq) < SEQ_MOD // 2:
                return self._shift(data, 2, seq)  # a retransmission without RTX
            if self._pending_jump and timestamp != self._timestamp:
                self._apply_jump(seq)
            self._timestamp = timestamp
            self._newest = seq
            return self._shift(data, 2, seq)
        if ssrc == self.rtx_ssrc:
            at = _payload_offset(data)
            if len(data) < at + 2:
                return data
            self.policy.retransmitted(struct.unpack_from("!H", data, 2)[0], self._clock())
            return self._shift(data, at, struct.unpack_from("!H", data, at)[0])
        return data

    def _shift(self, data: bytes, at: int, seq: int) -> bytes:
        if not self._offset:
            return data
        out = bytearray(data)
        struct.pack_into("!H", out, at, (seq + self._offset) % SEQ_MOD)
        return bytes(out)

    def _apply_jump(self, seq: int) -> None:
        jump = self.policy.config.sequence_jump
        self._offset = (self._offset + jump) % SEQ_MOD
        self._pending_jump = False
        self._epoch_start = seq
        self._jumps.append(((seq + self._offset) % SEQ_MOD, jump))
        if len(self._jumps) > _PENDING_JUMPS:  # a receiver that never reports: assume seen
            self._jumped_seen += self._jumps.pop(0)[1]

    def _check(self, now: float) -> None:
        if not self._pending_jump and self.policy.due(now):
            self.policy.resynced(now)
            self.resyncs += 1
            self._pending_jump = True
            self.sender._send_keyframe()
            logger.info("video sender %08x: resync %d after unrepaired loss", self.ssrc,
                        self.resyncs)

    def tick(self) -> None:
        """Called on every packet sent: a due resync happens within one frame period."""
        self._check(self._clock())


def install(sender: RTCRtpSender, policy: RecoveryPolicy | None = None, *,
            clock: Clock = time.monotonic) -> SenderResync:
    """Hook a :class:`SenderResync` into ``sender`` and its DTLS transport; call once the
    transport exists (after the local description is set)."""
    resync = SenderResync(sender, policy, clock=clock)
    original_rtcp = sender._handle_rtcp_packet

    async def handle_rtcp(packet: Any) -> None:
        kept = resync.handle_rtcp(packet)
        if kept is not None:
            await original_rtcp(kept)

    sender._handle_rtcp_packet = handle_rtcp  # type: ignore[method-assign]
    _rewriters(sender.transport).append(resync)
    return resync


def _rewriters(transport: Any) -> list[SenderResync]:
    """The resyncs sharing ``transport`` (bundled senders), hooking ``_send_rtp`` once."""
    found: list[SenderResync] | None = getattr(transport, "_reactor_resyncs", None)
    if found is not None:
        return found
    rewriters: list[SenderResync] = []
    original: SendRtp = transport._send_rtp

    async def send_rtp(data: bytes) -> None:
        if not is_rtcp(data):
            for rewriter in rewriters:
                rewriter.tick()
                rewritten = rewriter.rewrite(data)
                if rewritten is None:
                    return
                data = rewritten
        await original(data)

    transport._reactor_resyncs = rewriters
    transport._send_rtp = send_rtp
    return rewriters
