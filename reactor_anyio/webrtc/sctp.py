"""aiortc's SCTP association with its per-packet costs taken out (issue 24).

A stepped session moves big messages: one 640x360 RGB result is 675 KiB, which aiortc's SCTP
sends as ~600 DATA chunks, one per packet.  Profiles of a step on both of our ends showed
three costs that grow with the number of packets *in flight or in reassembly*, not with the
bytes, so a big message costs O(n^2) in pure Python:

* **Receiver, reassembly.**  ``InboundStream.pop_messages`` walks the whole reassembly
  buffer from its first fragment after *every* DATA chunk, looking for a complete message.
  A fragment appended after all others that is not a message's last fragment cannot
  complete anything, so :class:`FastInboundStream` skips the walk for it.
* **Receiver, one SACK per packet.**  aiortc acknowledges every packet at once: each SACK
  is another DTLS record to encrypt and send here, and to decrypt, parse and process on the
  sender.  RFC 9260 §6.2 (as RFC 4960 before it) asks for a SACK for at least every second
  packet carrying DATA and within 200 ms of an unacknowledged one, and at once for
  out-of-order or duplicate DATA (§6.7) or a chunk with the I bit (RFC 7053).
  :class:`ReactorSctpTransport` does exactly that, with a :data:`DELAYED_SACK_TIMEOUT`
  timer far below the 200 ms bound (libwebrtc's receiver delays the same way).
* **Sender, retransmission scan.**  ``_transmit`` runs after every SACK and first walks the
  whole sent queue looking for chunks marked for retransmission.  Chunks are only ever
  marked by a SACK with gap reports or by the T3 timer, so the walk is done only after one
  of those; otherwise only the new-data part of aiortc's ``_transmit`` runs.

Between two of our own peers on loopback the packets themselves get bigger: when both
descriptions declare it and the selected ICE pair is local (``reactor_proto.sctp_packets``,
docs/protocol §6.9), :meth:`ReactorSctpTransport.start` switches the transport to DATA
chunks of up to one DTLS record (~16 KiB, 13 times fewer packets), with aiortc's congestion
control counted in those packets (``sctp_jumbo.py``), a window fixed at what the receiver's
UDP socket holds and no burst limit (``send_window``), and one SACK per eight packets
(``sack_every``).  With any other peer nothing changes.

The wire behaviour stays the RFC's (the same chunks, congestion control and timers as
aiortc; only fewer SACKs, within what the RFC allows), so it interoperates with any peer:
our own client and runtime, browsers, and the unmodified libwebrtc of reactor-sdk 1.13.0
(tests/interop/test_sdk113_stepped.py).  The subclass relies on aiortc private attributes;
:func:`compatible` checks them, and a peer built on an aiortc without them keeps aiortc's
own transport.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from aiortc import RTCSctpTransport
from aiortc import rtcsctptransport as _sctp
from aiortc.utils import uint16_add as _uint16_add
from aiortc.utils import uint32_gt as _uint32_gt

from reactor_proto import sack_coalescing as coalescing
from reactor_proto import sctp_packets as packets

from . import datagrams
from . import sctp_jumbo as jumbo
from .connection import PeerConnection
from .sctp_coalesce import SackCoalescing

logger = logging.getLogger(__name__)

#: how long a lone unacknowledged DATA packet waits for a second one before its SACK goes
#: out (RFC 9260 §6.2: at most 200 ms; short, so the sender's RTT samples stay honest)
DELAYED_SACK_TIMEOUT = 0.02
#: DATA packets received before a SACK is due with the usual packets (RFC 9260 §6.2: at
#: least every second packet); big packets between our peers: reactor_proto.sctp_packets
SACK_EVERY = packets.SACK_EVERY
#: the I bit of a DATA chunk: the sender asks for a SACK without delay (RFC 7053)
SACK_IMMEDIATELY = 0x08

_LAST_FRAGMENT = _sctp.SCTP_DATA_LAST_FRAG
_tsn_plus_one = _sctp.tsn_plus_one

#: the aiortc internals the subclass reads or overrides
_EXPECTED = ("_sent_queue", "_outbound_queue", "_flight_size", "_cwnd", "_t3_handle",
             "_sack_misordered", "_sack_duplicates", "_sack_needed", "_last_received_tsn",
             "_inbound_streams", "_fast_recovery_exit", "_forward_tsn_chunk")
_METHODS = ("_transmit", "_send_sack", "_receive_data_chunk", "_receive_sack_chunk",
            "_t3_expired", "_t3_start", "_send_chunk", "_flight_size_increase",
            "_mark_received", "_get_inbound_stream", "_handle_data")


class FastInboundStream(_sctp.InboundStream):
    """aiortc's reassembly, without the walk that cannot find anything."""

    def __init__(self) -> None:
        super().__init__()
        self._nothing_to_pop = False

    def add_chunk(self, chunk: Any) -> None:
        appended = not self.reassembly or _uint32_gt(chunk.tsn, self.reassembly[-1].tsn)
        super().add_chunk(chunk)
        # Appended after every fragment held and not a last fragment: every message it
        # belongs to still misses its last fragment, and the rest is as the previous walk
        # (run right after the previous chunk) left it.
        self._nothing_to_pop = appended and not chunk.flags & _LAST_FRAGMENT

    def pop_messages(self) -> Iterator[tuple[int, int, bytes]]:
        if self._nothing_to_pop:  # one-shot: aiortc pops right after each add_chunk
            self._nothing_to_pop = False
            return iter(())
        return super().pop_messages()

    def prune_chunks(self, tsn: int) -> int:
        self._nothing_to_pop = False
        return int(super().prune_chunks(tsn))


