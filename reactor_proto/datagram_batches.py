"""Which datagrams to one peer leave together in one UDP segmentation-offload (GSO) send.

A 640x360 stepped result sent to a peer using the usual SCTP packets is ~600 DTLS records,
each its own datagram.  On Linux (4.18 and later) one ``sendmsg`` with a ``UDP_SEGMENT``
control message hands the kernel a buffer it cuts into datagrams of one size (the last may
be shorter): the receiver gets exactly the datagrams it would have got one by one, and the
sender pays one system call, one route lookup and one wake-up of the receiving side instead
of one per datagram.  SCTP emits runs of equal datagrams: every full DATA chunk of a
fragmented message makes a DTLS record of the same size.

This module decides, from the sizes of the datagrams one transmission produced (in order),
how they are grouped (:func:`plan`), and what a failed segmented send means for the next
ones (:func:`after_failure`).  The adapter (``reactor_anyio/webrtc/datagrams.py``) encrypts,
asks, and sends; a group of one, or every group when segmentation is unavailable, is sent
as before, one datagram per call.  Pure functions; no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Final

import attrs

#: Linux's UDP_SEGMENT socket option (``include/uapi/linux/udp.h``), level SOL_UDP.
UDP_SEGMENT: Final = 103
#: The most segments Linux takes in one send (UDP_MAX_SEGMENTS).
MAX_SEGMENTS: Final = 64
#: The most bytes one segmented send carries: one IP datagram's worth (65,535 bytes less
#: the largest IPv4 header and the UDP header), rounded down for IP options and extension
#: headers; the kernel refuses a bigger buffer with EMSGSIZE.
MAX_BATCH_BYTES: Final = 64_000
#: The largest datagram that shares a send: what fits a 1500-byte MTU under IPv6 and UDP
#: headers.  Segments must fit the path MTU (the kernel refuses with EINVAL otherwise),
#: and the big datagrams our own peers exchange on loopback (docs/protocol §6.9) gain
#: nothing: they are few, and a receiver that does not take segmented buffers (most do
#: not) has the kernel copy each segment out once more (measured: figure 13 slower).
MAX_SEGMENT: Final = 1452
#: Fewer datagrams than this are sent one by one: a group of one gains nothing.
MIN_SEGMENTS: Final = 2


@attrs.frozen(kw_only=True)
class Batch:
    """``count`` consecutive datagrams from index ``start``, sent as one buffer cut every
    ``segment`` bytes (all of that size but possibly the last, which is not longer)."""

    start: int
    count: int
    segment: int

    @property
    def segmented(self) -> bool:
        """True when the batch goes as one segmented send, False when it is one datagram."""
        return self.count >= MIN_SEGMENTS


def plan(sizes: Sequence[int], *, max_segments: int = MAX_SEGMENTS,
         max_bytes: int = MAX_BATCH_BYTES, max_segment: int = MAX_SEGMENT) -> list[Batch]:
    """Group ``sizes`` (the datagrams of one transmission, in sending order) into batches.

    Greedy and order-preserving: a batch takes the following datagrams while they have its
    first one's size, then at most one shorter datagram, which ends it (the kernel makes
    only the last segment short), within ``max_segments`` and ``max_bytes``.  A datagram
    above ``max_segment`` bytes, or an empty one, is a batch of its own."""
    batches: list[Batch] = []
    index, total = 0, len(sizes)
    while index < total:
        segment = sizes[index]
        count, used = 1, segment
        if 0 < segment <= min(max_segment, max_bytes):
            while index + count < total and count < max_segments:
                size = sizes[index + count]
                if size > segment or size <= 0 or used + size > max_bytes:
                    break
                count += 1
                used += size
                if size < segment:  # a short one ends the batch
                    break
        batches.append(Batch(start=index, count=count, segment=segment))
        index += count
    return batches


class AfterFailure(enum.Enum):
    """What a segmented send that raised means for this socket's next ones."""

    #: a transient condition (a full socket buffer, an interrupted call): segment again
    KEEP = "keep"
    #: the kernel, the device or the route cannot segment, or refuses this size: never
    #: segment on this socket again
    STOP = "stop"


#: Errors by which Linux says it cannot segment this send: EIO (the device has no checksum
#: offload, or IPsec), EINVAL (segment plus headers above the MTU, or too many segments),
#: EMSGSIZE (the buffer exceeds one IP datagram), EOPNOTSUPP/ENOTSUP/ENOPROTOOPT (no such
#: option: an older kernel or another system).
_CANNOT_SEGMENT: Final = frozenset({"EIO", "EINVAL", "EMSGSIZE", "EOPNOTSUPP", "ENOTSUP",
                                    "ENOPROTOOPT"})


def after_failure(error_name: str | None) -> AfterFailure:
    """The verdict for a segmented send that raised ``OSError`` with this ``errno`` name
    (``errno.errorcode``; None when it carried none).

    Either way the datagrams of the failed send go again one by one, the usual way, so a
    datagram is never lost to the optimisation: a send failing for reasons of its own
    (a full buffer, an unreachable peer) then fails as it would have without it."""
    if error_name in _CANNOT_SEGMENT:
        return AfterFailure.STOP
    return AfterFailure.KEEP
