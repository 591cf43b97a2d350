"""Several SCTP packets encrypted and sent with as few system calls as the kernel allows.

aiortc sends each SCTP packet alone: one DTLS record, then one ``sendto`` through aioice and
asyncio.  When one transmission of ours produces several packets (a burst of a fragmented
message's DATA chunks), :class:`DatagramBatcher` encrypts them one record each, exactly as
aiortc does, and hands runs of equal-sized records to the kernel as one ``sendmsg`` with a
``UDP_SEGMENT`` control message (Linux UDP GSO).  The kernel cuts the buffer back into the
same datagrams, so the peer receives exactly what it would have; only the sender's system
calls, and the receiving side's wake-ups on a veth pair, are fewer.

Which records go together, and what a failed segmented send means, is
:mod:`reactor_proto.datagram_batches`; this module applies it.  It falls back to aiortc's
own path, one record per call, whenever it cannot be sure: a platform without GSO (probed
once per process), an ICE pair that is not a plain UDP socket of asyncio's (a TURN relay
wraps each datagram), datagrams still queued in asyncio's transport (order), or a
segmented send the kernel refused (:func:`~reactor_proto.datagram_batches.after_failure`).
Everything here relies on aiortc's and aioice's private attributes, each checked.
"""

from __future__ import annotations

import errno
import functools
import logging
import socket
import struct
import sys
from collections.abc import Sequence
from typing import Any

from aioice.ice import StunProtocol
from OpenSSL import SSL

from reactor_proto import datagram_batches as policy
from reactor_proto import sack_coalescing

logger = logging.getLogger(__name__)

#: aiortc reads one DTLS record at a time with this buffer (rtcdtlstransport._write_ssl)
_RECORD_READ = 1500
_SOL_UDP = getattr(socket, "SOL_UDP", 17)


