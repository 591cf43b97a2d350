"""A lean RTP send loop for the runtime's pre-encoded audio (issue 25, figure 14).

aiortc's ``RTCRtpSender._run_rtp`` sends one packet per turn of its loop: it awaits
``track.recv()`` through the pause gate and the packet queue (an event and a wake-up each),
converts the packet's time base with ``Fraction`` arithmetic, reads the NTP clock twice
through ``datetime``, builds an ``RtpPacket`` and serialises its header extensions, and
keeps a history for NACK retransmission.  The runtime's audio thread hands over its packets
in bursts (one per batch of frames), so :func:`run_audio_rtp` takes a whole burst per
wake-up and sends it with one header built per burst and patched per packet (sequence
number, timestamp).  What reaches the wire is what aiortc would send: the same payload
type, marker, SSRC, header extensions (``sdes:mid``, plus ``abs-send-time`` when the sender
negotiated it), SRTP and transport (``transport._send_rtp``, which the resync hook may
wrap), and the counters aiortc's RTCP sender reports read are kept up to date.

Not kept: the NACK history.  aiortc negotiates no NACK feedback for Opus, so an audio
sender never retransmits.

The loop replaces ``_run_rtp`` on one sender of ours (an instance attribute, installed by
:func:`install` before the sender starts); it reads aiortc's private sender state by its
mangled names, pinned by tests/webrtc/test_audio_rtp.py.  A track without ``recv_batch``
is read one packet at a time.
"""

from __future__ import annotations

import asyncio
import fractions
import functools
import logging
import struct
from typing import Any

import av
from aiortc import RTCRtpSender
from aiortc import clock as rtc_clock
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpsender import random_sequence_number
from aiortc.rtp import RtpPacket
from aiortc.utils import random32

logger = logging.getLogger(__name__)

OPUS_TIME_BASE = fractions.Fraction(1, 48_000)
_SEQ_TS = struct.Struct("!HL")
_P = "_RTCRtpSender__"  # aiortc's mangled private names


def install(sender: RTCRtpSender) -> None:
    """Send ``sender``'s audio with :func:`run_audio_rtp` (call before it starts)."""
    sender._run_rtp = functools.partial(run_audio_rtp, sender)  # type: ignore[method-assign]


def _header(sender: RTCRtpSender, payload_type: int) -> bytes:
    """The RTP header of this burst's packets, sequence number and timestamp zero."""
    packet = RtpPacket(payload_type=payload_type, marker=1)
    packet.ssrc = sender._ssrc
    packet.extensions.abs_send_time = (rtc_clock.current_ntp_time() >> 14) & 0x00FFFFFF
    packet.extensions.mid = getattr(sender, _P + "mid")
    return packet.serialize(getattr(sender, _P + "rtp_header_extensions_map"))


def _rtp_time(packet: av.Packet[Any]) -> int:
    pts = packet.pts or 0
    time_base = packet.time_base
    if time_base is None or time_base == OPUS_TIME_BASE:
        return int(pts)
    return int(pts * time_base * 48_000)


async def _burst(track: Any) -> list[av.Packet[Any]]:
    batch = getattr(track, "recv_batch", None)
    if batch is not None:
        packets: list[av.Packet[Any]] = await batch()
        return packets
    return [await track.recv()]


async def run_audio_rtp(sender: RTCRtpSender, codec: Any) -> None:
    """``sender._run_rtp`` for pre-encoded audio; see the module docstring."""
    getattr(sender, _P + "rtp_started").set()
    sequence = random_sequence_number()
    origin = random32()
    transport = sender.transport
    try:
        while True:
            track = sender.track
            if track is None:
                await asyncio.sleep(0.02)
                continue
            packets = await _burst(track)
            if not sender._enabled:
                continue
            header = bytearray(_header(sender, codec.payloadType))
            octets = 0
            timestamp = origin
            for packet in packets:
                payload = bytes(packet)
                timestamp = (origin + _rtp_time(packet)) & 0xFFFFFFFF
                _SEQ_TS.pack_into(header, 2, sequence, timestamp)
                await transport._send_rtp(bytes(header) + payload)
                sequence = (sequence + 1) & 0xFFFF
                octets += len(payload)
            if packets:  # what the RTCP sender reports read
                setattr(sender, _P + "ntp_timestamp", rtc_clock.current_ntp_time())
                setattr(sender, _P + "rtp_timestamp", timestamp)
                setattr(sender, _P + "octet_count", getattr(sender, _P + "octet_count") + octets)
                setattr(sender, _P + "packet_count",
                        getattr(sender, _P + "packet_count") + len(packets))
    except (asyncio.CancelledError, ConnectionError, MediaStreamError):
        pass
    except Exception:  # as aiortc: the sender's stop() waits for rtp_exited
        logger.exception("audio RTP loop failed")
    finally:
        track = sender.track
        if track is not None:
            track.stop()
            sender.replaceTrack(None)
        getattr(sender, _P + "rtp_exited").set()
