"""The client's side of clips: correlating replies, deadlines, the playlist polling schedule,
and the mapping of every failure to a typed :class:`~reactor_proto.recording.errors.RecordingError`.

:class:`ClipRequests` matches ``clipReady``/``clipFailed`` to requests: by ``request_id`` on
the v1 wire, in order on v0 (which has no id, §10).  v0's weakness (F25: a late reply to a
request that timed out answers the next one) is closed by keeping a *tombstone* per timed-out
request: the next reply that arrives is taken as the late one and dropped, for at most
``late_grace`` seconds.  If the late reply never comes, the tombstone swallows the next
request's reply instead and that request times out too; its timeout then leaves no tombstone
(its reply was already swallowed), so a lost reply costs at most one more request, never a
cascade.  Results are pulled with :meth:`ClipRequests.next_event`.

:class:`PlaylistPoll` is the schedule for ``GET /clips``: on 202 wait ``Retry-After``
clamped to 0.2..2 s, until 60 s past ``max(predicted_ready_at_ms, start)`` (5 tries when
there is no prediction); 404/410 -> ``CLIP_GONE``, other statuses ->
``PLAYLIST_FETCH_FAILED``; chunk failures -> ``CHUNK_FETCH_FAILED``.
"""

from __future__ import annotations

import collections
import math

import attrs

from reactor_proto.errors import LocalProtocolError
from reactor_proto.recording.errors import RecordingError, RecordingErrorCode
from reactor_proto.recording.validate import ClipRangeError, check_duration
from reactor_proto.recording.vocabulary import Clip, ClipFailure, ClipKind

REQUEST_TIMEOUT = 10.0
LATE_GRACE = 30.0
MAX_PENDING = 64
RETRY_MIN = 0.2
RETRY_MAX = 2.0
READY_SLACK_MS = 60_000
RETRIES_WITHOUT_PREDICTION = 5


def failure_error(failure: ClipFailure) -> RecordingError:
    """The typed error for a ``clipFailed`` reason: ``RECORDER_DISABLED`` when the reason
    says so, ``INVALID_DURATION`` for a refused duration, else ``INTERNAL_ERROR``."""
    lowered = failure.reason.lower()
    if "recorder disabled" in lowered:
        code = RecordingErrorCode.RECORDER_DISABLED
    elif "invalid duration" in lowered:
        code = RecordingErrorCode.INVALID_DURATION
    else:
        code = RecordingErrorCode.INTERNAL_ERROR
    return RecordingError(code, failure.reason or "clip failed (no reason given)")


def check_clip_duration(value: object) -> float:
    """The client's check before sending ``requestClip`` (``INVALID_DURATION``)."""
    try:
        return check_duration(value)
    except ClipRangeError as exc:
        raise RecordingError(RecordingErrorCode.INVALID_DURATION, exc.reason,
                             recoverable=False) from None


@attrs.frozen(kw_only=True)
class ClipResolved:
    request_id: str
    clip: Clip


@attrs.frozen(kw_only=True)
class ClipRequestFailed:
    request_id: str
    error: RecordingError


ClipEvent = ClipResolved | ClipRequestFailed


@attrs.frozen(kw_only=True)
class _Pending:
    request_id: str
    kind: ClipKind
    deadline: float
    timeout: float


class ClipRequests:
    """Pending clip/recording requests of one connection and their deadlines."""

    def __init__(self, *, timeout: float = REQUEST_TIMEOUT, late_grace: float = LATE_GRACE,
                 max_pending: int = MAX_PENDING) -> None:
        self.timeout = timeout
        self.late_grace = late_grace
        self.max_pending = max_pending
        self._pending: dict[str, _Pending] = {}
        self._tombstones: collections.deque[float] = collections.deque()
        # requests pending when a tombstone swallowed a reply: that reply may have been theirs
        self._suspect: set[str] = set()
        self._events: collections.deque[ClipEvent] = collections.deque()

    def __len__(self) -> int:
        return len(self._pending)

    def start(self, request_id: str, kind: ClipKind, *, now: float,
              timeout: float | None = None) -> None:
        """A request was sent under ``request_id`` (v0: any unique local id); ``timeout``
        overrides the default deadline for this one request."""
        if request_id in self._pending:
            raise LocalProtocolError(f"request_id: {request_id!r} is already pending")
        if len(self._pending) >= self.max_pending:
            raise LocalProtocolError(f"request_id: more than {self.max_pending} clip requests "
                                     f"pending")
        wait = self.timeout if timeout is None else timeout
        self._pending[request_id] = _Pending(request_id=request_id, kind=kind,
                                             deadline=now + wait, timeout=wait)

    def reply(self, reply: Clip | ClipFailure, *, now: float,
              request_id: str | None = None) -> bool:
        """A ``clipReady``/``clipFailed`` arrived (``request_id`` on v1, None on v0).
        Returns False when it answered nothing (stale, late or unknown) and was dropped."""
        self.handle_timeout(now)
        if request_id is None:
            if self._tombstones:
                self._tombstones.popleft()  # F25: the late answer of a timed-out request
                self._suspect.update(self._pending)
                return False
            if not self._pending:
                return False
            request_id = next(iter(self._pending))
        pending = self._pending.pop(request_id, None)
        self._suspect.discard(request_id)
        if pending is None:
            return False
        if isinstance(reply, Clip):
            self._events.append(ClipResolved(request_id=request_id, clip=reply))
        else:
            self._events.append(ClipRequestFailed(request_id=request_id,
                                                  error=failure_error(reply)))
        return True

    def next_deadline(self) -> float | None:
        times = [p.deadline for p in self._pending.values()]
        if self._tombstones:
            times.append(self._tombstones[0] + self.late_grace)
        return min(times, default=None)

    def handle_timeout(self, now: float) -> None:
        while self._tombstones and self._tombstones[0] + self.late_grace <= now:
            self._tombstones.popleft()
        for pending in [p for p in self._pending.values() if p.deadline <= now]:
            del self._pending[pending.request_id]
            if pending.request_id in self._suspect:
                self._suspect.discard(pending.request_id)  # its reply was swallowed already
            else:
                self._tombstones.append(now)
            self._events.append(ClipRequestFailed(request_id=pending.request_id, error=(
                RecordingError(RecordingErrorCode.REQUEST_TIMEOUT,
                               f"no clipReady/clipFailed within {pending.timeout:g} s"))))

    def disconnected(self) -> None:
        """The connection went away: every pending request fails with ``DISCONNECTED``."""
        for request_id in list(self._pending):
            self._events.append(ClipRequestFailed(request_id=request_id, error=(
                RecordingError(RecordingErrorCode.DISCONNECTED,
                               "disconnected while a clip request was pending"))))
        self._pending.clear()
        self._tombstones.clear()
        self._suspect.clear()

    def next_event(self) -> ClipEvent | None:
        return self._events.popleft() if self._events else None


