"""Downloading a clip, sans-IO: which URL to fetch next, what each response means, the
progress to report, and the bytes to keep (init segment first, then the chunks in order).

The adapter loops: ``url = download.next_url()``; fetch it; ``download.received(status,
body)`` (or ``download.failed(detail)`` when no response came), report the returned
:class:`Progress` (the official ``on_progress(fetched, total, bytes)``), until
``next_url()`` is None; then ``download.result()`` is the fragmented MP4.  Bounded: a clip
larger than ``max_bytes`` fails with ``DOWNLOAD_UNSUPPORTED`` before more is kept.
"""

from __future__ import annotations

import attrs

from reactor_proto.errors import LocalProtocolError
from reactor_proto.recording.client import chunk_error
from reactor_proto.recording.errors import RecordingError, RecordingErrorCode
from reactor_proto.recording.manifest import Playlist, resolve_chunk_url

#: a clip of 300 s at a few Mbit/s is well under this
MAX_CLIP_BYTES = 1 << 30


@attrs.frozen(kw_only=True)
class Progress:
    """After each part: parts fetched, parts in all, bytes so far."""

    fetched: int
    total: int
    bytes: int


class ClipDownload:
    """The fetches of one clip, from its parsed playlist and the URL it came from."""

    def __init__(self, playlist: Playlist, playlist_url: str, *,
                 max_bytes: int = MAX_CLIP_BYTES) -> None:
        self.urls = tuple(resolve_chunk_url(playlist_url, uri) for uri in playlist.uris)
        self.max_bytes = max_bytes
        self._parts: list[bytes] = []
        self._size = 0

    @property
    def done(self) -> bool:
        return len(self._parts) == len(self.urls)

    def next_url(self) -> str | None:
        return None if self.done else self.urls[len(self._parts)]

    def received(self, status: int, body: bytes) -> Progress:
        """The response to :meth:`next_url`'s fetch; a non-200 is ``CHUNK_FETCH_FAILED``."""
        url = self.next_url()
        if url is None:
            raise LocalProtocolError("received: every part of the clip is already fetched")
        if status != 200:
            raise chunk_error(url, status)
        self._size += len(body)
        if self._size > self.max_bytes:
            raise RecordingError(RecordingErrorCode.DOWNLOAD_UNSUPPORTED,
                                 f"clip larger than the {self.max_bytes}-byte download limit")
        self._parts.append(bytes(body))
        return Progress(fetched=len(self._parts), total=len(self.urls), bytes=self._size)

    def failed(self, detail: str) -> RecordingError:
        """No response to :meth:`next_url`'s fetch (refused, reset, timed out)."""
        return chunk_error(self.next_url() or "", None, detail)

    def result(self) -> bytes:
        """The fragmented MP4: the init segment, then every chunk in playlist order."""
        if not self.done:
            raise LocalProtocolError(f"result: {len(self._parts)} of {len(self.urls)} parts "
                                     f"fetched")
        return b"".join(self._parts)
