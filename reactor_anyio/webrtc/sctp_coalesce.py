"""Several SACKs that arrived together answered with one transmission (issue 24).

The decision is :mod:`reactor_proto.sack_coalescing`; this mixin of
:class:`~reactor_anyio.webrtc.sctp.ReactorSctpTransport` applies it.  The SACKs reach the
transport together because :class:`~reactor_anyio.webrtc.datagrams.DrainingProtocol` reads
every datagram waiting in the socket at once; aiortc's DTLS loop then handles them one
after the other without giving the event loop a turn.  While more are waiting, a SACK's
bookkeeping runs as always but its transmission is only owed; the last one sends what all
of them owed, in one segmented send.  A call scheduled on the event loop pays whatever a
turn left owed (when the datagrams behind the last SACK were not SACKs).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from reactor_proto import sack_coalescing as coalescing

logger = logging.getLogger(__name__)


def _book_sizes(queue: deque[Any], start: int) -> Iterator[int]:
    for index in range(start, len(queue)):
        yield queue[index]._book_size


class SackCoalescing:
    """State and helpers; the transport calls :meth:`_chunks_to_send` from ``_transmit``
    and sets ``_deferring`` around aiortc's SACK handling."""

    _owed: coalescing.Owed
    _deferring: bool
    _payment_due: bool
    _waiting_queue: Any
    transmissions_deferred: int

    def _init_coalescing(self) -> None:
        self._owed = coalescing.NOTHING_OWED
        self._deferring = False
        self._payment_due = False
        self._waiting_queue = None  # aioice's queue of received datagrams, found once
        self.transmissions_deferred = 0  # for tests and benchmarks

    def _datagrams_waiting(self) -> bool:
        """True when more received datagrams wait for aiortc's DTLS loop in this turn."""
        queue = self._waiting_queue
        if queue is None:
            ice = getattr(getattr(self, "transport", None), "transport", None)
            queue = getattr(getattr(ice, "_connection", None), "_queue", None)
            self._waiting_queue = queue if isinstance(queue, asyncio.Queue) else False
            queue = self._waiting_queue
        return bool(queue) and not queue.empty()

    def _chunks_to_send(self, burst: int | None, deferrable: bool) -> int | None:
        """How many chunks from the head of the outbound queue this transmission sends
        (what is owed plus its own share, the core's :func:`owe`), or None when it is
        deferred to the SACKs behind it."""
        owed = coalescing.owe(self._owed, _book_sizes(self._outbound_queue, self._owed.chunks),
                              flight=self._flight_size, cwnd=self._cwnd, burst=burst)
        if self._deferring and deferrable:
            self._owed = owed
            self.transmissions_deferred += 1
            if not self._payment_due:
                self._payment_due = True
                asyncio.get_running_loop().call_soon(self._pay_owed)
            return None
        self._owed = coalescing.NOTHING_OWED
        return owed.chunks

    def _pay_owed(self) -> None:
        self._payment_due = False
        if self._owed.chunks and self._association_state == self.State.ESTABLISHED:
            task = asyncio.ensure_future(self._transmit())
            task.add_done_callback(_log_failure)

    # provided by the transport (RTCSctpTransport comes first in its bases)
    _outbound_queue: deque[Any]
    _flight_size: int
    _cwnd: int
    _association_state: Any
    State: Any
    if TYPE_CHECKING:
        async def _transmit(self) -> None: ...


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.debug("owed transmission not sent", exc_info=task.exception())
