"""A received video frame leaves aiortc's jitter buffer with its last packet (issue 20).

aiortc's video jitter buffer hands an encoded frame to the decoder only when a packet of the
*next* frame arrives: it cannot tell that a frame is complete before the timestamp changes.
At 30 fps that holds every frame back one frame interval (~33 ms): the first decoded frame
after READY, and each frame's end-to-end latency.  The sender says where a frame ends: RTP's
marker bit is set on its last packet (H.264: RFC 6184 section 5.1; VP8: RFC 7741 section
4.1; aiortc, libwebrtc and browsers all set it).  :class:`MarkerJitterBuffer` releases a
frame as soon as its packets, from the buffer's origin up to the marked one, are all in.

Anything else is left to aiortc's own rule: a frame whose marked packet was lost still goes
out when the next frame's first packet arrives, and packets of a released frame that come
late are ignored, as before.  :func:`release_on_marker` swaps the buffer of a video receiver
that has not received anything yet (aiortc has no setting for it: this reaches into its
receiver, like :func:`~.audio_receive.shorten_jitter_buffer`, and does nothing when the
attribute is gone).
"""

from __future__ import annotations

from typing import Any

from aiortc.jitterbuffer import JitterBuffer, JitterFrame

#: aiortc's name for a receiver's jitter buffer (a private attribute of RTCRtpReceiver)
_BUFFER_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"


class MarkerJitterBuffer(JitterBuffer):
    """aiortc's video jitter buffer, releasing a frame once its marked last packet is in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Packets from the origin already walked: present, one timestamp, none marked.  They
        # cannot change until packets are removed, so the next walk resumes after them: each
        # packet is looked at about once per frame, not once per packet that arrives.
        self._walked = 0

    def remove(self, count: int) -> None:
        self._walked = 0
        super().remove(count)

    def smart_remove(self, count: int) -> bool:
        self._walked = 0
        return bool(super().smart_remove(count))

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        # The run of packets from the origin: a complete frame if it reaches a marked packet
        # with one timestamp.  A gap first: nothing to release yet (aiortc's walk would stop
        # at the same gap).  A new timestamp first: a frame without its marker, which
        # aiortc's rule releases now that the next frame has begun.
        assert self._origin is not None
        start = self._walked
        timestamp = None
        if start:
            first = self._packets[self._origin % self._capacity]
            assert first is not None
            timestamp = first.timestamp
        for count in range(start, self._capacity):
            packet = self._packets[(self._origin + count) % self._capacity]
            if packet is None:
                self._walked = count
                return None
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:
                return super()._remove_frame(sequence_number)
            if packet.marker:
                frame = self._join(count + 1, timestamp)
                self.remove(count + 1)
                return frame
        return None  # pragma: no cover - a full buffer of one frame without a marker

    def _join(self, count: int, timestamp: int) -> JitterFrame:
        assert self._origin is not None
        data = []
        for i in range(count):
            packet = self._packets[(self._origin + i) % self._capacity]
            assert packet is not None
            data.append(packet._data)  # type: ignore[attr-defined]  # set by the receiver
        return JitterFrame(data=b"".join(data), timestamp=timestamp)


def release_on_marker(receiver: Any) -> bool:
    """Give aiortc video ``receiver`` a :class:`MarkerJitterBuffer` (same capacity); True
    when swapped.  Only before its first packet: a buffer in use is left alone."""
    buffer = getattr(receiver, _BUFFER_ATTRIBUTE, None)
    if type(buffer) is not JitterBuffer or buffer._origin is not None:
        return isinstance(buffer, MarkerJitterBuffer)
    if buffer._prefetch or not buffer._is_video:
        return False
    setattr(receiver, _BUFFER_ATTRIBUTE, MarkerJitterBuffer(capacity=buffer.capacity,
                                                            is_video=True))
    return True