# ---- polling the playlist --------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FetchNow:
    pass


@attrs.frozen(kw_only=True)
class WaitThen:
    """Sleep ``seconds``, then fetch the playlist again."""

    seconds: float


@attrs.frozen(kw_only=True)
class PlaylistOk:
    pass


@attrs.frozen(kw_only=True)
class GiveUp:
    error: RecordingError


PollStep = FetchNow | WaitThen | PlaylistOk | GiveUp


def parse_retry_after(value: str | None) -> float | None:
    """Delta-seconds ``Retry-After`` (an HTTP date or garbage gives None)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class PlaylistPoll:
    """When to fetch a clip's playlist again, and when to give up.

    ``live`` waits without a deadline while the session still streams (media time only moves
    while frames flow).  ``first()`` says whether to wait before the first fetch: until the
    prediction, at most ``RETRY_MAX`` (our runtime answers once the chunk is closed, so its
    prediction is already past and the first fetch is immediate).
    """

    def __init__(self, clip: Clip, *, started_ms: int, live: bool = False,
                 slack_ms: int = READY_SLACK_MS) -> None:
        self.predicted_ms = clip.predicted_ready_at_ms or None
        self.started_ms = started_ms
        self.live = live
        self.slack_ms = slack_ms
        self.tries = 0

    @property
    def deadline_ms(self) -> int | None:
        if self.live:
            return None
        if self.predicted_ms is None:
            return None
        return max(self.predicted_ms, self.started_ms) + self.slack_ms

    def first(self, now_ms: int) -> FetchNow | WaitThen:
        if self.predicted_ms is None or self.predicted_ms <= now_ms:
            return FetchNow()
        return WaitThen(seconds=min(RETRY_MAX, (self.predicted_ms - now_ms) / 1000))

    def on_status(self, status: int, retry_after: str | None, *, now_ms: int) -> PollStep:
        """What to do after a playlist response with ``status``."""
        self.tries += 1
        if status == 200:
            return PlaylistOk()
        if status in (404, 410):
            return GiveUp(error=RecordingError(RecordingErrorCode.CLIP_GONE,
                                               f"playlist: HTTP {status}", status=status))
        if status != 202:
            return GiveUp(error=RecordingError(RecordingErrorCode.PLAYLIST_FETCH_FAILED,
                                               f"playlist: HTTP {status}", status=status))
        hint = parse_retry_after(retry_after)
        wait = min(RETRY_MAX, max(RETRY_MIN, hint if hint is not None else RETRY_MAX))
        deadline = self.deadline_ms
        if self.live:
            return WaitThen(seconds=wait)
        if deadline is None:
            if self.tries >= RETRIES_WITHOUT_PREDICTION:
                return GiveUp(error=self._not_ready())
        elif now_ms + wait * 1000 > deadline:
            return GiveUp(error=self._not_ready())
        return WaitThen(seconds=wait)

    def _not_ready(self) -> RecordingError:
        return RecordingError(RecordingErrorCode.CLIP_NOT_READY,
                              f"playlist still not ready after {self.tries} tries")


def chunk_error(uri: str, status: int | None, detail: str = "") -> RecordingError:
    """A chunk (or init segment) could not be fetched."""
    what = f"HTTP {status}" if status is not None else detail or "no response"
    return RecordingError(RecordingErrorCode.CHUNK_FETCH_FAILED, f"{uri}: {what}",
                          status=status)


def fetch_error(detail: str) -> RecordingError:
    """The playlist request itself failed (no HTTP reply)."""
    return RecordingError(RecordingErrorCode.PLAYLIST_FETCH_FAILED, f"playlist: {detail}")
