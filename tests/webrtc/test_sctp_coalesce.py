"""reactor_anyio.webrtc.sctp_coalesce: SACKs that arrive together are answered with one
transmission, owed transmissions are always paid, and messages arrive whole."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from aiortc import RTCSctpTransport

from reactor_anyio.webrtc import datagrams
from reactor_anyio.webrtc.sctp import ReactorSctpTransport, adopt

from .test_sctp import FakeDtls
from .test_sctp_jumbo import _exchange, _negotiate, _transports


@pytest.mark.anyio
async def test_an_owed_transmission_is_paid_in_the_next_turn() -> None:
    dtls = FakeDtls()
    transport = RTCSctpTransport(dtls)  # type: ignore[arg-type]
    assert adopt(transport) and isinstance(transport, ReactorSctpTransport)
    transport._association_state = transport.State.ESTABLISHED
    transport._remote_port = 5000
    transport._deferring = True  # as while a SACK waits behind this one
    await transport._send(1, 51, b"x" * 10_000)  # 9 chunks; aiortc's window takes 3
    assert dtls.packets == [] and transport._owed.chunks == 3
    transport._deferring = False
    await asyncio.sleep(0)  # no SACK came: the scheduled call pays
    await asyncio.sleep(0)
    assert len(dtls.packets) == 3 and transport._owed.chunks == 0
    transport._t3_cancel()


@pytest.mark.anyio
async def test_our_peers_drain_their_sockets_and_answer_sacks_together() -> None:
    pair = await _negotiate(strip_offer=True)  # the usual packets, many SACKs
    try:
        client, server = _transports(pair)
        for transport in (client, server):
            protocol = transport.transport.transport._connection._nominated[1].protocol
            assert type(protocol) is datagrams.DrainingProtocol
        for _ in range(3):
            await _exchange(pair, 250_000)  # arrive whole, whether SACKs came together or not
        assert server._owed.chunks == 0 and client._owed.chunks == 0
    finally:
        await pair.client.close()
        await pair.server.close()


@pytest.mark.anyio
async def test_one_arrival_reads_every_datagram_already_waiting() -> None:
    pair = await _negotiate(strip_offer=True)
    try:
        _client, server = _transports(pair)
        connection = server.transport.transport._connection
        protocol = connection._nominated[1].protocol
        address = protocol.transport.get_extra_info("sockname")
        delivered: list[bytes] = []
        original = connection.data_received

        def spy(data: bytes, component: int) -> None:
            delivered.append(data)
            original(data, component)

        connection.data_received = spy
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for index in range(5):  # not STUN, not DTLS: aiortc ignores them
                sender.sendto(bytes([0, index]), address)
            time.sleep(0.05)  # noqa: ASYNC251 -- holds the loop: all five wait in the socket
            protocol.datagram_received(bytes([0, 9]), sender.getsockname())
        # one arrival, and every waiting datagram went through aioice, in order
        assert delivered == [bytes([0, 9])] + [bytes([0, i]) for i in range(5)]
    finally:
        await pair.client.close()
        await pair.server.close()
