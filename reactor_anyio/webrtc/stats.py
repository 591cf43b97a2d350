"""A small, typed summary of aiortc's ``getStats()`` plus the frame counters we keep.

aiortc reports jitter in RTP clock units and round-trip time only on senders (from the
remote's receiver reports); a receive-only client therefore has ``rtt=None``.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Mapping

import attrs

VIDEO_CLOCK_RATE = 90_000
AUDIO_CLOCK_RATE = 48_000


@attrs.frozen(kw_only=True)
class TrackFrameStats:
    """Frames of one remote video track as this peer saw them."""

    frames_received: int
    frames_dropped: int
    fps: float


@attrs.frozen(kw_only=True)
class PeerStats:
    rtt: float | None
    """Smoothed round-trip time in seconds (senders only), worst of all streams."""
    packets_lost: int
    """Inbound RTP packets lost, all streams."""
    jitter: float | None
    """Inbound interarrival jitter in seconds, worst stream."""
    packets_received: int
    bytes_sent: int
    bytes_received: int
    tracks: Mapping[str, TrackFrameStats]
    """Per remote video track name: frames received, dropped by the mailbox, and fps."""


def summarize(report: Mapping[str, object], tracks: Mapping[str, TrackFrameStats]) -> PeerStats:
    """Fold an aiortc stats report (any object with the W3C attribute names) into
    :class:`PeerStats`."""
    rtts: list[float] = []
    jitters: list[float] = []
    lost = received = 0
    transports: dict[str, tuple[int, int]] = {}
    for entry in report.values():
        kind = getattr(entry, "type", None)
        if kind == "inbound-rtp":
            lost += int(getattr(entry, "packetsLost", 0) or 0)
            received += int(getattr(entry, "packetsReceived", 0) or 0)
            rate = VIDEO_CLOCK_RATE if getattr(entry, "kind", "video") == "video" \
                else AUDIO_CLOCK_RATE
            jitter = getattr(entry, "jitter", None)
            if jitter is not None:
                jitters.append(float(jitter) / rate)
        elif kind == "remote-inbound-rtp":
            rtt = getattr(entry, "roundTripTime", None)
            if rtt is not None:
                rtts.append(float(rtt))
        elif kind == "transport":
            # one transport under max-bundle, reported once per sender/receiver: keep one copy
            transports[str(getattr(entry, "id", ""))] = (
                int(getattr(entry, "bytesSent", 0) or 0),
                int(getattr(entry, "bytesReceived", 0) or 0),
            )
    return PeerStats(
        rtt=max(rtts) if rtts else None,
        packets_lost=lost,
        jitter=max(jitters) if jitters else None,
        packets_received=received,
        bytes_sent=sum(sent for sent, _ in transports.values()),
        bytes_received=sum(got for _, got in transports.values()),
        tracks=dict(tracks),
    )


class FpsMeter:
    """Frames per second over the last ``window`` seconds of caller-supplied timestamps."""

    def __init__(self, window: float = 1.0) -> None:
        self._window = window
        self._times: collections.deque[float] = collections.deque()
        # ticks may come from a decoder thread while stats are read on the loop
        self._lock = threading.Lock()

    def tick(self, now: float) -> None:
        with self._lock:
            self._times.append(now)
            self._trim(now)

    def _trim(self, now: float) -> None:
        while self._times and self._times[0] < now - self._window:
            self._times.popleft()

    def fps(self, now: float) -> float:
        with self._lock:
            self._trim(now)
            if len(self._times) < 2:
                return 0.0
            span = self._times[-1] - self._times[0]
            intervals = len(self._times) - 1
        return intervals / span if span > 0 else 0.0
