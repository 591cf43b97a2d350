"""reactor_anyio.webrtc.datagrams: a transmission's SCTP packets leave in segmented sends
(UDP GSO) and arrive as the same datagrams; without GSO, or when the kernel refuses, they
leave one by one and nothing is lost."""

from __future__ import annotations

import errno
import socket
from typing import Any

import pytest

from reactor_anyio.webrtc import datagrams
from reactor_anyio.webrtc.datagrams import DatagramBatcher
from reactor_proto import datagram_batches as policy
from reactor_proto import sctp_packets as sp

from .test_sctp_jumbo import _exchange, _negotiate, _transports

needs_gso = pytest.mark.skipif(not datagrams.gso_available(), reason="no UDP GSO here")


def _batcher(transport: Any) -> DatagramBatcher:
    batcher = transport._batcher
    assert isinstance(batcher, DatagramBatcher)
    return batcher


def _count_arrivals(transport: Any) -> list[int]:
    """The sizes of the data datagrams (not STUN) ``transport``'s ICE connection receives,
    from now on."""
    connection = transport.transport.transport._connection
    original = connection.data_received
    sizes: list[int] = []

    def spy(data: bytes, component: int) -> None:
        sizes.append(len(data))
        original(data, component)

    connection.data_received = spy
    return sizes


@needs_gso
@pytest.mark.anyio
async def test_usual_packets_leave_segmented_and_arrive_as_the_same_datagrams() -> None:
    pair = await _negotiate(strip_offer=True)  # the usual 1.2 KiB packets, as with 1.13.0
    try:
        client, server = _transports(pair)
        assert server.packet_size == sp.DEFAULT_PACKET_SIZE
        arrived = _count_arrivals(client)
        await _exchange(pair, 250_000)
        batcher = _batcher(server)
        assert batcher.segmenting and batcher.segmented_sends > 0
        # ~215 full DATA chunks: most left in segmented sends, each datagram cut back whole
        full = [size for size in arrived if size > 1000]
        assert len(full) >= 250_000 // 1160
        assert batcher.segmented_datagrams <= len(arrived)
        assert max(arrived) <= sp.DEFAULT_PACKET_SIZE + 64  # one record, never a glued buffer
    finally:
        await pair.client.close()
        await pair.server.close()


@pytest.mark.anyio
async def test_without_segmentation_every_record_goes_alone() -> None:
    pair = await _negotiate(strip_offer=True)
    try:
        _client, server = _transports(pair)
        await _exchange(pair, 20_000)  # several packets a transmission: makes the batcher
        batcher = _batcher(server)
        batcher.segmenting = False  # what a kernel without UDP_SEGMENT gets
        before = batcher.segmented_sends
        await _exchange(pair, 200_000)
        assert batcher.segmented_sends == before
    finally:
        await pair.client.close()
        await pair.server.close()


class _RefusingSocket:
    """The real socket, except that a segmented send fails as a device without checksum
    offload makes it fail (EIO); counts the attempts."""

    def __init__(self, inner: socket.socket) -> None:
        self.inner, self.refused = inner, 0
        self.type = inner.type

    def sendmsg(self, *args: Any) -> int:
        self.refused += 1
        raise OSError(errno.EIO, "Input/output error")


@pytest.mark.anyio
async def test_a_refused_segmented_send_goes_one_by_one_and_segmenting_stops() -> None:
    pair = await _negotiate(strip_offer=True)
    try:
        _client, server = _transports(pair)
        await _exchange(pair, 20_000)
        batcher = _batcher(server)
        batcher.segmenting = True
        route = batcher._route
        refusing: list[_RefusingSocket] = []

        def refusing_route() -> Any:
            found = route()
            if found is None:
                return None
            if not refusing:
                refusing.append(_RefusingSocket(found[0]))
            return (refusing[0], *found[1:])

        batcher._route = refusing_route  # type: ignore[method-assign]
        before = batcher.segmented_sends
        await _exchange(pair, 200_000)  # arrives whole: the refused records went alone
        assert not batcher.segmenting
        assert refusing and refusing[0].refused == 1  # asked once, never again
        assert batcher.segmented_sends == before
        await _exchange(pair, 100_000)
    finally:
        await pair.client.close()
        await pair.server.close()


@pytest.mark.anyio
async def test_big_packets_between_our_peers_still_arrive_whole() -> None:
    pair = await _negotiate()  # 16 KiB packets on loopback: each goes alone (MAX_SEGMENT)
    try:
        _client, server = _transports(pair)
        assert server.packet_size == sp.MAX_PACKET_SIZE
        await _exchange(pair, 250_000)
        assert _batcher(server).segmented_sends == 0
    finally:
        await pair.client.close()
        await pair.server.close()


def test_only_aiortcs_dtls_gets_a_batcher() -> None:
    assert DatagramBatcher.for_transport(object()) is None
    assert policy.plan([1225, 1225])[0].segmented
