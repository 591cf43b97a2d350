"""The recording's bookkeeping: which chunks exist, which a clip needs, what to evict.

A :class:`RecordingStore` is told what the recorder did (a frame reached the timeline, a
chunk was closed with its size) and answers what the runtime must say: the ``clipReady`` or
``clipFailed`` for a request, and 200 / 202 / 410 / 400 for a ``GET /clips`` (§10).  All the
policy lives here: when a chunk is cut (every ``chunk_seconds`` of media, or at once when a
clip asks for the boundary chunk), which chunks are evicted (retention on the media timeline,
a byte cap on the closed chunks), how long a finished recording stays servable.  It performs
no I/O and reads no clock: ``now`` (monotonic seconds) and ``unix_ms`` are passed in.

The timeline is media time: it advances only while frames flow (:class:`Timeline` caps any
gap, such as a pause, at ``max_gap_seconds``), as the markers of §10 do.
"""

from __future__ import annotations

import collections
import math

import attrs

from reactor_proto.checks import above
from reactor_proto.errors import LocalProtocolError
from reactor_proto.recording.manifest import build_playlist, playlist_path
from reactor_proto.recording.validate import MAX_CHUNK_INDEX, ClipRangeError, check_duration
from reactor_proto.recording.vocabulary import (
    REASON_INVALID_DURATION,
    REASON_NO_MEDIA,
    Clip,
    ClipFailure,
    ClipKind,
    internal_error_reason,
)

#: markers travel with three decimals; a chunk overlapping a range by less is not needed
EPSILON = 0.001


_positive = above("RecordingConfig", 0)


@attrs.frozen(kw_only=True)
class RecordingConfig:
    """Options of a recording; every limit has a sane default."""

    chunk_seconds: float = attrs.field(default=4.0, validator=_positive)
    clip_max_seconds: float = attrs.field(default=300.0, validator=_positive)
    #: media seconds kept behind the newest frame; default: the longest clip plus two chunks
    retention_seconds: float | None = None
    #: cap on the bytes of closed chunks (the boundary chunk being written is extra)
    max_bytes: int = attrs.field(default=256 * 1024 * 1024, validator=_positive)
    #: a finished recording stays servable this long (wall seconds), then answers 410
    linger_seconds: float = attrs.field(default=120.0, validator=_positive)
    #: how long closing a boundary chunk is expected to take (drives predicted_ready_at_ms)
    close_latency_seconds: float = attrs.field(default=0.5, validator=_positive)
    #: a gap between frames longer than this (a pause) counts as this much media time
    max_gap_seconds: float = attrs.field(default=0.25, validator=_positive)

    @property
    def retention(self) -> float:
        if self.retention_seconds is not None:
            return self.retention_seconds
        return self.clip_max_seconds + 2 * self.chunk_seconds


@attrs.frozen(kw_only=True)
class ChunkInfo:
    """A closed chunk: its index (file name), its span on the timeline, its size."""

    index: int
    start: float
    end: float
    size: int

    @property
    def duration(self) -> float:
        return self.end - self.start


@attrs.frozen(kw_only=True)
class Cut:
    """The frame at ``marker`` starts chunk ``index`` (a keyframe); ``closes`` is the chunk
    the recorder must now close, if any (its end is ``marker``)."""

    index: int
    marker: float
    closes: int | None


@attrs.frozen(kw_only=True)
class ClipPlan:
    """A clip the runtime can promise.  When ``close_boundary`` is set the recorder must
    close the chunk being written (:meth:`RecordingStore.request_close` was called); the
    runtime may send ``clip`` right away or, better, once that chunk is closed, so the
    client's first playlist fetch is already a 200."""

    clip: Clip
    close_boundary: bool


# ---- answers to GET /clips ------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PlaylistReady:
    """200: the playlist and the chunks it lists."""

    chunks: tuple[ChunkInfo, ...]
    text: str


@attrs.frozen(kw_only=True)
class PlaylistPending:
    """202 with ``Retry-After: retry_after`` (whole seconds): the boundary chunk is open."""

    retry_after: int


@attrs.frozen(kw_only=True)
class PlaylistGone:
    """410: unknown, expired or aged-out recording."""

    reason: str


@attrs.frozen(kw_only=True)
class PlaylistBadRange:
    """400: ``start``/``end`` make no clip of this recording."""

    error: ClipRangeError


PlaylistAnswer = PlaylistReady | PlaylistPending | PlaylistGone | PlaylistBadRange


class Timeline:
    """Media time from frame timestamps: starts at 0, a gap over ``max_gap`` counts as
    ``max_gap``; a frame not newer than the previous one is refused (None)."""

    def __init__(self, max_gap: float) -> None:
        self.max_gap = max_gap
        self.last_pts: float | None = None
        self.marker = 0.0

    def advance(self, pts_seconds: float) -> float | None:
        if not math.isfinite(pts_seconds):
            return None
        if self.last_pts is not None:
            step = pts_seconds - self.last_pts
            if step <= 0:
                return None
            self.marker += min(step, self.max_gap)
        self.last_pts = pts_seconds
        return self.marker


