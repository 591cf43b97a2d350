"""When a process gives back memory it no longer uses: the schedule its adapter follows.

Two occasions call for it (issue 21, measured by ``python -m bench --only soak``):

* **A session ended.**  aiortc's objects of one session (its peer connection, the DTLS
  context, the SRTP sessions, the bitrate estimator's buckets) form reference cycles, so they
  are freed only when the cycle collector next runs a full collection; meanwhile about
  500 KiB of native memory per session stays allocated, the heap grows to hold the next
  sessions beside it, and freed chunks left between live ones are never returned.  So
  ``after_close`` seconds after a session closed (its transports finish closing in the
  background), a collection and then a trim.  The collection is of the younger
  generations (about a millisecond): a short session's cycles are young when it ends.  A
  session that lived long enough for its objects to reach the oldest generation needs a full
  collection (tens of milliseconds), so one runs when the last was ``full_every`` seconds
  ago or more: every session end of long sessions, once a minute under rapid churn.
* **Frames are flowing.**  Every frame allocates and frees buffers of hundreds of KiB;
  glibc keeps freed chunks, so a trim every ``streaming_interval`` seconds.

Two reclaims closer than ``min_interval`` seconds are one (many sessions closing at once,
a per-frame caller asking on every frame).  The schedule is pure: the adapter reports
events with ``now`` and performs the :class:`Reclaim` that :meth:`ReclaimSchedule.poll`
returns; :meth:`ReclaimSchedule.next_due` says when to ask again.  Its state is three
numbers, whatever the number of sessions.
"""

from __future__ import annotations

import math

import attrs

from .checks import above
from .errors import LocalProtocolError

#: why a reclaim is due
SESSION_CLOSED = "session-closed"
STREAMING = "streaming"


_non_negative = above("ReclaimPolicy", 0, inclusive=True)
_positive = above("ReclaimPolicy", 0)  # 0 would trim on every frame
_positive_or_inf = above("ReclaimPolicy", 0, finite=False)  # inf: never


def _generation(_instance: object, _attribute: object, value: int | None) -> None:
    if value is not None and value not in (0, 1, 2):
        raise LocalProtocolError(f"collect must be a generation 0 to 2 or None, got {value!r}")


@attrs.frozen(kw_only=True)
class ReclaimPolicy:
    """How often memory is given back.  ``enabled=False`` never reclaims; ``collect`` is the
    generation the cycle collector runs before a session's trim (0 to 2; None: no
    collection, the trim alone), and a full one (2) when the last was ``full_every`` seconds
    ago or more (``math.inf``: never)."""

    enabled: bool = True
    collect: int | None = attrs.field(default=1, validator=_generation)
    full_every: float = attrs.field(default=60.0, validator=_positive_or_inf)
    after_close: float = attrs.field(default=2.0, validator=_non_negative)
    min_interval: float = attrs.field(default=1.0, validator=_non_negative)
    streaming_interval: float = attrs.field(default=30.0, validator=_positive)


#: the policy of ``reactor serve`` and, unless configured otherwise, of the client
DEFAULT_POLICY = ReclaimPolicy()


@attrs.frozen(kw_only=True)
class Reclaim:
    """Give memory back now: a collection of generation ``collect`` first (unless None),
    then a trim."""

    collect: int | None
    reason: str


class ReclaimSchedule:
    """Decides when to reclaim.  Not thread-safe: the adapter serialises its calls."""

    def __init__(self, policy: ReclaimPolicy = DEFAULT_POLICY) -> None:
        self.policy = policy
        self._last = -math.inf
        self._last_full = -math.inf
        #: the earliest and the latest due time of closed sessions not yet reclaimed for
        self._first_due: float | None = None
        self._last_due: float | None = None

    @property
    def pending(self) -> bool:
        """A closed session still waits for its reclaim."""
        return self._first_due is not None

    def session_closed(self, now: float) -> None:
        """A session has closed at ``now``."""
        if not self.policy.enabled:
            return
        due = now + self.policy.after_close
        if self._first_due is None:
            self._first_due = due
        self._last_due = due if self._last_due is None else max(self._last_due, due)

    def next_due(self, *, streaming: bool = False) -> float | None:
        """The earliest time :meth:`poll` may return a reclaim; None when nothing is due
        (no closed session waiting, no frames flowing)."""
        if not self.policy.enabled:
            return None
        candidates = []
        if self._first_due is not None:
            candidates.append(self._first_due)
        if streaming:
            candidates.append(self._last + self.policy.streaming_interval)
        if not candidates:
            return None
        return max(min(candidates), self._last + self.policy.min_interval)

    def poll(self, now: float, *, streaming: bool = False, sessions: bool = True
             ) -> Reclaim | None:
        """The reclaim to perform at ``now`` (and recorded as done), or None.  A caller that
        cannot run the collector (a thread other than the sessions' event loop) passes
        ``sessions=False`` and gets only the streaming trims."""
        # the same sums as next_due's: a poll at the time it named must find the reclaim
        if not self.policy.enabled or now < self._last + self.policy.min_interval:
            return None
        if sessions and self._first_due is not None and now >= self._first_due:
            self._last = now
            # sessions that closed too recently to be garbage yet get one more, later
            last_due = self._last_due
            later = last_due if last_due is not None and last_due > now else None
            self._first_due = self._last_due = later
            return Reclaim(collect=self._generation(now), reason=SESSION_CLOSED)
        if streaming and now >= self._last + self.policy.streaming_interval:
            self._last = now
            return Reclaim(collect=None, reason=STREAMING)
        return None

    def _generation(self, now: float) -> int | None:
        """The collection a session reclaim at ``now`` runs (and a full one noted)."""
        collect = self.policy.collect
        if collect is None:
            return None
        if collect == 2 or now >= self._last_full + self.policy.full_every:
            self._last_full = now
            return 2
        return collect
