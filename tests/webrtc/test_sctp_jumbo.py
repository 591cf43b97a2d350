"""Big SCTP packets between our own peers on loopback (issue 24): aiortc's congestion
control scaled with the packet, retransmission of big packets, whole DTLS records, and the
usual packets whenever the other side did not declare."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from aiortc import RTCSctpTransport
from aiortc import rtcsctptransport as aio_sctp

from reactor_anyio.webrtc import ClientPeer, IceConfig, MappedTrack, ServerPeer
from reactor_anyio.webrtc import sctp_jumbo as jumbo
from reactor_anyio.webrtc.sctp import ReactorSctpTransport, adopt
from reactor_proto import sctp_packets as sp

from .conftest import TRACKS, Pair, channels_open, wait_until

BIG = sp.user_data_per_chunk(sp.MAX_PACKET_SIZE)
SMALL = aio_sctp.USERDATA_MAX_LENGTH


class FakeSsl:
    def __init__(self) -> None:
        self.reads: list[tuple[str, int]] = []

    def recv(self, bufsiz: int, flags: int | None = None) -> bytes:
        self.reads.append(("recv", bufsiz))
        return b""

    def bio_read(self, bufsiz: int) -> bytes:
        self.reads.append(("bio_read", bufsiz))
        return b""


class FakeCandidate:
    def __init__(self, host: str) -> None:
        self.host, self.type, self.transport = host, "host", "udp"


class FakeDtls:
    """What the transport sees below it: the packets it sends, an SSL object, an ICE pair."""

    state = "connected"

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.packets: list[list[Any]] = []
        self._ssl: Any = FakeSsl()
        pair = type("Pair", (), {"local_candidate": FakeCandidate(host),
                                 "remote_candidate": FakeCandidate(host)})()
        connection = type("Connection", (), {"_nominated": {1: pair}})()
        self.transport = type("Ice", (), {"_connection": connection})()

    async def _send_data(self, data: bytes) -> None:
        self.packets.append(aio_sctp.parse_packet(data)[3])

    def data(self) -> list[Any]:
        return [c for chunks in self.packets for c in chunks
                if isinstance(c, aio_sctp.DataChunk)]


def _transport(ours: int | None = sp.MAX_PACKET_SIZE, theirs: int | None = sp.MAX_PACKET_SIZE,
               host: str = "127.0.0.1") -> tuple[ReactorSctpTransport, FakeDtls]:
    dtls = FakeDtls(host)
    transport = RTCSctpTransport(dtls)  # type: ignore[arg-type]
    assert adopt(transport) and isinstance(transport, ReactorSctpTransport)
    transport.set_packet_limits(ours, theirs)
    transport._apply_packet_limits()  # what start() does first
    transport._association_state = transport.State.ESTABLISHED
    transport._remote_port = 5000
    transport._ssthresh = 1 << 20  # the peer's advertised window, as the handshake sets it
    return transport, dtls


def _sack(cumulative: int, gaps: list[tuple[int, int]] | None = None) -> Any:
    sack = aio_sctp.SackChunk()
    sack.cumulative_tsn, sack.advertised_rwnd, sack.gaps = cumulative, 1 << 20, gaps or []
    return sack


# ---- the decision, applied --------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(("ours", "theirs", "host", "sends", "receives"), [
    (sp.MAX_PACKET_SIZE, sp.MAX_PACKET_SIZE, "127.0.0.1", sp.MAX_PACKET_SIZE, True),
    (sp.MAX_PACKET_SIZE, 4000, "::1", 4000, True),
    (sp.MAX_PACKET_SIZE, sp.MAX_PACKET_SIZE, "10.1.2.3", sp.DEFAULT_PACKET_SIZE, True),
    (sp.MAX_PACKET_SIZE, None, "127.0.0.1", sp.DEFAULT_PACKET_SIZE, True),
    (None, sp.MAX_PACKET_SIZE, "127.0.0.1", sp.DEFAULT_PACKET_SIZE, False),
])
async def test_packet_size_follows_the_core(ours: int | None, theirs: int | None, host: str,
                                            sends: int, receives: bool) -> None:
    transport, dtls = _transport(ours, theirs, host)
    assert transport.packet_size == sends
    assert isinstance(dtls._ssl, jumbo.LargeRecordSsl) == receives
    if sends == sp.DEFAULT_PACKET_SIZE:
        assert transport._cwnd == 3 * SMALL and transport._scaled is None
    else:
        assert transport._cwnd == sp.send_window(sends).initial
    transport._t3_cancel()


def test_large_record_reads() -> None:
    inner = FakeSsl()
    ssl = jumbo.LargeRecordSsl(inner)
    ssl.recv(1500)
    ssl.bio_read(1500)
    assert inner.reads == [("recv", jumbo.RECORD_PLAINTEXT_MAX),
                           ("bio_read", jumbo.RECORD_CIPHERTEXT_MAX)]
    assert ssl.reads is inner.reads  # everything else is the wrapped connection's
    dtls = type("Dtls", (), {"_ssl": ssl})()
    assert jumbo.accept_large_records(dtls) and dtls._ssl is ssl  # wrapped once
    assert not jumbo.accept_large_records(type("Dtls", (), {"_ssl": None})())


def test_no_pair_no_facts() -> None:
    assert jumbo.selected_pair(object()) is None
    assert jumbo.can_scale()


# ---- congestion control and retransmission, in big packets -------------------------------


@pytest.mark.anyio
async def test_messages_are_cut_into_big_chunks_within_the_local_window() -> None:
    transport, dtls = _transport()
    window = sp.LOCAL_WINDOW_PACKETS
    await transport._send(1, 51, b"m" * (BIG * (window + 6) + 10))
    sizes = [len(c.user_data) for c in dtls.data()]
    assert sizes == [BIG] * window  # the whole local window at once: no burst limit
    first = dtls.data()[0].tsn
    await transport._receive_chunk(_sack(first))  # one acknowledged: one more goes out
    assert transport._cwnd == window * BIG  # and the window stays at the core's limit
    assert [len(c.user_data) for c in dtls.data()] == [BIG] * (window + 1)
    await transport._receive_chunk(_sack((first + 6) % 2**32))
    assert [len(c.user_data) for c in dtls.data()] == [BIG] * (window + 6) + [10]
    assert transport._cwnd == window * BIG
    transport._t3_cancel()


@pytest.mark.anyio
async def test_usual_packets_keep_aiortcs_slow_start_and_burst_limit() -> None:
    transport, dtls = _transport(theirs=None)
    await transport._send(1, 51, b"m" * (SMALL * 12))
    assert len(dtls.data()) == 3  # aiortc's initial window, three packets
    first = dtls.data()[0].tsn
    transport._cwnd = 100 * SMALL  # a grown window: still four new packets per SACK
    await transport._receive_chunk(_sack(first))
    assert len(dtls.data()) == 3 + 4  # four past the flight, though the window had room
    transport._t3_cancel()


@pytest.mark.anyio
async def test_a_lost_big_packet_is_fast_retransmitted_whole() -> None:
    transport, dtls = _transport()
    transport._cwnd = transport._ssthresh = 100 * BIG
    await transport._send(1, 51, b"y" * BIG * 8)
    first = dtls.data()[0].tsn
    for end in (2, 3, 4):  # the second chunk is lost: three SACKs reporting the gap
        await transport._receive_chunk(_sack(first, [(2, end)]))
    lost = [c for c in dtls.data() if c.tsn == (first + 1) % 2**32]
    assert len(lost) == 2 and {len(c.user_data) for c in lost} == {BIG}
    # fast recovery halves the window (held at the core's local limit), floored at four
    # big packets (not four small ones)
    window = sp.send_window(sp.MAX_PACKET_SIZE).limit
    assert window is not None
    assert transport._ssthresh == max(window // 2, 4 * BIG)
    transport._t3_cancel()


@pytest.mark.anyio
async def test_t3_expiry_leaves_one_big_packet_of_window() -> None:
    transport, dtls = _transport()
    await transport._send(1, 51, b"z" * BIG * 2)
    sent = [c.tsn for c in dtls.data()]
    transport._t3_cancel()
    transport._t3_expired()
    # one big packet of window; ssthresh half the window the timeout found (RFC 9260 §7.2.3)
    assert transport._cwnd == BIG
    assert transport._ssthresh == max(sp.LOCAL_WINDOW_PACKETS * BIG // 2, 4 * BIG)
    await asyncio.sleep(0)  # aiortc schedules the retransmission as a task
    await asyncio.sleep(0)
    again = [c for c in dtls.data()][len(sent):]
    assert [c.tsn for c in again] == sent[:1] and len(again[0].user_data) == BIG
    transport._t3_cancel()


@pytest.mark.anyio
async def test_small_transports_keep_aiortcs_numbers_beside_big_ones() -> None:
    big, _ = _transport()
    small, dtls = _transport(theirs=None)
    await small._send(1, 51, b"s" * SMALL * 2)
    assert [len(c.user_data) for c in dtls.data()] == [SMALL] * 2
    small._t3_cancel()
    small._t3_expired()
    assert small._cwnd == SMALL and small._ssthresh == 4 * SMALL
    small._t3_cancel()
    big._t3_cancel()


# ---- end to end: two of our peers on loopback --------------------------------------------


async def _negotiate(strip_offer: bool = False, strip_answer: bool = False) -> Pair:
    client = ClientPeer(TRACKS, ice=IceConfig.loopback(), video_codecs=("video/VP8",),
                        big_sctp_packets=True)  # what a stepped session's client asks for
    offer, mids = await client.create_offer()
    if strip_offer:  # what any other client offers
        offer = offer.replace(sp.declaration() + "\r\n", "")
    mapping = [MappedTrack(mid=mids[t.name], name=t.name, kind=t.kind, direction=t.direction)
               for t in TRACKS]
    server = ServerPeer(mapping, ice=IceConfig.loopback())
    answer = await server.accept(offer)
    if strip_answer:  # something between the peers dropped the line
        answer = answer.replace(sp.declaration() + "\r\n", "")
    await client.apply_answer(answer)
    pair = Pair(client=client, server=server, offer=offer, answer=answer, mids=mids,
                events=[])
    await wait_until(lambda: channels_open(pair))
    return pair


async def _exchange(pair: Pair, size: int) -> None:
    payload = random.Random(size).randbytes(size)
    got: list[str | bytes] = []
    pair.client.on_channel_message = lambda label, message: got.append(message)
    pair.server.on_channel_message = lambda label, message: got.append(message)
    pair.server.send("data", payload)
    pair.client.send("data", payload[::-1])
    await wait_until(lambda: len(got) == 2, within=10)
    assert set(got) == {payload, payload[::-1]}


def _transports(pair: Pair) -> list[ReactorSctpTransport]:
    found = [peer._pc.sctp for peer in (pair.client, pair.server)]
    assert all(isinstance(t, ReactorSctpTransport) for t in found)
    return found  # type: ignore[return-value]


@pytest.mark.anyio
async def test_our_peers_use_big_packets_and_messages_arrive_whole() -> None:
    pair = await _negotiate()
    try:
        assert sp.declared_limit(pair.offer) == sp.declared_limit(pair.answer) == 16384
        assert [t.packet_size for t in _transports(pair)] == [sp.MAX_PACKET_SIZE] * 2
        sent: list[int] = []
        server = _transports(pair)[1]
        original = server._send_packets

        async def spy(out: list[bytes]) -> None:
            sent.extend(len(chunk.user_data) for packet in out
                        for chunk in aio_sctp.parse_packet(packet)[3]
                        if isinstance(chunk, aio_sctp.DataChunk))
            await original(out)

        server._send_packets = spy  # type: ignore[method-assign]
        await _exchange(pair, 200_000)
        await _exchange(pair, 5)  # small messages are unchanged
        assert max(sent) == BIG and len(sent) == -(-200_000 // BIG) + 1
    finally:
        await pair.client.close()
        await pair.server.close()


@pytest.mark.anyio
async def test_a_lost_big_datagram_is_retransmitted_end_to_end() -> None:
    pair = await _negotiate()
    try:
        server = _transports(pair)[1]
        ice = server.transport.transport
        original = ice._send
        dropped: list[int] = []

        async def lossy(data: bytes) -> None:
            if len(data) > 10_000 and len(dropped) < 2:  # the first two big datagrams
                dropped.append(len(data))
                return
            await original(data)

        ice._send = lossy
        server._batcher = False  # every datagram through aioice, where this test drops
        await _exchange(pair, 200_000)
        assert len(dropped) == 2
    finally:
        await pair.client.close()
        await pair.server.close()


@pytest.mark.anyio
async def test_an_offer_without_the_line_gets_the_usual_packets() -> None:
    pair = await _negotiate(strip_offer=True)
    try:
        assert sp.declared_limit(pair.answer) is None  # the answer never declares unasked
        for transport in _transports(pair):
            assert transport.packet_size == sp.DEFAULT_PACKET_SIZE
        client, server = _transports(pair)
        # the client declared, so it reads whole records anyway; the server never declared
        assert isinstance(client.transport._ssl, jumbo.LargeRecordSsl)
        assert not isinstance(server.transport._ssl, jumbo.LargeRecordSsl)
        await _exchange(pair, 100_000)
    finally:
        await pair.client.close()
        await pair.server.close()


@pytest.mark.anyio
async def test_a_lost_answer_line_still_reads_the_answerers_big_packets() -> None:
    pair = await _negotiate(strip_answer=True)
    try:
        client, server = _transports(pair)
        assert server.packet_size == sp.MAX_PACKET_SIZE  # it saw both declarations
        assert client.packet_size == sp.DEFAULT_PACKET_SIZE  # it saw only its own
        await _exchange(pair, 100_000)
    finally:
        await pair.client.close()
        await pair.server.close()


@pytest.mark.anyio
async def test_a_streaming_client_offers_the_usual_packets() -> None:
    # big packets in a data-channel burst froze a streamed video (shared UDP socket): only a
    # stepped session's client declares them (Reactor(generation="stepped"))
    client = ClientPeer(TRACKS, ice=IceConfig.loopback(), video_codecs=("video/VP8",))
    try:
        offer, _ = await client.create_offer()
        assert sp.declared_limit(offer) is None
    finally:
        await client.close()


@pytest.mark.anyio
async def test_big_packets_are_acknowledged_every_eighth_and_gaps_at_once() -> None:
    transport, dtls = _transport()
    transport._last_received_tsn = 99

    async def arrive(tsn: int) -> None:
        chunk = aio_sctp.DataChunk(flags=aio_sctp.SCTP_DATA_FIRST_FRAG
                                   | aio_sctp.SCTP_DATA_LAST_FRAG)
        chunk.tsn, chunk.stream_id, chunk.stream_seq, chunk.user_data = tsn, 1, tsn - 100, b"x"
        await transport._receive_chunk(chunk)
        if transport._sack_needed:
            await transport._send_sack()

    def sacks() -> list[Any]:
        return [c for chunks in dtls.packets for c in chunks
                if isinstance(c, aio_sctp.SackChunk)]

    every = sp.sack_every(sp.MAX_PACKET_SIZE)
    for tsn in range(100, 100 + every - 1):
        await arrive(tsn)
    assert sacks() == []
    await arrive(100 + every - 1)
    assert [s.cumulative_tsn for s in sacks()] == [100 + every - 1]
    await arrive(100 + every + 1)  # one missing: reported at once, whatever the count
    assert sacks()[-1].gaps == [(2, 2)]
    transport._cancel_sack_timer()
    small, small_dtls = _transport(theirs=None)  # the usual packets: every second
    small._last_received_tsn = 99
    transport, dtls = small, small_dtls
    await arrive(100)
    await arrive(101)
    assert [s.cumulative_tsn for s in sacks()] == [101]
    small._cancel_sack_timer()


class FakeChannel:
    id, maxPacketLifeTime, maxRetransmits, ordered = 1, None, None, True

    def __init__(self) -> None:
        self.buffered = 0

    def _addBufferedAmount(self, amount: int) -> None:
        self.buffered += amount


@pytest.mark.anyio
async def test_big_packets_bundle_a_messages_tail_with_the_next_head() -> None:
    transport, dtls = _transport()
    channel = FakeChannel()
    frame = sp.user_data_per_chunk(sp.MAX_PACKET_SIZE) * 4 + 112  # a 64 KiB chunk frame
    for _ in range(3):
        transport._data_channel_queue.append((channel, 53, b"f" * frame))
    await transport._data_channel_flush()
    packets = [aio_sctp.serialize_packet(1, 2, 3, jumbo_bundle(chunks)) for chunks in dtls.packets]
    assert all(len(p) <= sp.MAX_PACKET_SIZE for p in packets)
    # 3 x 64 KiB in 13 packets, not 15: the 112-byte tails share a packet with a shortened
    # first fragment of the next message
    assert len(packets) == -(-3 * frame // BIG) == 13
    assert [len(chunks) for chunks in dtls.packets].count(2) == 2
    messages: list[bytes] = []
    for chunk in (c for chunks in dtls.packets for c in chunks):  # the receiver's view
        if chunk.flags & aio_sctp.SCTP_DATA_FIRST_FRAG:
            messages.append(b"")
        messages[-1] += chunk.user_data
    assert messages == [b"f" * frame] * 3
    assert not transport._data_channel_queue and channel.buffered == -3 * frame
    # every chunk is tracked as aiortc tracks one: in flight, then acknowledged
    tsns = [c.tsn for chunks in dtls.packets for c in chunks]
    assert [c.tsn for c in transport._sent_queue] == tsns
    await transport._receive_chunk(_sack(tsns[-1]))
    assert not transport._sent_queue and transport._flight_size == 0
    transport._t3_cancel()


@pytest.mark.anyio
async def test_usual_packets_are_never_bundled() -> None:
    transport, dtls = _transport(theirs=None)
    transport._cwnd = 1 << 20
    channel = FakeChannel()
    for _ in range(3):
        transport._data_channel_queue.append((channel, 53, b"s" * 10))
    await transport._data_channel_flush()
    assert [len(chunks) for chunks in dtls.packets] == [1, 1, 1]
    transport._t3_cancel()


def jumbo_bundle(chunks: list[Any]) -> Any:
    from reactor_anyio.webrtc.sctp import _Bundle

    return _Bundle(chunks)