class RecordingStore:
    """Bookkeeping of one recording (one output track of one session)."""

    def __init__(self, recording_id: str, config: RecordingConfig | None = None) -> None:
        self.recording_id = recording_id
        self.config = config or RecordingConfig()
        self.chunks: collections.deque[ChunkInfo] = collections.deque()
        self.total_bytes = 0
        #: the chunk being written: (index, start marker), None before the first frame
        self.open_chunk: tuple[int, float] | None = None
        self.now_marker: float | None = None
        self.evicted_until = -math.inf
        self.close_requested = False
        self.failure: str | None = None
        self.ended_at: float | None = None
        self.expired = False
        # chunks cut but not yet on disk: index -> (start, end)
        self._closing: dict[int, tuple[float, float]] = {}
        self._next_index = 0
        self._last_step = 1 / 30

    # ---- the recorder's side --------------------------------------------------------------

    def on_frame(self, marker: float) -> Cut | None:
        """A frame reached the timeline at ``marker`` (non-decreasing).  Returns the cut it
        makes, or None when it belongs to the chunk being written."""
        if self.failure is not None or self.ended_at is not None:
            return None
        if self.now_marker is not None and marker > self.now_marker:
            self._last_step = marker - self.now_marker
        self.now_marker = marker
        if self.open_chunk is None:
            first = self._next_index
            self._next_index = first + 1
            self.open_chunk = (first, marker)
            return Cut(index=first, marker=marker, closes=None)
        index, start = self.open_chunk
        due = marker >= start + self.config.chunk_seconds - EPSILON
        if not (due or (self.close_requested and marker > start)):
            return None
        if index + 1 > MAX_CHUNK_INDEX:
            self.recorder_failed(f"recording longer than {MAX_CHUNK_INDEX + 1} chunks")
            return None
        self._closing[index] = (start, marker)
        self._next_index = index + 2
        self.open_chunk = (index + 1, marker)
        self.close_requested = False
        return Cut(index=index + 1, marker=marker, closes=index)

    def finish_chunk(self) -> Cut | None:
        """Cut the boundary chunk with no new frame (the session ends, or frames stopped
        while a clip waits): it ends one frame step after the last frame.  ``index`` of the
        returned cut is the chunk the next frame will open."""
        if self.open_chunk is None or self.now_marker is None:
            return None
        index, start = self.open_chunk
        end = self.now_marker + self._last_step
        if end <= start:
            return None
        self._closing[index] = (start, end)
        self._next_index = index + 1
        self.open_chunk = None
        self.close_requested = False
        return Cut(index=index + 1, marker=end, closes=index)

    def chunk_closed(self, index: int, *, size: int) -> tuple[ChunkInfo, ...]:
        """Chunk ``index`` is ready to be written (``size`` bytes).  Returns the chunks to
        delete, oldest first (the cap and the retention): delete them *before* writing this
        one and the directory never holds more than ``max_bytes`` of chunks."""
        span = self._closing.pop(index, None)
        if span is None:
            raise LocalProtocolError(f"index: chunk {index} was not cut, or closed twice")
        info = ChunkInfo(index=index, start=span[0], end=span[1], size=size)
        self.chunks.append(info)
        self.total_bytes += size
        return self._evict()

    def chunk_lost(self, index: int) -> None:
        """The recorder could not write chunk ``index`` (cut, or already counted by
        :meth:`chunk_closed`): clips over it are gone."""
        span = self._closing.pop(index, None)
        for info in list(self.chunks):
            if info.index == index:
                self.chunks.remove(info)
                self.total_bytes -= info.size
                span = (info.start, info.end)
        if span is not None:
            self.evicted_until = max(self.evicted_until, span[1])

    def _evict(self) -> tuple[ChunkInfo, ...]:
        newest = self.now_marker if self.now_marker is not None else 0.0
        horizon = newest - self.config.retention
        evicted: list[ChunkInfo] = []
        while self.chunks and (self.total_bytes > self.config.max_bytes
                               or self.chunks[0].end <= horizon):
            gone = self.chunks.popleft()
            self.total_bytes -= gone.size
            self.evicted_until = max(self.evicted_until, gone.end)
            evicted.append(gone)
        return tuple(evicted)

    def request_close(self) -> None:
        """Close the boundary chunk at the next frame instead of at its nominal end."""
        if self.open_chunk is not None:
            self.close_requested = True

    def recorder_failed(self, reason: str) -> None:
        """The encoder or the disk failed: no more chunks; closed ones are still served."""
        if self.failure is None:
            self.failure = reason
        self.open_chunk = None
        self.close_requested = False

    def session_ended(self, now: float) -> None:
        """No more frames (the adapter closed the last chunk first, if it could)."""
        if self.ended_at is None:
            self.ended_at = now
        self.open_chunk = None
        self.close_requested = False

    def next_deadline(self) -> float | None:
        if self.ended_at is None or self.expired:
            return None
        return self.ended_at + self.config.linger_seconds

    def handle_timeout(self, now: float) -> tuple[ChunkInfo, ...]:
        """Expire a finished recording after its linger: every chunk is to be deleted."""
        deadline = self.next_deadline()
        if deadline is None or now < deadline:
            return ()
        self.expired = True
        gone = tuple(self.chunks)
        self.chunks.clear()
        self.total_bytes = 0
        return gone

    # ---- the clip side ------------------------------------------------------------------

    @property
    def retained_start(self) -> float | None:
        """The earliest marker still on disk (or being written), None with nothing yet."""
        if self.chunks:
            return self.chunks[0].start
        spans = sorted(self._closing.values())
        if spans:
            return spans[0][0]
        return None if self.open_chunk is None else self.open_chunk[1]

    def request_clip(self, duration: object, *, unix_ms: int) -> ClipPlan | ClipFailure:
        """Answer ``requestClip``: the last ``duration`` seconds (capped at
        ``clip_max_seconds``), ending at the newest frame."""
        try:
            seconds = check_duration(duration, max_seconds=self.config.clip_max_seconds)
        except ClipRangeError:
            return ClipFailure(reason=REASON_INVALID_DURATION)
        return self._plan(ClipKind.SNAP, seconds, unix_ms)

    def request_recording(self, *, unix_ms: int) -> ClipPlan | ClipFailure:
        """Answer ``requestRecording``: everything still retained, up to the newest frame."""
        return self._plan(ClipKind.RECORDING, None, unix_ms)

    def _plan(self, kind: ClipKind, seconds: float | None, unix_ms: int
              ) -> ClipPlan | ClipFailure:
        if self.failure is not None:
            return ClipFailure(reason=internal_error_reason(self.failure))
        first = self.retained_start
        if self.now_marker is None or first is None or self.expired:
            return ClipFailure(reason=REASON_NO_MEDIA)
        end = self.now_marker
        if self.ended_at is not None and self.chunks:
            end = self.chunks[-1].end
        start = first if seconds is None else max(first, end - seconds)
        if not end > start:
            # one frame so far: the clip is that frame
            end = start + self._last_step
        close = self.open_chunk is not None and self.ended_at is None
        if close:
            self.request_close()
        latency = self.config.close_latency_seconds if close else 0.0
        clip = Clip(session_id=self.recording_id, kind=kind, start_marker=start,
                    end_marker=end, now_marker=self.now_marker,
                    predicted_ready_at_ms=unix_ms + round(latency * 1000),
                    playlist_url=playlist_path(self.recording_id, start, end))
        return ClipPlan(clip=clip, close_boundary=close)

    def covering(self, start: float, end: float) -> tuple[ChunkInfo, ...]:
        """The closed chunks that overlap [start, end] (beyond the markers' rounding)."""
        return tuple(c for c in self.chunks
                     if c.start < end - EPSILON and c.end > start + EPSILON)

    def answer(self, start: float, end: float) -> PlaylistAnswer:
        """Answer ``GET /clips`` for a checked range (:func:`parse_clip_query`)."""
        if self.expired:
            return PlaylistGone(reason="the recording has expired")
        if start < self.evicted_until - EPSILON:
            return PlaylistGone(reason=f"start: {start:.3f} has aged out (kept from "
                                       f"{self.evicted_until:.3f})")
        written = self.chunks[-1].end if self.chunks else -math.inf
        newest = self.now_marker if self.now_marker is not None else 0.0
        live = self.failure is None and self.ended_at is None
        if end > written + EPSILON:
            horizon = newest + self.config.chunk_seconds + self.config.max_gap_seconds
            if live and end <= horizon:
                return PlaylistPending(retry_after=self._retry_after())
            if live or not self.covering(start, end):
                return PlaylistBadRange(error=ClipRangeError(
                    "end", end, f"expected a marker this recording has ({written:.3f} "
                                f"recorded)"))
        chunks = self.covering(start, end)
        if not chunks:
            return PlaylistBadRange(error=ClipRangeError(
                "start", start, "expected a range overlapping the recording"))
        text = build_playlist(self.recording_id, [(c.index, c.duration) for c in chunks],
                              chunk_seconds=self.config.chunk_seconds)
        return PlaylistReady(chunks=chunks, text=text)

    def _retry_after(self) -> int:
        if self.close_requested or self.open_chunk is None or self.now_marker is None:
            wait = self.config.close_latency_seconds
        else:
            wait = self.open_chunk[1] + self.config.chunk_seconds - self.now_marker
        return max(1, min(math.ceil(wait), math.ceil(self.config.chunk_seconds)))

    def chunk(self, index: int | None) -> ChunkInfo | None:
        """The closed chunk ``index`` if it is still on disk (None: 404).  ``index`` None is
        the init segment, which exists once the first chunk was cut."""
        if self.expired:
            return None
        for info in self.chunks:
            if info.index == index:
                return info
        return None