class ReactorSctpTransport(RTCSctpTransport, SackCoalescing):
    """``RTCSctpTransport`` with delayed SACKs, cheap reassembly and a cheap ``_transmit``.

    Made by :func:`adopt` from the transport aiortc's peer connection creates (aiortc builds
    it in a private method, so the class is switched right after, before it starts)."""

    def _init_fast_paths(self) -> None:
        self._data_since_sack = 0
        self._sack_now = False
        self._sack_timer: asyncio.TimerHandle | None = None
        self._may_retransmit = False
        self.sacks_sent = 0
        self.sacks_delayed = 0
        self._packet_limits: tuple[int | None, int | None] = (None, None)
        #: the largest SCTP packet this transport sends (issue 24: big between our peers
        #: on loopback, see sctp_jumbo.py); the usual size until start() decides
        self.packet_size = packets.DEFAULT_PACKET_SIZE
        self._chunk_data = _sctp.USERDATA_MAX_LENGTH
        self._scaled: Any = None
        #: how DATA is paced (reactor_proto.sctp_packets.send_window): aiortc's numbers
        #: for the usual packets, a fixed window without burst limit for big ones
        self._window = packets.send_window(self.packet_size)
        self._sack_every = packets.sack_every(self.packet_size)
        self._holding = False  # _transmit waits while a flush queues several messages
        self._flush_tail: Any = None  # the last chunk queued before, during such a flush
        #: several packets of one transmission leave together (datagrams.py); made on
        #: first use, False when the DTLS transport below is not aiortc's
        self._batcher: datagrams.DatagramBatcher | bool | None = None
        self._init_coalescing()  # SACKs that arrive together: one transmission (coalesce)

    # ---- packet size: decided by reactor_proto.sctp_packets when the association starts --

    def set_packet_limits(self, ours: int | None, theirs: int | None) -> None:
        """The packet sizes both descriptions declared (None: no declaration)."""
        self._packet_limits = (ours, theirs)

    async def start(self, remoteCaps: Any, remotePort: int) -> None:
        if self.state == "new":  # DTLS is up and the ICE pair selected: decide now
            self._apply_packet_limits()
            datagrams.drain_reads(self.transport)  # waiting SACKs reach us together
        await super().start(remoteCaps, remotePort)

    def _apply_packet_limits(self) -> None:
        ours, theirs = self._packet_limits
        if packets.receive_limit(ours) == packets.DEFAULT_PACKET_SIZE:
            return
        # Receive big records as soon as we declared, whatever the path and the peer's
        # description say: the peer's decision to send them must never outrun ours to read.
        if not jumbo.accept_large_records(self.transport) or not jumbo.can_scale():
            logger.debug("big SCTP packets declared but aiortc is not as expected")
            return
        size = packets.send_packet_size(ours, theirs, jumbo.selected_pair(self.transport))
        if size == packets.DEFAULT_PACKET_SIZE:
            return
        self.packet_size = size
        self._chunk_data = packets.user_data_per_chunk(size)
        self._scaled = jumbo.scaled_methods(self._chunk_data)
        self._window = packets.send_window(size)
        self._sack_every = packets.sack_every(size)
        self._cwnd = self._window.initial

    # ---- receiving: reassembly and delayed SACK ----------------------------------------

    def _get_inbound_stream(self, stream_id: int) -> Any:
        stream = self._inbound_streams.get(stream_id)
        if stream is None:
            stream = self._inbound_streams[stream_id] = FastInboundStream()
        return stream

    def _mark_received(self, tsn: int) -> bool:
        last = self._last_received_tsn
        if (last is not None and tsn == _tsn_plus_one(last) and not self._sack_misordered
                and not self._sack_duplicates):
            self._last_received_tsn = tsn  # in order, nothing pending: aiortc's outcome
            return False
        return bool(super()._mark_received(tsn))

    async def _receive_data_chunk(self, chunk: Any) -> None:
        self._data_since_sack += 1
        if chunk.flags & SACK_IMMEDIATELY:
            self._sack_now = True
        await super()._receive_data_chunk(chunk)

    async def _receive_forward_tsn_chunk(self, chunk: Any) -> None:
        self._sack_now = True  # answered at once, as aiortc always did: it moves the ack point
        await super()._receive_forward_tsn_chunk(chunk)

    async def _send_sack(self) -> None:
        """Called by aiortc after each packet that made a SACK due: send it now, or let it
        wait for a second DATA packet or the timer."""
        due_now = (self._sack_now or self._data_since_sack >= self._sack_every
                   or self._sack_misordered or self._sack_duplicates
                   or self._association_state != self.State.ESTABLISHED)
        if not due_now:
            self.sacks_delayed += 1
            if self._sack_timer is None:
                self._sack_timer = asyncio.get_running_loop().call_later(
                    DELAYED_SACK_TIMEOUT, self._sack_timer_expired)
            return
        self._cancel_sack_timer()
        self._data_since_sack = 0
        self._sack_now = False
        self.sacks_sent += 1
        await super()._send_sack()

    def _sack_timer_expired(self) -> None:
        self._sack_timer = None
        if self._sack_needed and self._association_state == self.State.ESTABLISHED:
            self._sack_now = True
            task = asyncio.ensure_future(self._send_sack())
            task.add_done_callback(_log_failure)

    def _cancel_sack_timer(self) -> None:
        if self._sack_timer is not None:
            self._sack_timer.cancel()
            self._sack_timer = None

    def _set_state(self, state: Any) -> None:
        if state == self.State.CLOSED:
            self._cancel_sack_timer()
        super()._set_state(state)

    # ---- sending: retransmission scan only when something may need it -----------------

    async def _receive_sack_chunk(self, chunk: Any) -> None:
        if chunk.gaps:  # gap reports are what strikes chunks for fast retransmit
            self._may_retransmit = True
        self._deferring = coalescing.may_defer(
            waiting=self._datagrams_waiting(), gaps=bool(chunk.gaps),
            fast_recovery=self._fast_recovery_exit is not None)
        try:
            if self._scaled is not None:
                await self._scaled["_receive_sack_chunk"](self, chunk)
            else:
                await super()._receive_sack_chunk(chunk)
        finally:
            self._deferring = False
        self._clamp_window()

    def _t3_expired(self) -> None:
        self._may_retransmit = True  # every outstanding chunk gets marked
        if self._scaled is not None:
            self._scaled["_t3_expired"](self)
        else:
            super()._t3_expired()
        self._clamp_window()

    def _clamp_window(self) -> None:
        """Keep the window within the core's limit (big packets only; aiortc's own window
        is unbounded).  aiortc grows it while handling a SACK and sends at the end of that,
        through :meth:`_transmit`, which clamps first."""
        limit = self._window.limit
        if limit is not None and self._cwnd > limit:
            self._cwnd = limit

    async def _send(self, stream_id: int, pp_id: int, user_data: bytes,
                    expiry: float | None = None, max_retransmits: int | None = None,
                    ordered: bool = True) -> None:
        if self._window.bundle:  # big packets, the first fragment filling a tail's packet
            self._fragment(stream_id, pp_id, user_data, expiry, max_retransmits, ordered)
            await self._transmit()
        elif self._scaled is not None:  # fragments of up to one big packet
            await self._scaled["_send"](self, stream_id, pp_id, user_data, expiry,
                                        max_retransmits, ordered)
        else:
            await super()._send(stream_id, pp_id, user_data, expiry, max_retransmits, ordered)

    def _fragment(self, stream_id: int, pp_id: int, user_data: bytes, expiry: float | None,
                  max_retransmits: int | None, ordered: bool) -> None:
        """aiortc's ``_send`` up to the transmission (the same chunks and bookkeeping), with
        the cut of :func:`reactor_proto.sctp_packets.fragment_sizes`."""
        queue = self._outbound_queue
        last = queue[-1] if queue else self._flush_tail
        first = 0 if last is None else packets.tail_room(self.packet_size, len(last.user_data))
        sizes = packets.fragment_sizes(len(user_data), self._chunk_data, first)
        stream_seq = self._outbound_stream_seq.get(stream_id, 0) if ordered else 0
        pos = 0
        for index, size in enumerate(sizes):
            chunk = _sctp.DataChunk()
            chunk.flags = 0 if ordered else _sctp.SCTP_DATA_UNORDERED
            if index == 0:
                chunk.flags |= _sctp.SCTP_DATA_FIRST_FRAG
            if index == len(sizes) - 1:
                chunk.flags |= _LAST_FRAGMENT
            chunk.tsn, chunk.stream_id, chunk.stream_seq = self._local_tsn, stream_id, stream_seq
            chunk.protocol = pp_id
            chunk.user_data = user_data[pos:pos + size]
            chunk._abandoned = chunk._acked = chunk._in_flight = chunk._retransmit = False
            chunk._book_size = size
            chunk._expiry, chunk._max_retransmits = expiry, max_retransmits
            chunk._misses = chunk._sent_count = 0
            chunk._sent_time = None
            pos += size
            self._local_tsn = _tsn_plus_one(self._local_tsn)
            queue.append(chunk)
        if ordered:
            self._outbound_stream_seq[stream_id] = _uint16_add(stream_seq, 1)

    async def _data_channel_flush(self) -> None:
        """aiortc's flush, which fragments the next queued message only once everything
        before it was sent; when bundling (big packets), every queued message is fragmented
        first and sent after, so that a message's 112-byte tail shares a packet with the
        next message's head."""
        if (not self._window.bundle or self._holding
                or self._association_state != self.State.ESTABLISHED):
            await super()._data_channel_flush()
            return
        queued = self._outbound_queue
        self._holding = True
        try:
            while self._data_channel_queue:
                left = len(self._data_channel_queue)
                self._flush_tail = queued[-1] if queued else None  # for _fragment
                self._outbound_queue = deque()  # aiortc's loop then takes one message
                try:
                    await super()._data_channel_flush()
                finally:
                    queued.extend(self._outbound_queue)
                    self._outbound_queue = queued
                if len(self._data_channel_queue) == left:
                    break
        finally:
            self._holding = False
            self._flush_tail = None
        await self._transmit()

    async def _transmit(self) -> None:
        if self._holding:
            return
        self._clamp_window()
        if self._may_retransmit or self._forward_tsn_chunk is not None:
            if self._scaled is not None:
                await self._scaled["_transmit"](self)
            else:
                await super()._transmit()
            self._may_retransmit = any(chunk._retransmit for chunk in self._sent_queue)
            self._owed = coalescing.NOTHING_OWED  # aiortc's rule decides, from here
            return
        # No chunk is marked for retransmission: what is left of aiortc's _transmit is
        # sending new data within the burst limit and the congestion window (counted in
        # chunks by sack_coalescing.owe, with what earlier SACKs of this turn owed).
        fast = self._fast_recovery_exit is not None
        count = self._chunks_to_send(2 * self._chunk_data if fast else self._window.burst,
                                     deferrable=not fast)
        if count is None:
            return  # owed: a SACK behind this one sends it
        room = self.packet_size - packets.COMMON_HEADER if self._window.bundle else 0
        out: list[bytes] = []  # this transmission's packets, sent together at the end
        while self._outbound_queue and count:
            bundle: list[Any] = []
            size = 0
            while self._outbound_queue and count:
                chunk = self._outbound_queue[0]
                length = packets.chunk_length(len(chunk.user_data))
                if bundle and size + length > room:
                    break
                self._outbound_queue.popleft()
                self._sent_queue.append(chunk)
                self._flight_size_increase(chunk)
                chunk._sent_count += 1
                chunk._sent_time = time.time()
                bundle.append(chunk)
                size += length
                count -= 1
            # several DATA chunks in one packet (RFC 9260 §6.10) are serialized as one is
            packed: Any = bundle[0] if len(bundle) == 1 else _Bundle(bundle)
            out.append(_sctp.serialize_packet(
                self._local_port, self._remote_port or 0, self._remote_verification_tag,
                packed))
        if out:
            await self._send_packets(out)
            if not self._t3_handle:
                self._t3_start()

    async def _send_packets(self, out: list[bytes]) -> None:
        """The packets of one transmission: together through :mod:`.datagrams` (one
        segmented send per run of equal DTLS records) when below us is aiortc's DTLS,
        else one by one as aiortc sends them."""
        if len(out) > 1:
            if self._batcher is None:
                self._batcher = datagrams.DatagramBatcher.for_transport(self.transport) or False
            if isinstance(self._batcher, datagrams.DatagramBatcher):
                await self._batcher.send(out)
                return
        for packet in out:
            await self.transport._send_data(packet)


