"""The runtime's recordings (§10): one :class:`~reactor_anyio.recording.Recorder` per output
video track of the running session, the answers to ``PrepareClip`` and the ``/clips``
routes.

* Frames reach the recorders through :meth:`Recordings.offer`, which the media hub calls
  with each produced frame, already converted to ``yuv420p`` for the viewers' encoders
  (:mod:`.picture`): one ``offer`` per frame, which never blocks and never raises, so a
  recorder failure can only turn into ``clipFailed``.
* A session's recording starts with its first frame and stops when the session ends; it
  stays servable for the store's ``linger_seconds``, or until the next session starts or
  the runtime stops, whichever comes first.  The linger is driven by a timer on the event
  loop (armed at the session's end from the store's ``next_deadline``): when it runs out the
  store expires the recording (its chunks are deleted, ``/clips`` answers 410) and its
  directory is removed.  Disk use is bounded by the store's cap and retention.
* Clips are taken from the first output video track (the official runtime records one).
  ``clipReady`` is sent once the boundary chunk is on disk, so the client's first playlist
  fetch is a 200.
* ``GET /clips`` and the chunk route are answered by the core's
  :mod:`reactor_proto.recording.routes`, holding the recorder's lock while the store is read.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from reactor_anyio.recording import AudioFeed, Recorder
from reactor_anyio.runtime.picture import Picture, video_frame
from reactor_proto.errors import ReactorError
from reactor_proto.http import HttpRequest, HttpResponse
from reactor_proto.recording import ClipPlan, ClipRequest, RecordingConfig, RecordingStore
from reactor_proto.recording.routes import (
    CHUNKS_PREFIX,
    CLIPS_PATH,
    ServeChunk,
    chunk_missing,
    chunk_response,
    is_clips_route,
    playlist_response,
)
from reactor_proto.recording.vocabulary import (
    REASON_NO_MEDIA,
    ClipFailure,
    ClipReply,
    RecordingRequest,
    internal_error_reason,
)

logger = logging.getLogger(__name__)


def _query(text: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    out: dict[str, str] = {}
    for key, value in parse_qsl(text, keep_blank_values=True)[:16]:
        out.setdefault(key, value)
    return out


class Recordings:
    """The recorders of the running session and of the one before it (lingering)."""

    def __init__(self, tracks: Iterable[str], config: RecordingConfig, *,
                 parent_dir: str | Path | None = None) -> None:
        self.config = config
        self.tracks = tuple(tracks)
        self._parent = parent_dir
        self._guard = threading.Lock()
        self._live: dict[str, Recorder] = {}
        self._ended: dict[str, Recorder] = {}
        self._recording = False
        self._closed = False
        self._linger: asyncio.TimerHandle | None = None
        self.audio: AudioFeed | None = None  # recorded beside the first video track

    # ---- frames (the producer threads) ----------------------------------------------------

    def offer(self, track: str, picture: Picture, due: float) -> None:
        """A frame of ``track`` the media hub produced (converted once for the viewers'
        encoders and the recorder, see :mod:`.picture`), offered to the track's recorder."""
        recorder = self._recorder(track)
        if recorder is not None:
            recorder.offer(video_frame(picture), pts_seconds=due)

    def _recorder(self, track: str) -> Recorder | None:
        if not self._recording or track not in self.tracks:
            return None
        recorder = self._live.get(track)
        if recorder is not None:
            return recorder
        with self._guard:
            if track not in self._live and self._recording and not self._closed:
                try:
                    self._live[track] = Recorder(self.config, parent_dir=self._parent, audio=(
                        self.audio if track == self.tracks[0] else None))
                except OSError as exc:  # no temp dir: the stream goes on unrecorded
                    logger.warning("recording of %r not started: %s", track, exc)
                    self._recording = False
                    return None
            return self._live.get(track)

    # ---- session life (the event loop) ----------------------------------------------------

    def session_started(self) -> None:
        self._disarm()
        with self._guard:
            old = list(self._ended.values()) + list(self._live.values())
            self._ended, self._live = {}, {}
            self._recording = not self._closed
        for recorder in old:
            recorder.close()

    def session_ended(self) -> None:
        with self._guard:
            self._recording = False
            ended, self._live = self._live, {}
            self._ended = ended
        for recorder in ended.values():
            recorder.stop(timeout=1.0)
        self._arm()

    def close(self) -> None:
        self._disarm()
        with self._guard:
            self._closed = True
            self._recording = False
            every = list(self._ended.values()) + list(self._live.values())
            self._ended, self._live = {}, {}
        for recorder in every:
            recorder.close()

    # ---- the linger of a finished recording ------------------------------------------------

    @property
    def linger_armed(self) -> bool:
        """Whether the linger timer is set (a finished recording waits to expire)."""
        return self._linger is not None

    def linger_deadline(self) -> float | None:
        """When the next finished recording expires (``time.monotonic()`` seconds)."""
        deadlines = []
        for recorder in list(self._ended.values()):
            with recorder.lock:
                deadline = recorder.store.next_deadline()
            if deadline is not None:
                deadlines.append(deadline)
        return min(deadlines, default=None)

    def expire_lingering(self, now: float | None = None) -> int:
        """Expire the finished recordings whose linger ran out (their chunks and directory
        are deleted); re-arms the timer for the rest.  Returns how many expired."""
        self._linger = None
        expired = []
        for track, recorder in list(self._ended.items()):
            recorder.handle_timeout(now)  # the store decides; the recorder deletes the chunks
            with recorder.lock:
                gone = recorder.store.expired
            if gone:
                expired.append((track, recorder))
        with self._guard:
            for track, recorder in expired:
                if self._ended.get(track) is recorder:
                    del self._ended[track]
        for _, recorder in expired:
            recorder.close()
        self._arm()
        return len(expired)

    def _arm(self) -> None:
        self._disarm()
        deadline = self.linger_deadline()
        if deadline is None or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # driven by hand (no event loop): expire_lingering() is public
            return
        self._linger = loop.call_later(max(0.0, deadline - time.monotonic()),
                                       self.expire_lingering)

    def _disarm(self) -> None:
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None

    def _by_id(self, recording_id: str) -> Recorder | None:
        for recorder in (*self._live.values(), *self._ended.values()):
            if recorder.recording_id == recording_id:
                return recorder
        return None

    # ---- clips ----------------------------------------------------------------------------

    async def prepare(self, request: ClipRequest | RecordingRequest) -> ClipReply:
        """The answer to one ``PrepareClip``: a clip whose chunks are on disk, or why not."""
        recorder = self._live.get(self.tracks[0]) if self.tracks else None
        if recorder is None:
            return ClipFailure(reason=REASON_NO_MEDIA)
        try:
            plan = (recorder.request_clip(request.duration_seconds)
                    if isinstance(request, ClipRequest) else recorder.request_recording())
            if isinstance(plan, ClipPlan):
                await recorder.wait_ready(plan.clip)
                return plan.clip
            return plan
        except Exception as exc:  # a recorder bug is a clipFailed, never a broken stream
            logger.exception("clip request failed")
            return ClipFailure(reason=internal_error_reason(f"{type(exc).__name__}: {exc}"))

    # ---- HTTP (the event loop) ------------------------------------------------------------

    def respond(self, request: HttpRequest) -> HttpResponse | None:
        """``GET /clips`` or ``GET /clips/chunks/...``; None for any other path."""
        try:
            path, _, query = request.target.partition("?")
        except ReactorError:
            return None  # the runtime's routes answer a bad target
        if not is_clips_route(path):
            return None
        if request.method.upper() != "GET":
            return HttpResponse(status=405, headers=(("allow", "GET"),))
        held: list[Recorder] = []

        def lookup(recording_id: str) -> RecordingStore | None:
            recorder = self._by_id(recording_id)
            if recorder is None:
                return None
            recorder.lock.acquire()
            held.append(recorder)
            return recorder.store

        try:
            if path == CLIPS_PATH:
                return playlist_response(_query(query), lookup)
            if not path.startswith(CHUNKS_PREFIX):
                return chunk_missing()
            answer = chunk_response(path, lookup)
        finally:
            for recorder in held:
                recorder.lock.release()
        if not isinstance(answer, ServeChunk):
            return answer
        owner = self._by_id(answer.recording_id)
        data = None if owner is None else owner.read(answer.index)
        if data is None:
            return chunk_missing()
        return HttpResponse(status=200, headers=(("Content-Type", answer.content_type),),
                            body=data)
