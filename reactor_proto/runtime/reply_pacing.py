"""When a runtime peer may hand each data-channel message to its SCTP stack.

Why this exists (issue 21): an SCTP stack such as aiortc's sends each data-channel message as
its own packet and sizes its congestion window in *bytes*, so thousands of small replies (a
client that floods 2,000 commands gets 2,000+ answers) leave as a burst of thousands of UDP
datagrams.  A receiver on the same host whose event loop is busy cannot drain its socket
that fast: the kernel drops datagrams, RTP included, and the video stalls.

The policy is a token bucket counted in *messages*:

* a burst of :attr:`PacerConfig.burst` goes out at once, then :attr:`PacerConfig.rate` a
  second; ordinary traffic (tens of messages a second) never waits;
* a message of :attr:`PacerConfig.free_message_bytes` or more needs no token: it fills SCTP
  packets, whose number the byte-counted window already bounds (issue 24: the eleven 64 KiB
  chunk frames of a stepped 640x360 result were held to 400 a second, 27 ms a step).  4 KiB
  is a browser's chunk frame;
* order is kept across a peer's channels (a control reply never overtakes the data it
  follows): once one message waits, every later one waits behind it, whatever its size;
* messages are delayed, never dropped, while the waiting bytes stay within
  :attr:`PacerConfig.max_backlog_bytes` (a peer that never drains): beyond it a message is
  refused and counted;
* at close, only the newest :attr:`PacerConfig.flush_at_close` waiting messages still go
  (a goodbye matters; thousands of answers to a flood would hold the close up).

Pure: every call that depends on time takes ``now`` (seconds, any monotonic origin); the
adapter (:mod:`reactor_anyio.webrtc.pacing`) owns the timer and the delivery.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import Generic, TypeVar

import attrs

from ..checks import above
from ..errors import LocalProtocolError

Item = TypeVar("Item")

#: tokens short of a whole one by less than this count as whole: the refill is floating
#: point, and a timer set for exactly when the token arrives must find it there
_TOKEN_SLACK = 1e-9
#: the shortest wait :meth:`ReplyPacer.wakeup` asks for (1 us: far below any timer's grain)
_MIN_WAKEUP = 1e-6


_positive = above("PacerConfig", 0)
_at_least_one = above("PacerConfig", 1, inclusive=True)
_not_negative = above("PacerConfig", 0, inclusive=True)


@attrs.frozen(kw_only=True)
class PacerConfig:
    #: messages a second handed on once the burst allowance is spent
    rate: float = attrs.field(default=400.0, validator=_positive)
    #: messages that go at once before pacing starts (the bucket's depth)
    burst: int = attrs.field(default=64, validator=_at_least_one)
    #: waiting bytes beyond which further messages are refused
    max_backlog_bytes: int = attrs.field(default=8 * 1024 * 1024, validator=_at_least_one)
    #: messages at least this big need no token (0: every message is free)
    free_message_bytes: int = attrs.field(default=4096, validator=_not_negative)
    #: newest waiting messages still handed on when the peer closes
    flush_at_close: int = attrs.field(default=64, validator=_not_negative)


class Offered(enum.Enum):
    """What :meth:`ReplyPacer.offer` decided for one message."""

    SEND_NOW = "send_now"   # hand it on now
    QUEUED = "queued"       # it waits: ask :meth:`ReplyPacer.wakeup` when to call :meth:`due`
    REFUSED = "refused"     # the backlog is full: it is not sent (counted in ``dropped``)


class ReplyPacer(Generic[Item]):
    """The token bucket for one peer.  ``Item`` is whatever the adapter needs to deliver a
    message later (label and payload); the pacer only keeps it in order."""

    def __init__(self, config: PacerConfig | None = None, *, now: float) -> None:
        self.config = config or PacerConfig()
        self._tokens = float(self.config.burst)
        self._stamp = now
        self._queue: deque[tuple[Item, int]] = deque()
        self._queued_bytes = 0
        #: messages that had to wait, and messages never sent (refused or cut at close)
        self.delayed = 0
        self.dropped = 0

    @property
    def backlog(self) -> int:
        return len(self._queue)

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def tokens_for(self, size: int) -> int:
        """What a message of ``size`` bytes costs: one token, or none when it is big."""
        return 0 if size >= self.config.free_message_bytes else 1

    def _refill(self, now: float) -> None:
        # a clock that steps back (it should not) refills nothing rather than draining
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(float(self.config.burst), self._tokens + elapsed * self.config.rate)
        self._stamp = max(self._stamp, now)

    def offer(self, item: Item, size: int, now: float) -> Offered:
        """A message of ``size`` bytes wants to go: now, later (kept), or never."""
        if size < 0:
            raise LocalProtocolError(f"ReplyPacer.offer: size must be >= 0, got {size!r}")
        self._refill(now)
        cost = self.tokens_for(size)
        if not self._queue and self._tokens + _TOKEN_SLACK >= cost:
            self._tokens = max(0.0, self._tokens - cost)
            return Offered.SEND_NOW
        if self._queued_bytes + size > self.config.max_backlog_bytes:
            self.dropped += 1
            return Offered.REFUSED
        self.delayed += 1
        self._queue.append((item, size))
        self._queued_bytes += size
        return Offered.QUEUED

    def due(self, now: float) -> list[Item]:
        """The waiting messages that may go now, oldest first (removed from the queue)."""
        self._refill(now)
        ready: list[Item] = []
        while self._queue:
            item, size = self._queue[0]
            cost = self.tokens_for(size)
            if self._tokens + _TOKEN_SLACK < cost:
                break
            self._queue.popleft()
            self._queued_bytes -= size
            self._tokens = max(0.0, self._tokens - cost)
            ready.append(item)
        return ready

    def wakeup(self, now: float) -> float | None:
        """Seconds from ``now`` until the oldest waiting message may go (None: nothing
        waits)."""
        if not self._queue:
            return None
        self._refill(now)
        missing = self.tokens_for(self._queue[0][1]) - self._tokens - _TOKEN_SLACK
        if missing <= 0:
            return 0.0
        # never a wait too short to move a float clock: the token must be there after it
        return max(missing / self.config.rate, _MIN_WAKEUP)

    def at_close(self) -> list[Item]:
        """The peer is closing: the newest :attr:`PacerConfig.flush_at_close` waiting
        messages, in order; older ones are dropped (counted).  The pacer is empty after."""
        queued = [item for item, _ in self._queue]
        skipped = max(0, len(queued) - self.config.flush_at_close)
        self.dropped += skipped
        self.clear()
        return queued[skipped:]

    def clear(self) -> None:
        """Forget every waiting message (they are not counted as dropped)."""
        self._queue.clear()
        self._queued_bytes = 0
