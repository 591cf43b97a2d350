"""Paces the messages a runtime peer hands to aiortc's data channels (issue 21).

The policy (a token bucket in messages, big messages free, order kept, a bounded backlog, a
short flush at close) is :mod:`reactor_proto.runtime.reply_pacing`'s, where it is
property-tested; this adapter owns the event-loop timer that drains the queue and the
delivery to aiortc.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from reactor_proto.runtime.reply_pacing import Offered, PacerConfig, ReplyPacer

logger = logging.getLogger(__name__)

Deliver = Callable[[str, str | bytes], None]


class ChannelPacer:
    """A :class:`~reactor_proto.runtime.reply_pacing.ReplyPacer` in front of
    ``deliver(label, message)``; one per peer, FIFO across its channels."""

    def __init__(self, deliver: Deliver, *, loop: asyncio.AbstractEventLoop,
                 config: PacerConfig | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self._deliver = deliver
        self._loop = loop
        self._clock = clock or loop.time
        self._policy: ReplyPacer[tuple[str, str | bytes]] = ReplyPacer(
            config, now=self._clock())
        self._timer: asyncio.TimerHandle | None = None

    @property
    def config(self) -> PacerConfig:
        return self._policy.config

    @property
    def backlog(self) -> int:
        return self._policy.backlog

    @property
    def delayed(self) -> int:
        return self._policy.delayed

    @property
    def dropped(self) -> int:
        return self._policy.dropped

    def send(self, label: str, message: str | bytes, size: int) -> None:
        """Deliver now if the policy allows (a delivery error then reaches the caller),
        else queue, or drop with a warning when the backlog is full."""
        offered = self._policy.offer((label, message), size, self._clock())
        if offered is Offered.SEND_NOW:
            self._deliver(label, message)
        elif offered is Offered.QUEUED:
            self._schedule()
        else:
            dropped = self._policy.dropped
            if dropped == 1 or dropped % 1000 == 0:
                logger.warning("data-channel backlog over %d bytes: dropped %d message(s)",
                               self.config.max_backlog_bytes, dropped)

    def _schedule(self) -> None:
        if self._timer is not None:
            return
        wait = self._policy.wakeup(self._clock())
        if wait is not None:
            self._timer = self._loop.call_later(wait, self._drain)

    def _drain(self) -> None:
        self._timer = None
        for label, message in self._policy.due(self._clock()):
            self._deliver_quietly(label, message)
        self._schedule()

    def _deliver_quietly(self, label: str, message: str | bytes) -> None:
        try:
            self._deliver(label, message)
        except Exception:  # the channel closed meanwhile: the peer is going
            logger.debug("paced %s message not delivered", label, exc_info=True)

    def flush(self) -> None:
        """The peer is closing: deliver what the policy keeps of the waiting messages now
        (in order), drop the rest, then stop."""
        before = self._policy.dropped
        keep = self._policy.at_close()
        if self._policy.dropped > before:
            logger.info("peer closing: %d paced message(s) not sent",
                        self._policy.dropped - before)
        self.close()
        for label, message in keep:
            self._deliver_quietly(label, message)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._policy.clear()