@functools.cache
def gso_available() -> bool:
    """True when this kernel knows UDP_SEGMENT (Linux 4.18 and later); probed once."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.getsockopt(_SOL_UDP, policy.UDP_SEGMENT)
    except OSError:
        return False
    return True


def _selected_pair(dtls: Any) -> Any:
    """aioice's nominated candidate pair of ``dtls``'s ICE connection (component 1), or
    None before nomination or with another aioice."""
    connection = getattr(getattr(dtls, "transport", None), "_connection", None)
    nominated = getattr(connection, "_nominated", None)
    return nominated.get(1) if isinstance(nominated, dict) else None


def _segment_option(size: int) -> list[tuple[int, int, bytes]]:
    return [(_SOL_UDP, policy.UDP_SEGMENT, struct.pack("=H", size))]


class DatagramBatcher:
    """Sends the SCTP packets of one transmission over one running DTLS transport."""

    def __init__(self, dtls: Any) -> None:
        self.dtls = dtls
        self.segmenting = gso_available()
        #: counters for tests and benchmarks: segmented sends and the datagrams they carried
        self.segmented_sends = 0
        self.segmented_datagrams = 0

    @classmethod
    def for_transport(cls, dtls: Any) -> DatagramBatcher | None:
        """A batcher for aiortc's DTLS transport, None for anything else (test doubles,
        another aiortc): the caller then sends packet by packet."""
        if not callable(getattr(dtls, "_write_ssl", None)) or not hasattr(dtls, "_ssl"):
            return None
        if not hasattr(getattr(dtls, "transport", None), "_connection"):
            return None
        return cls(dtls)

    async def send(self, packets: Sequence[bytes]) -> None:
        """Encrypt and send ``packets`` in order, as aiortc's ``_send_data`` would each."""
        dtls = self.dtls
        if dtls.state != "connected":
            raise ConnectionError("Cannot send encrypted data, not connected")
        ssl = dtls._ssl
        records: list[bytes] = []
        for packet in packets:
            ssl.send(packet)
            try:
                record = ssl.bio_read(_RECORD_READ)
            except SSL.Error:  # aiortc's _write_ssl: an SSL error reads as nothing
                record = b""
            if record:
                records.append(record)
        route = self._route() if self.segmenting and len(records) > 1 else None
        if route is None:
            for record in records:
                await self._send_one(record)
            return
        for batch in policy.plan([len(record) for record in records]):
            group = records[batch.start:batch.start + batch.count]
            if not (batch.segmented and self._send_segmented(route, group, batch.segment)):
                for record in group:
                    await self._send_one(record)

    async def _send_one(self, record: bytes) -> None:
        """aiortc's path for one record: the ICE transport, aioice, asyncio's sendto."""
        await self.dtls.transport._send(record)
        self._count(len(record), 1)

    def _route(self) -> tuple[socket.socket, Any, tuple[Any, ...]] | None:
        """The socket, asyncio transport and address of the selected pair when it is a
        plain UDP socket with nothing queued in front of it; None otherwise."""
        pair = _selected_pair(self.dtls)
        protocol = getattr(pair, "protocol", None)
        if type(protocol) not in (StunProtocol, DrainingProtocol):  # TURN wraps each datagram
            return None
        transport: Any = getattr(protocol, "transport", None)
        sock = getattr(transport, "_sock", None)
        if not isinstance(sock, socket.socket) or sock.type != socket.SOCK_DGRAM:
            return None
        if transport.is_closing() or transport.get_write_buffer_size():
            return None  # asyncio still holds datagrams: ours must not overtake them
        return sock, transport, pair.remote_addr

    def _send_segmented(self, route: tuple[socket.socket, Any, tuple[Any, ...]],
                        group: list[bytes], segment: int) -> bool:
        """One segmented send of ``group``; False when it did not go (sent one by one)."""
        sock, transport, address = route
        if not self.segmenting or transport.get_write_buffer_size():
            return False  # refused earlier in this send, or a datagram before us was queued
        try:
            sock.sendmsg([b"".join(group)], _segment_option(segment), 0, address)
        except OSError as exc:
            name = errno.errorcode.get(exc.errno or -1)
            if policy.after_failure(name) is policy.AfterFailure.STOP:
                self.segmenting = False
                logger.debug("UDP segmentation off for this transport: %s", exc)
            return False
        self.segmented_sends += 1
        self.segmented_datagrams += len(group)
        self._count(sum(len(record) for record in group), len(group))
        return True

    def _count(self, size: int, datagrams: int) -> None:
        """aiortc's DTLS counters (getStats), kept as its own sends keep them."""
        dtls = self.dtls
        if hasattr(dtls, "_RTCDtlsTransport__tx_bytes"):
            dtls._RTCDtlsTransport__tx_bytes += size
            dtls._RTCDtlsTransport__tx_packets += datagrams


class DrainingProtocol(StunProtocol):
    """aioice's protocol for a plain UDP socket, reading every datagram already waiting
    when one arrives (at most ``DRAIN_MAX`` a turn) instead of one per event-loop turn.

    Each goes through aioice exactly as asyncio would have delivered it, in order, into
    the connection's queue; aiortc's DTLS loop then handles them back to back, which lets
    SACKs that arrived together be answered with one transmission (sctp_coalesce.py)."""

    def datagram_received(self, data: bytes | str, addr: tuple[Any, ...]) -> None:
        super().datagram_received(data, addr)
        transport: Any = self.transport
        sock = getattr(transport, "_sock", None)
        if not isinstance(sock, socket.socket) or transport.is_closing():
            return
        size = getattr(transport, "max_size", 256 * 1024)
        for _ in range(sack_coalescing.DRAIN_MAX - 1):
            try:
                data, addr = sock.recvfrom(size)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # what asyncio's reader does with it
                self.error_received(exc)
                return
            super().datagram_received(data, addr)


def drain_reads(dtls: Any) -> bool:
    """Make the selected pair's aioice protocol a :class:`DrainingProtocol` (when it is
    aioice's plain one on asyncio's selector transport); False when left alone."""
    protocol = getattr(_selected_pair(dtls), "protocol", None)
    if type(protocol) is DrainingProtocol:
        return True
    if type(protocol) is not StunProtocol:
        return False
    if not isinstance(getattr(getattr(protocol, "transport", None), "_sock", None),
                      socket.socket):
        return False
    protocol.__class__ = DrainingProtocol
    return True
