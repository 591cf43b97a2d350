"""Paces the messages a peer hands to aiortc's data channels (issue 21).

aiortc sends each data-channel message as its own SCTP packet and sizes its congestion
window in *bytes*, so thousands of small replies (a client that floods 2,000 commands gets
2,000+ answers) leave as a burst of thousands of UDP datagrams.  A receiver on the same host
whose event loop is busy cannot drain its socket that fast: the kernel drops datagrams, RTP
included, and the video stalls.  Pacing the hand-off (a token bucket in messages) keeps the
burst within what a receiver absorbs; the messages are delayed, never dropped while the
backlog is under :data:`MAX_BACKLOG_BYTES`.  Ordinary traffic (tens of messages a second)
never waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

logger = logging.getLogger(__name__)

#: messages a second handed to aiortc once the burst allowance is spent
DEFAULT_RATE = 400.0
#: messages that go out at once before pacing starts
DEFAULT_BURST = 64
#: a backlog over this many bytes drops further messages (a peer that never drains)
MAX_BACKLOG_BYTES = 8 * 1024 * 1024
#: messages of at least this many bytes need no token: each fills SCTP packets, whose number
#: aiortc's congestion window (counted in bytes) already bounds; the flood the bucket stops
#: is of small messages, one packet each.  (Issue 24: the eleven 64 KiB chunk frames of a
#: stepped 640x360 result were held to 400 a second, 27 ms a step.)  4 KiB is a browser's
#: chunk frame (docs/protocol §6.8.7).
FREE_MESSAGE_BYTES = 4096


def _tokens_for(size: int) -> int:
    return 0 if size >= FREE_MESSAGE_BYTES else 1


#: at close, at most this many of the newest waiting messages still go out: the final ones
#: (a goodbye) matter, thousands of answers to a flood do not and would hold the close up
FLUSH_AT_CLOSE = 64

Deliver = Callable[[str, str | bytes], None]


class ChannelPacer:
    """A token bucket in front of ``deliver(label, message)``; one per peer, FIFO across
    its channels (so a control reply never overtakes the data it follows)."""

    def __init__(self, deliver: Deliver, *, loop: asyncio.AbstractEventLoop,
                 rate: float = DEFAULT_RATE, burst: int = DEFAULT_BURST,
                 clock: Callable[[], float] | None = None) -> None:
        if not (rate > 0 and burst >= 1):
            raise ValueError(f"ChannelPacer: rate must be > 0 and burst >= 1 "
                             f"(got {rate!r}, {burst!r})")
        self._deliver = deliver
        self._loop = loop
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock or loop.time
        self._tokens = float(burst)
        self._stamp = self._clock()
        self._queue: deque[tuple[str, str | bytes, int]] = deque()
        self._queued_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self.delayed = 0
        self.dropped = 0

    @property
    def backlog(self) -> int:
        return len(self._queue)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    def send(self, label: str, message: str | bytes, size: int) -> None:
        """Deliver now if the bucket allows and nothing waits, else queue."""
        self._refill()
        cost = _tokens_for(size)
        if not self._queue and self._tokens >= cost:
            self._tokens -= cost
            self._deliver(label, message)
            return
        if self._queued_bytes + size > MAX_BACKLOG_BYTES:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("data-channel backlog over %d bytes: dropped %d message(s)",
                               MAX_BACKLOG_BYTES, self.dropped)
            return
        self.delayed += 1
        self._queue.append((label, message, size))
        self._queued_bytes += size
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is None and self._queue:
            wait = max(0.0, (1 - self._tokens) / self._rate)
            self._timer = self._loop.call_later(wait, self._drain)

    def _drain(self) -> None:
        self._timer = None
        self._refill()
        while self._queue and self._tokens >= _tokens_for(self._queue[0][2]):
            label, message, size = self._queue.popleft()
            self._queued_bytes -= size
            self._tokens -= _tokens_for(size)
            try:
                self._deliver(label, message)
            except Exception:  # the channel closed meanwhile: the peer is going
                logger.debug("paced %s message not delivered", label, exc_info=True)
        self._schedule()

    def flush(self) -> None:
        """The peer is closing: deliver the newest :data:`FLUSH_AT_CLOSE` waiting messages
        now (in order), drop older ones, then stop."""
        queued = list(self._queue)
        skipped = max(0, len(queued) - FLUSH_AT_CLOSE)
        if skipped:
            self.dropped += skipped
            logger.info("peer closing: %d paced message(s) not sent", skipped)
        self.close()
        for label, message, _ in queued[skipped:]:
            try:
                self._deliver(label, message)
            except Exception:
                logger.debug("paced %s message not delivered at close", label, exc_info=True)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()
        self._queued_bytes = 0