class _Bundle:
    """Chunks serialized back to back, as ``serialize_packet`` serializes one chunk."""

    def __init__(self, chunks: list[Any]) -> None:
        self.chunks = chunks

    def __bytes__(self) -> bytes:
        return b"".join(bytes(chunk) for chunk in self.chunks)


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.debug("delayed SACK not sent", exc_info=task.exception())


def set_packet_limits(transport: object, ours: int | None, theirs: int | None) -> None:
    """Tell our SCTP transport (when it is ours) what both descriptions declared."""
    if isinstance(transport, ReactorSctpTransport):
        transport.set_packet_limits(ours, theirs)


def compatible(transport: object) -> bool:
    """True when ``transport`` is aiortc's own SCTP transport with the internals the
    subclass relies on (checked per transport: aiortc is pinned only from below)."""
    return (type(transport) is RTCSctpTransport
            and all(hasattr(transport, name) for name in _EXPECTED)
            and all(callable(getattr(RTCSctpTransport, name, None)) for name in _METHODS)
            and hasattr(_sctp, "InboundStream"))


def adopt(transport: Any) -> bool:
    """Turn aiortc's freshly made ``RTCSctpTransport`` into a :class:`ReactorSctpTransport`
    (before it starts); False, and nothing changed, when aiortc is not as expected."""
    if not compatible(transport) or transport.state != "new":
        return False
    transport.__class__ = ReactorSctpTransport
    transport._init_fast_paths()
    return True


class SctpTunedPeerConnection(PeerConnection):
    """Our :class:`PeerConnection` whose SCTP transport is a :class:`ReactorSctpTransport`."""

    # aiortc creates the transport in ``self.__createSctpTransport()``; see connection.py
    # for why the mangled name is the one to override.
    def _RTCPeerConnection__createSctpTransport(self) -> None:
        super()._RTCPeerConnection__createSctpTransport()  # type: ignore[misc]
        if not adopt(self.sctp):
            logger.debug("aiortc's SCTP transport kept: its internals are not as expected")
