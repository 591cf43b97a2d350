"""Recordings and clips on the ``Reactor`` (§10): asking for them and downloading them.

* ``request_clip(duration_seconds)`` / ``request_recording()`` send the request on the
  connection's wire (v0 runtime message or v1 request) and return the runtime's
  :class:`~reactor_proto.recording.Clip`; the correlation, the deadline and the error
  mapping are the core's (``reactor_proto.client.clips``).  A failure raises a typed
  :class:`~reactor_proto.recording.errors.RecordingError` (its ``code`` is one of the
  documented ``RecordingErrorCode`` values); a disconnect fails a pending request at once.
* ``download_clip_as_file`` is 0.8.0's call (returns the bytes, writes ``path`` when given),
  by default as one flat MP4 (``remux=True``).
* ``download``, ``download_clip`` and ``download_recording`` are 1.13.0's: ``path`` given
  writes the file and returns None, else the bytes; they wait for the playlist as long as
  the session streams unless ``ready_timeout`` bounds the wait.

Downloads use the token this client holds when the coordinator serves the playlist.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, overload

from reactor_proto.client import ClientConfig, ClientMachine, ReactorStatus
from reactor_proto.errors import DecodeError, Failure, LocalProtocolError, ReactorError
from reactor_proto.recording import Clip
from reactor_proto.recording.download import Progress

from .clip_download import call_back, fetch_clip, finish

PathLike = str | os.PathLike[str]
ProgressCallback = Callable[..., Any]


class ReactorRecordings:
    """The clip methods of :class:`~.reactor.Reactor` (a mixin: it owns no state)."""

    _machine: ClientMachine
    _config: ClientConfig

    if TYPE_CHECKING:
        def _refuse(self, failure: Failure, error: ReactorError) -> ReactorError: ...
        async def _run_op(self, start: Callable[[float], int], *,
                          abort_on_cancel: bool = False) -> Any: ...

    # ---- asking ----------------------------------------------------------------------------

    # ``timeout`` is the core's deadline (a typed REQUEST_TIMEOUT), not the caller's scope.
    async def request_clip(self, duration_seconds: float, *,
                           timeout: float | None = None) -> Clip:  # noqa: ASYNC109
        """The last ``duration_seconds`` seconds of the session, as the runtime promised it
        (``timeout``: seconds to wait for the reply, 10 by default)."""
        value = await self._run_op(lambda now: self._machine.request_clip(
            duration_seconds, now, timeout=timeout))
        assert isinstance(value, Clip)
        return value

    async def request_recording(self, *,
                                timeout: float | None = None) -> Clip:  # noqa: ASYNC109
        """The whole session so far, like :meth:`request_clip`."""
        value = await self._run_op(lambda now: self._machine.request_recording(
            now, timeout=timeout))
        assert isinstance(value, Clip)
        return value

    # ---- 0.8.0 ----------------------------------------------------------------------------

    async def download_clip_as_file(self, clip: Clip, path: PathLike | None = None, *,
                                    jwt: str | None = None,
                                    on_progress: ProgressCallback | None = None,
                                    remux: bool = True,
                                    progress: ProgressCallback | None = None) -> bytes:
        """Fetch ``clip`` and return its bytes; write them at ``path`` when given (parent
        folders are created).  ``remux=True`` gives one flat MP4 any player opens;
        ``remux=False`` the fragmented stream as served.  ``progress(done_bytes, total)``
        (``total`` None until the last part) and 0.8.0's ``on_progress(fetched, total,
        bytes)`` in parts may be sync or async."""
        data = await self._fetch(self._as_clip(clip), jwt=jwt, live=False, ready_timeout=None,
                                 progress=progress, parts=on_progress, parts_with_bytes=True)
        return await finish(data, path, remux=remux)

    # ---- 1.13.0 ---------------------------------------------------------------------------

    @overload
    async def download(self, clip: Clip, path: None = None, *,
                       on_progress: ProgressCallback | None = None,
                       ready_timeout: float | None = None, remux: bool = False) -> bytes: ...

    @overload
    async def download(self, clip: Clip, path: PathLike, *,
                       on_progress: ProgressCallback | None = None,
                       ready_timeout: float | None = None, remux: bool = False) -> None: ...

    async def download(self, clip: Clip, path: PathLike | None = None, *,
                       on_progress: ProgressCallback | None = None,
                       ready_timeout: float | None = None,
                       remux: bool = False) -> bytes | None:
        """Fetch a clip this client asked for, with this client's token: the bytes, or None
        once written at ``path``.  ``on_progress(done, total)`` counts parts.  Waits for
        the playlist while the session streams, or ``ready_timeout`` seconds past the
        predicted ready time when given."""
        data = await self._fetch(self._as_clip(clip), jwt=None, live=ready_timeout is None,
                                 ready_timeout=ready_timeout, progress=None,
                                 parts=on_progress, parts_with_bytes=False)
        out = await finish(data, path, remux=remux)
        return None if path is not None else out

    @overload
    async def download_clip(self, duration_seconds: float, path: None = None, *,
                            on_progress: ProgressCallback | None = None,
                            ready_timeout: float | None = None,
                            remux: bool = False) -> bytes: ...

    @overload
    async def download_clip(self, duration_seconds: float, path: PathLike, *,
                            on_progress: ProgressCallback | None = None,
                            ready_timeout: float | None = None,
                            remux: bool = False) -> None: ...

    async def download_clip(self, duration_seconds: float, path: PathLike | None = None, *,
                            on_progress: ProgressCallback | None = None,
                            ready_timeout: float | None = None,
                            remux: bool = False) -> bytes | None:
        """:meth:`request_clip`, then :meth:`download`."""
        clip = await self.request_clip(duration_seconds)
        return await self.download(clip, path, on_progress=on_progress,
                                   ready_timeout=ready_timeout, remux=remux)

    @overload
    async def download_recording(self, path: None = None, *,
                                 on_progress: ProgressCallback | None = None,
                                 ready_timeout: float | None = None,
                                 remux: bool = False) -> bytes: ...

    @overload
    async def download_recording(self, path: PathLike, *,
                                 on_progress: ProgressCallback | None = None,
                                 ready_timeout: float | None = None,
                                 remux: bool = False) -> None: ...

    async def download_recording(self, path: PathLike | None = None, *,
                                 on_progress: ProgressCallback | None = None,
                                 ready_timeout: float | None = None,
                                 remux: bool = False) -> bytes | None:
        """:meth:`request_recording`, then :meth:`download`."""
        clip = await self.request_recording()
        return await self.download(clip, path, on_progress=on_progress,
                                   ready_timeout=ready_timeout, remux=remux)

    # ---- shared ---------------------------------------------------------------------------

    def _as_clip(self, clip: object) -> Clip:
        """Our ``Clip``, from itself, a mapping of its fields or a look-alike (the official
        clients' ``Clip`` dataclass)."""
        if isinstance(clip, Clip):
            return clip
        fields = clip if isinstance(clip, Mapping) else getattr(clip, "__dict__", None)
        if fields is None:
            fields = {name: getattr(clip, name) for name in (
                "session_id", "kind", "start_marker", "end_marker", "now_marker",
                "predicted_ready_at_ms", "playlist_url") if hasattr(clip, name)}
        try:
            return Clip.from_json(dict(fields), path="clip")
        except DecodeError as exc:
            raise self._refuse(Failure.OTHER, LocalProtocolError(
                f"download: expected a Clip from request_clip()/request_recording(), got "
                f"{type(clip).__name__} ({exc.message})")) from None

    async def _fetch(self, clip: Clip, *, jwt: str | None, live: bool,
                     ready_timeout: float | None, progress: ProgressCallback | None,
                     parts: ProgressCallback | None, parts_with_bytes: bool) -> bytes:
        if ready_timeout is not None and not (isinstance(ready_timeout, int | float)
                                              and math.isfinite(ready_timeout)
                                              and ready_timeout >= 0):
            raise self._refuse(Failure.OTHER, LocalProtocolError(
                f"ready_timeout: expected seconds >= 0 or None, got {ready_timeout!r}"))

        async def on_part(step: Progress) -> None:
            done = step.fetched == step.total
            await call_back(progress, step.bytes, step.bytes if done else None)
            if parts_with_bytes:
                await call_back(parts, step.fetched, step.total, step.bytes)
            else:
                await call_back(parts, step.fetched, step.total)

        def still_live() -> bool:
            return self._machine.status is ReactorStatus.READY

        try:
            return await fetch_clip(
                clip, api_url=self._config.api_url, jwt=jwt or self._machine.jwt,
                still_live=still_live if live else None, ready_timeout=ready_timeout,
                on_part=on_part)
        except ReactorError as exc:
            raise self._refuse(Failure.OTHER, exc) from None
