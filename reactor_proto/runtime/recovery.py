"""When an outgoing video stream must be resynchronised after loss it could not repair.

Why this exists (issue 21): a burst of data-channel traffic can overflow the UDP receive
buffers on loopback, so RTP packets, the receiver's NACKs and our retransmissions are lost
together.  A receiver built on aiortc holds every later frame behind the first packet it never
gets (its jitter buffer waits until 512 newer packets have arrived, 8 to 20 s at the encoder's
floor bitrate) and asks only once for each gap, so the picture freezes long after the burst.

The sender cannot see the receiver's jitter buffer; it sees what the receiver reports.  This
policy turns those reports into one decision, *resync*: the adapter then forces a key frame
and moves the RTP sequence number past the receiver's reorder window, so a receiver waiting
on a hole drops it and decodes from the key frame.

Evidence of loss that retransmission did not (or could not) repair:

* a NACK names a packet no longer in the sender's history, or one already retransmitted
  (the retransmission was lost);
* the receiver has asked for :attr:`RecoveryConfig.spell_packets` packets or more since the
  last resync: a loss spell that large (a burst, congestion) loses retransmissions and
  requests too, and they cannot all be checked in time;
* the receiver reports more packets lost on the media stream (since the last resync) than
  it ever asked us for: its NACK was lost on the way (the adapter subtracts the sequence
  numbers its own resyncs skipped);
* its report on the retransmission stream shows a retransmission lost, or does not confirm
  one within :attr:`RecoveryConfig.repair_timeout` (a receiver that reports nothing on
  that stream costs one resync per loss spell: safe, not free).

A resync waits :attr:`RecoveryConfig.settle` after the latest evidence (so one loss spell
costs one key frame), happens at most :attr:`RecoveryConfig.max_delay` after the first
evidence even while loss continues, and never more often than
:attr:`RecoveryConfig.min_interval`.  Pure: every call takes ``now``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import attrs

from ..checks import above
from ..errors import LocalProtocolError

SEQ_MOD = 1 << 16
#: aiortc's RTCRtpSender keeps the last 128 packets for retransmission (rtp.RTP_HISTORY_SIZE)
DEFAULT_HISTORY = 128
#: aiortc's video jitter buffer holds 512 packets; a jump this large flushes it
DEFAULT_SEQUENCE_JUMP = 512
#: how many retransmitted sequence numbers are remembered to spot a repeated NACK
SERVED_MEMORY = 1024


_positive = above("RecoveryConfig", 0)


@attrs.frozen(kw_only=True)
class RecoveryConfig:
    settle: float = attrs.field(default=0.15, validator=_positive)
    """Quiet time after the latest loss evidence before resyncing (s)."""
    max_delay: float = attrs.field(default=0.5, validator=_positive)
    """Resync at most this long after the first evidence, even while loss continues (s)."""
    min_interval: float = attrs.field(default=0.5, validator=_positive)
    """Never two resyncs closer than this (s): a key frame costs bandwidth."""
    spell_packets: int = attrs.field(default=4, validator=_positive)
    """This many packets asked for since the last resync count as a loss spell: resync."""
    repair_timeout: float = attrs.field(default=0.8, validator=_positive)
    """A retransmission the receiver's reports have not confirmed by then counts as lost
    (receivers report every 0.5 to 1.5 s)."""
    history: int = attrs.field(default=DEFAULT_HISTORY, validator=_positive)
    """Packets the sender can retransmit (the newest ``history`` sequence numbers)."""
    sequence_jump: int = attrs.field(default=DEFAULT_SEQUENCE_JUMP, validator=_positive)
    """How far a resync moves the sequence number (< 32768, or SRTP loses its place)."""

    def __attrs_post_init__(self) -> None:
        if self.sequence_jump >= SEQ_MOD // 2:
            raise LocalProtocolError(
                f"RecoveryConfig.sequence_jump: must be < {SEQ_MOD // 2}, got "
                f"{self.sequence_jump!r}")


def seq_distance(newer: int, older: int) -> int:
    """How many steps ``older`` is behind ``newer`` on the 16-bit sequence circle."""
    return (newer - older) % SEQ_MOD


class RecoveryPolicy:
    """The resync decision of one outgoing video stream (one SSRC)."""

    def __init__(self, config: RecoveryConfig | None = None) -> None:
        self.config = config or RecoveryConfig()
        self._first_evidence: float | None = None
        self._last_evidence = 0.0
        self._last_resync: float | None = None
        self._overdue = False
        self._served: deque[int] = deque(maxlen=SERVED_MEMORY)
        self._served_set: set[int] = set()
        self._nacked: set[int] = set()
        self._lost_base: int | None = None
        self._rtx_lost_total: int | None = None
        self._outstanding: dict[int, float] = {}  # RTX sequence number -> when sent
        self.resyncs = 0
        self.evidence = 0

    # ---- observations -------------------------------------------------------------------

    def _evidence(self, now: float) -> None:
        self.evidence += 1
        if self._first_evidence is None:
            self._first_evidence = now
            self._last_evidence = now
        else:
            self._last_evidence = max(self._last_evidence, now)

    def nack(self, lost: Iterable[int], newest: int, now: float) -> list[int]:
        """A NACK for ``lost`` (original sequence numbers) while ``newest`` is the newest
        packet sent: returns those worth retransmitting; notes what cannot be repaired."""
        serve: list[int] = []
        unrepaired = False
        for seq in lost:
            if len(self._nacked) < SERVED_MEMORY:
                self._nacked.add(seq)
            if seq_distance(newest, seq) >= self.config.history:
                unrepaired = True  # gone from the history (or from the future: bogus)
                continue
            if seq in self._served_set:
                unrepaired = True  # asked again: the retransmission was lost
            else:
                self._remember(seq)
            serve.append(seq)
        if unrepaired or len(self._nacked) >= self.config.spell_packets:
            self._evidence(now)
        return serve

    def _remember(self, seq: int) -> None:
        if len(self._served) == self._served.maxlen:
            self._served_set.discard(self._served[0])
        self._served.append(seq)
        self._served_set.add(seq)

    def retransmitted(self, rtx_seq: int, now: float) -> None:
        """A retransmission went out as RTX packet ``rtx_seq``."""
        if len(self._outstanding) >= SERVED_MEMORY:
            self._evidence(now)  # cannot track them all: assume the worst
            self._outstanding.clear()
        self._outstanding[rtx_seq % SEQ_MOD] = now

    def receiver_report(self, lost_total: int, now: float) -> None:
        """The receiver's cumulative packets lost on the media stream, minus the sequence
        numbers our own resyncs skipped."""
        if self._lost_base is None:
            self._lost_base = lost_total
        elif lost_total - self._lost_base > len(self._nacked):
            self._evidence(now)  # lost more than it asked for: a NACK went missing
            self._lost_base = lost_total - len(self._nacked)

    def rtx_report(self, highest: int, lost_total: int, now: float) -> None:
        """The receiver's report on the retransmission stream: its highest sequence number
        and cumulative loss."""
        previous, self._rtx_lost_total = self._rtx_lost_total, lost_total
        if previous is not None and lost_total > previous:
            self._evidence(now)
            self._outstanding.clear()
            return
        top = highest % SEQ_MOD
        for seq in [s for s in self._outstanding if seq_distance(top, s) < SEQ_MOD // 2]:
            del self._outstanding[seq]

    # ---- the decision -------------------------------------------------------------------

    def due(self, now: float) -> bool:
        """True when the adapter should resync now (then call :meth:`resynced`)."""
        expired = [s for s, sent in self._outstanding.items()
                   if now - sent >= self.config.repair_timeout]
        if expired:
            for seq in expired:
                del self._outstanding[seq]
            self._evidence(now)
            self._overdue = True  # the loss is already old: no further settling
        first = self._first_evidence
        if first is None:
            return False
        if self._last_resync is not None \
                and now - self._last_resync < self.config.min_interval:
            return False
        return (self._overdue or now - self._last_evidence >= self.config.settle
                or now - first >= self.config.max_delay)

    def resynced(self, now: float) -> None:
        """The adapter forced a key frame and skipped the sequence: the receiver starts
        afresh, so earlier requests no longer matter."""
        self.resyncs += 1
        self._last_resync = now
        self._first_evidence = None
        self._overdue = False
        self._served.clear()
        self._served_set.clear()
        self._nacked.clear()
        self._outstanding.clear()
        self._lost_base = None
