"""reactor_anyio.webrtc.sctp: aiortc's SCTP with delayed SACKs, cheap reassembly and a
cheap ``_transmit`` behaves as aiortc's does, on the wire and to the data channels."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from aiortc import RTCSctpTransport
from aiortc import rtcsctptransport as aio_sctp
from hypothesis import given, settings
from hypothesis import strategies as st

from reactor_anyio.webrtc import sctp
from reactor_anyio.webrtc.sctp import (
    DELAYED_SACK_TIMEOUT,
    FastInboundStream,
    ReactorSctpTransport,
    adopt,
)

from .conftest import Pair, wait_until

FIRST, LAST, UNORDERED = (aio_sctp.SCTP_DATA_FIRST_FRAG, aio_sctp.SCTP_DATA_LAST_FRAG,
                          aio_sctp.SCTP_DATA_UNORDERED)


# ---- reassembly: the same messages as aiortc's InboundStream, whatever the arrival order ---


def _chunks(sizes: list[int], unordered: list[bool], base_tsn: int) -> list[Any]:
    chunks, tsn = [], base_tsn
    for seq, (size, loose) in enumerate(zip(sizes, unordered, strict=True)):
        for index in range(size):
            chunk = aio_sctp.DataChunk()
            chunk.flags = (FIRST if index == 0 else 0) | (LAST if index == size - 1 else 0) \
                | (UNORDERED if loose else 0)
            chunk.tsn, chunk.stream_id, chunk.protocol = tsn % 2**32, 1, 51
            chunk.stream_seq = 0 if loose else seq
            chunk.user_data = f"{seq}:{index};".encode()
            chunks.append(chunk)
            tsn += 1
    return chunks


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=1, max_size=6), data=st.data(),
       base=st.sampled_from([0, 2**32 - 5]))
def test_reassembly_matches_aiortcs(sizes: list[int], data: st.DataObject, base: int) -> None:
    unordered = data.draw(st.lists(st.booleans(), min_size=len(sizes), max_size=len(sizes)))
    chunks = _chunks(sizes, unordered, base)
    # mostly in order (the common case the fast path is for), sometimes shuffled
    order = data.draw(st.permutations(chunks)) if data.draw(st.booleans()) else chunks
    theirs, ours = aio_sctp.InboundStream(), FastInboundStream()
    for chunk in order:
        theirs.add_chunk(chunk)
        ours.add_chunk(chunk)
        assert list(ours.pop_messages()) == list(theirs.pop_messages())
        assert [c.tsn for c in ours.reassembly] == [c.tsn for c in theirs.reassembly]
    assert ours.sequence_number == theirs.sequence_number


def test_pruning_ends_the_shortcut() -> None:
    stream = FastInboundStream()
    first, middle, _last = _chunks([3], [False], 10)
    stream.add_chunk(first)
    stream.add_chunk(middle)  # appended, not last: the next pop is skipped...
    assert stream.prune_chunks(9) == 0
    assert list(stream.pop_messages()) == []  # ...unless something else changed the buffer
    assert len(stream.reassembly) == 2


# ---- delayed SACKs and the transmit shortcut, on a transport with a fake DTLS below ----


class FakeDtls:
    state = "connected"

    def __init__(self) -> None:
        self.packets: list[list[Any]] = []

    async def _send_data(self, data: bytes) -> None:
        self.packets.append(aio_sctp.parse_packet(data)[3])

    def sent(self, kind: type) -> list[Any]:
        return [c for chunks in self.packets for c in chunks if isinstance(c, kind)]


async def _transport() -> tuple[ReactorSctpTransport, FakeDtls]:
    dtls = FakeDtls()
    transport = RTCSctpTransport(dtls)  # type: ignore[arg-type]
    assert adopt(transport) and isinstance(transport, ReactorSctpTransport)
    transport._association_state = transport.State.ESTABLISHED
    transport._remote_port = 5000
    transport._last_received_tsn = 99
    return transport, dtls


def _data(tsn: int, flags: int = FIRST | LAST) -> Any:
    chunk = aio_sctp.DataChunk(flags=flags)
    chunk.tsn, chunk.stream_id, chunk.stream_seq, chunk.user_data = tsn, 1, tsn - 100, b"x"
    return chunk


async def _arrive(transport: ReactorSctpTransport, chunk: Any) -> None:
    """What aiortc's _handle_data does with a packet holding ``chunk``."""
    await transport._receive_chunk(chunk)
    if transport._sack_needed:
        await transport._send_sack()


@pytest.mark.anyio
async def test_a_sack_for_every_second_packet_or_after_the_timer() -> None:
    transport, dtls = await _transport()
    await _arrive(transport, _data(100))
    assert dtls.sent(aio_sctp.SackChunk) == []  # the first waits
    await _arrive(transport, _data(101))
    sacks = dtls.sent(aio_sctp.SackChunk)
    assert [s.cumulative_tsn for s in sacks] == [101]  # the second acknowledges both
    await _arrive(transport, _data(102))
    assert len(dtls.sent(aio_sctp.SackChunk)) == 1
    await asyncio.sleep(DELAYED_SACK_TIMEOUT * 3)  # a lone packet waits for the timer only
    assert [s.cumulative_tsn for s in dtls.sent(aio_sctp.SackChunk)] == [101, 102]
    assert transport.sacks_sent == 2 and transport.sacks_delayed == 2


