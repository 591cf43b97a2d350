"""Fetching a clip (§10) over our own HTTP client, and writing it, on asyncio and trio.

The decisions are the core's (:mod:`reactor_proto.recording`): :class:`PlaylistPoll` says
when to fetch the playlist again and when to give up, :func:`parse_playlist` what it names,
:class:`ClipDownload` which part comes next, what a response means and the progress.  This
module performs the fetches, sleeps, and writes the file (through a ``.part`` file renamed
at the end, so a failed download leaves nothing behind).  ``remux=True`` rewrites the
fragmented stream as one flat MP4 with PyAV in a worker thread, without re-encoding.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import av

from reactor_proto.errors import ReactorError
from reactor_proto.http import HttpRequest
from reactor_proto.recording import (
    Clip,
    FetchNow,
    GiveUp,
    PlaylistOk,
    PlaylistPoll,
    WaitThen,
    fetch_error,
    parse_playlist,
    resolve_url,
)
from reactor_proto.recording.download import ClipDownload, Progress
from reactor_proto.recording.errors import RecordingError, RecordingErrorCode

from ..http import HttpClient
from ..recording import remux as remux_file

#: one playlist or chunk request, connect to last byte
FETCH_TIMEOUT = 15.0

OnPart = Callable[[Progress], Awaitable[None]]


async def call_back(callback: Callable[..., Any] | None, *args: Any) -> None:
    """Call a user's progress callback, sync or async."""
    if callback is None:
        return
    result = callback(*args)
    if inspect.isawaitable(result):
        await result


def _headers(url: str, api_url: str, jwt: str | None) -> tuple[tuple[str, str], ...]:
    """The JWT goes to the API's own origin only: a presigned chunk URL on another host
    refuses a request that carries an ``Authorization`` header."""
    if jwt and urlsplit(url).netloc == urlsplit(api_url).netloc:
        return (("Authorization", f"Bearer {jwt}"),)
    return ()


async def fetch_clip(clip: Clip, *, api_url: str, jwt: str | None,
                     still_live: Callable[[], bool] | None = None,
                     ready_timeout: float | None = None,
                     on_part: OnPart | None = None) -> bytes:
    """The clip's fragmented MP4 (init segment, then its chunks in order).

    ``still_live`` given: wait for the playlist as long as it says the session still runs
    (the media clock only moves then); otherwise the core's bounded schedule applies, with
    ``ready_timeout`` seconds past the predicted ready time when given."""
    playlist_url = resolve_url(api_url, clip.playlist_url)
    slack = {} if ready_timeout is None else {"slack_ms": int(ready_timeout * 1000)}
    poll = PlaylistPoll(clip, started_ms=_now_ms(), live=still_live is not None, **slack)
    async with HttpClient() as http:
        step: FetchNow | WaitThen | PlaylistOk | GiveUp = poll.first(_now_ms())
        while True:
            if isinstance(step, WaitThen):
                if still_live is not None and not still_live():
                    raise RecordingError(RecordingErrorCode.CLIP_NOT_READY, (
                        f"clip {clip.session_id}: the session ended before the playlist "
                        f"was ready ({poll.tries} tries)"))
                await anyio.sleep(step.seconds)
            try:
                response = await http.request(HttpRequest(
                    method="GET", url=playlist_url,
                    headers=_headers(playlist_url, api_url, jwt)), timeout=FETCH_TIMEOUT)
            except ReactorError as exc:
                raise fetch_error(f"{exc.message} ({playlist_url})") from None
            step = poll.on_status(response.status, response.header("retry-after"),
                                  now_ms=_now_ms())
            if isinstance(step, GiveUp):
                raise _named(step.error, clip)
            if isinstance(step, PlaylistOk):
                break
        download = ClipDownload(parse_playlist(response.body or b""), playlist_url)
        while (url := download.next_url()) is not None:
            try:
                part = await http.request(HttpRequest(
                    method="GET", url=url, headers=_headers(url, api_url, jwt)),
                    timeout=FETCH_TIMEOUT)
            except ReactorError as exc:
                raise download.failed(exc.message) from None
            progress = download.received(part.status, part.body or b"")
            if on_part is not None:
                await on_part(progress)
        return download.result()


def _named(error: RecordingError, clip: Clip) -> RecordingError:
    """The error, saying which clip it was about (a clip of another, ended session is the
    usual cause of a 404/410)."""
    reason = f"clip of recording {clip.session_id}: {error.reason}"
    if error.code == RecordingErrorCode.CLIP_GONE:
        reason += " (the recording is gone: its session ended and a newer one replaced it, " \
                  "or it aged out)"
    return RecordingError(error.code, reason, status=error.status,
                          recoverable=error.recoverable)


def _now_ms() -> int:
    return int(time.time() * 1000)


# ---- writing ----------------------------------------------------------------------------------


def _remux_bytes(data: bytes, path: Path | None) -> bytes:
    """The flat MP4 of ``data``, written at ``path`` (or a temporary file) and read back."""
    if path is not None:
        remux_file(data, path)
        return path.read_bytes()
    with tempfile.TemporaryDirectory(prefix="reactor-clip-") as folder:
        target = Path(folder) / "clip.mp4"
        remux_file(data, target)
        return target.read_bytes()


#: what PyAV raises for bytes it cannot read or write as MP4 (a disk error stays an OSError)
_REMUX_ERRORS = (av.error.FFmpegError, ValueError, IndexError)


def _remux_error(exc: Exception) -> RecordingError:
    return RecordingError(RecordingErrorCode.INTERNAL_ERROR,
                          f"remuxing the clip to a flat MP4 failed: {type(exc).__name__}: "
                          f"{exc}", recoverable=False)


async def finish(data: bytes, path: str | os.PathLike[str] | None, *, remux: bool) -> bytes:
    """Write ``data`` (flat when ``remux``) at ``path``, when given; the bytes written."""
    if path is None:
        if not remux:
            return data
        try:
            return await anyio.to_thread.run_sync(_remux_bytes, data, None)
        except _REMUX_ERRORS as exc:
            raise _remux_error(exc) from None
    target = Path(os.fspath(path))
    part = target.with_name(target.name + ".part")
    try:
        await anyio.Path(target.parent).mkdir(parents=True, exist_ok=True)
        if remux:
            try:
                out = await anyio.to_thread.run_sync(_remux_bytes, data, part)
            except _REMUX_ERRORS as exc:
                raise _remux_error(exc) from None
        else:
            await anyio.Path(part).write_bytes(data)
            out = data
        await anyio.Path(part).replace(target)
    except BaseException:
        with anyio.CancelScope(shield=True), contextlib.suppress(OSError):
            await anyio.Path(part).unlink(missing_ok=True)
        raise
    return out
