"""Answering several SACKs that arrived together with one transmission.

aiortc handles one received datagram per event-loop turn and transmits after every SACK:
with the usual packets a peer acknowledges every second one, so a 640x360 stepped result
(~600 packets) costs ~300 turns, each a SACK's bookkeeping, a transmission of a few packets
and a timer restart.  When SACKs arrive faster than they are handled they wait in the
socket; the adapter then reads what is waiting at once (at most :data:`DRAIN_MAX`
datagrams, so one turn stays short) and handles each SACK's bookkeeping as before, but
sends only after the last one, what the SACKs handled one by one would have sent in all.

That amount is :func:`owe`: replaying, SACK by SACK, aiortc's rule for new data ("send while
what is in flight is below the smaller of the congestion window and what was in flight
plus the burst limit") over the queued chunks, counting what was owed but not yet sent as
in flight.  The packets then leave together, in one segmented send
(:mod:`reactor_proto.datagram_batches`); the congestion window, the burst limit per SACK
and the order of the chunks are exactly the RFC's and aiortc's.  Retransmissions, fast
recovery and FORWARD TSN are never deferred.  Pure functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import attrs

#: The most datagrams read from the socket in one event-loop turn.
DRAIN_MAX: Final = 32


@attrs.frozen(kw_only=True)
class Owed:
    """New DATA chunks owed to the network: the first ``chunks`` of the outbound queue,
    ``size`` bytes of it (counted as aiortc counts flight size)."""

    chunks: int = 0
    size: int = 0


NOTHING_OWED: Final = Owed()


def owe(owed: Owed, queued: Iterable[int], *, flight: int, cwnd: int,
        burst: int | None) -> Owed:
    """What is owed after one more SACK: ``owed`` plus what aiortc's transmission after
    this SACK would have sent.

    ``queued`` are the flight-size bytes of the outbound queue's chunks from index
    ``owed.chunks`` on (read lazily: only as many as are sent); ``flight`` is the flight
    size after the SACK's bookkeeping (without what is owed), ``cwnd`` the window after it,
    ``burst`` the burst limit (None: none)."""
    in_flight = flight + owed.size
    limit = cwnd if burst is None else min(in_flight + burst, cwnd)
    chunks, size = owed.chunks, owed.size
    for book in queued:
        if in_flight >= limit:
            break
        in_flight += book
        chunks += 1
        size += book
    return Owed(chunks=chunks, size=size)


def may_defer(*, waiting: bool, gaps: bool, fast_recovery: bool) -> bool:
    """Whether the transmission after a SACK may wait for the SACKs behind it: only when
    more datagrams are already waiting to be handled in this turn, and never when the SACK
    reports gaps (it may mark chunks for retransmission) or during fast recovery."""
    return waiting and not gaps and not fast_recovery