@pytest.mark.anyio
@pytest.mark.parametrize("case", ["gap", "duplicate", "i-bit", "forward-tsn"])
async def test_what_is_acknowledged_at_once(case: str) -> None:
    transport, dtls = await _transport()
    if case == "gap":
        await _arrive(transport, _data(102))  # 100 and 101 missing: report the gap now
        assert dtls.sent(aio_sctp.SackChunk)[-1].gaps == [(3, 3)]  # offsets from 99
    elif case == "duplicate":
        await _arrive(transport, _data(99))  # already received
        assert dtls.sent(aio_sctp.SackChunk)[-1].duplicates == [99]
    elif case == "i-bit":
        await _arrive(transport, _data(100, FIRST | LAST | sctp.SACK_IMMEDIATELY))
    else:
        forward = aio_sctp.ForwardTsnChunk()
        forward.cumulative_tsn, forward.streams = 105, []
        await _arrive(transport, forward)
        assert dtls.sent(aio_sctp.SackChunk)[-1].cumulative_tsn == 105
    assert len(dtls.sent(aio_sctp.SackChunk)) == 1


@pytest.mark.anyio
async def test_the_timer_stops_when_the_association_closes() -> None:
    transport, dtls = await _transport()
    await _arrive(transport, _data(100))
    transport._set_state(transport.State.CLOSED)
    await asyncio.sleep(DELAYED_SACK_TIMEOUT * 3)
    assert dtls.sent(aio_sctp.SackChunk) == []


@pytest.mark.anyio
async def test_fast_retransmit_still_happens() -> None:
    transport, dtls = await _transport()
    transport._cwnd = transport._ssthresh = 100 * aio_sctp.USERDATA_MAX_LENGTH
    await transport._send(1, 51, b"y" * aio_sctp.USERDATA_MAX_LENGTH * 8)
    first = dtls.sent(aio_sctp.DataChunk)[0].tsn
    # the second chunk is lost: three SACKs, each acknowledging one more after it
    for end in (2, 3, 4):
        sack = aio_sctp.SackChunk()
        sack.cumulative_tsn, sack.advertised_rwnd, sack.gaps = first, 1 << 20, [(2, end)]
        await transport._receive_chunk(sack)
    tsns = [c.tsn for c in dtls.sent(aio_sctp.DataChunk)]
    assert tsns.count((first + 1) % 2**32) == 2  # sent, then retransmitted
    assert not transport._may_retransmit  # nothing left marked: the shortcut is back
    assert len(set(tsns)) == 8  # and the rest of the message went out
    transport._t3_cancel()


@pytest.mark.anyio
async def test_t3_expiry_retransmits_everything_outstanding() -> None:
    transport, dtls = await _transport()
    transport._cwnd = 10 * aio_sctp.USERDATA_MAX_LENGTH
    await transport._send(1, 51, b"z" * aio_sctp.USERDATA_MAX_LENGTH * 2)
    sent = [c.tsn for c in dtls.sent(aio_sctp.DataChunk)]
    transport._t3_cancel()
    transport._t3_expired()
    await asyncio.sleep(0)  # aiortc schedules the retransmission as a task
    await asyncio.sleep(0)
    again = [c.tsn for c in dtls.sent(aio_sctp.DataChunk)][len(sent):]
    assert again == sent[:1]  # cwnd is one MTU after a timeout
    transport._t3_cancel()


def test_adopt_leaves_what_it_does_not_know_alone() -> None:
    class Other(RTCSctpTransport):
        pass

    assert not sctp.compatible(object())
    assert not sctp.compatible(Other.__new__(Other))


# ---- end to end: two of our peers, a big message each way -------------------------------


@pytest.mark.anyio
async def test_peers_use_it_and_big_messages_arrive_whole(pair: Pair) -> None:
    for peer in (pair.client, pair.server):
        assert isinstance(peer._pc.sctp, ReactorSctpTransport)
    payload = random.Random(5).randbytes(200_000)
    got: list[str | bytes] = []
    pair.client.on_channel_message = lambda label, message: got.append(message)
    pair.server.on_channel_message = lambda label, message: got.append(message)
    pair.server.send("data", payload)
    pair.client.send("data", payload[::-1])
    await wait_until(lambda: len(got) == 2, within=10)
    assert set(got) == {payload, payload[::-1]}
    packets = len(payload) // aio_sctp.USERDATA_MAX_LENGTH
    for peer in (pair.client, pair.server):
        transport = peer._pc.sctp
        assert isinstance(transport, ReactorSctpTransport)
        # about one SACK per two packets (plus the immediate ones any loss causes)
        assert transport.sacks_sent < packets * 0.75, transport.sacks_sent
