"""The ``/clips`` HLS playlist (§10): building it on the runtime, parsing it on the client.

The playlist is a VOD media playlist: ``#EXT-X-VERSION:7``, ``#EXT-X-TARGETDURATION`` (the
chunk length, or the longest chunk rounded up when one ran over), ``#EXT-X-MAP`` naming the
shared init segment, one ``#EXTINF`` and URI per chunk, ``#EXT-X-ENDLIST``.  The parser is
bounded (size, line count, segment count) and strict about the shape a download needs (an
init segment, at least one chunk, the end tag); any failure is
``RecordingError(INVALID_PLAYLIST)`` (a missing ``#EXT-X-TARGETDURATION`` is tolerated).
Also here: the clip's playlist path and the rule
that resolves a URL the runtime gave against the API base URL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import attrs

from reactor_proto.recording.errors import RecordingError, RecordingErrorCode
from reactor_proto.recording.validate import INIT_NAME, chunk_name

CONTENT_TYPE = "application/vnd.apple.mpegurl"
INIT_CONTENT_TYPE = "video/mp4"
CHUNK_CONTENT_TYPE = "video/iso.segment"
MAX_PLAYLIST_BYTES = 1 << 20
MAX_SEGMENTS = 10_000
_EXTINF = re.compile(r"#EXTINF:([0-9]{1,9}(?:\.[0-9]{1,9})?)\s*(?:,.*)?")
_MAP = re.compile(r'#EXT-X-MAP:.*?URI="([^"]*)".*')
_TARGET = re.compile(r"#EXT-X-TARGETDURATION:([0-9]{1,6})")


@attrs.frozen(kw_only=True)
class Segment:
    uri: str
    duration: float


@attrs.frozen(kw_only=True)
class Playlist:
    """A parsed clip playlist: where the init segment is, and the chunks in order."""

    target_duration: int
    init_uri: str
    segments: tuple[Segment, ...]

    @property
    def duration(self) -> float:
        return sum(segment.duration for segment in self.segments)

    @property
    def uris(self) -> tuple[str, ...]:
        """Every URI to fetch, init first: the order the bytes are concatenated in."""
        return (self.init_uri, *(segment.uri for segment in self.segments))


def playlist_path(recording_id: str, start: float, end: float) -> str:
    """The path-only ``playlist_url`` of ``clipReady``: markers with three decimals."""
    return f"/clips?session_id={quote(recording_id)}&start={start:.3f}&end={end:.3f}"


def chunk_path(recording_id: str, name: str) -> str:
    return f"/clips/chunks/{recording_id}/{name}"


def build_playlist(recording_id: str, chunks: Sequence[tuple[int, float]], *,
                   chunk_seconds: float, base: str = "") -> str:
    """The playlist text for ``chunks`` (index, duration in seconds), in order.  ``base`` is
    prefixed to each path (empty: path-only, as the local runtime serves it)."""
    longest = max((duration for _, duration in chunks), default=chunk_seconds)
    target = max(1, math.ceil(max(chunk_seconds, longest) - 1e-9))
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}",
             "#EXT-X-PLAYLIST-TYPE:VOD",
             f"#EXT-X-MEDIA-SEQUENCE:{chunks[0][0] if chunks else 0}",
             f'#EXT-X-MAP:URI="{base}{chunk_path(recording_id, INIT_NAME)}"']
    for index, duration in chunks:
        lines.append(f"#EXTINF:{duration:.3f},")
        lines.append(base + chunk_path(recording_id, chunk_name(index)))
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _invalid(why: str) -> RecordingError:
    return RecordingError(RecordingErrorCode.INVALID_PLAYLIST, f"playlist: {why}")


def parse_playlist(body: bytes | str) -> Playlist:
    """Parse a clip playlist; refuse anything a download could not follow."""
    if len(body) > MAX_PLAYLIST_BYTES:
        raise _invalid(f"over {MAX_PLAYLIST_BYTES} bytes")
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _invalid(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    lines = [line.strip() for line in body.lstrip("\ufeff").splitlines()]
    lines = [line for line in lines if line]
    if not lines or lines[0] != "#EXTM3U":
        raise _invalid("the first line is not #EXTM3U")
    target: int | None = None
    init_uri: str | None = None
    segments: list[Segment] = []
    pending: float | None = None
    ended = False
    for number, line in enumerate(lines[1:], start=2):
        if ended:
            raise _invalid(f"line {number}: content after #EXT-X-ENDLIST")
        if line.startswith("#EXTINF:"):
            match = _EXTINF.fullmatch(line)
            if match is None or pending is not None:
                raise _invalid(f"line {number}: bad or repeated #EXTINF {line[:40]!r}")
            pending = float(match.group(1))
        elif line.startswith("#EXT-X-MAP:"):
            match = _MAP.fullmatch(line)
            if match is None or not match.group(1) or init_uri is not None:
                raise _invalid(f"line {number}: bad or repeated #EXT-X-MAP {line[:40]!r}")
            init_uri = match.group(1)
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            match = _TARGET.fullmatch(line)
            if match is None:
                raise _invalid(f"line {number}: bad #EXT-X-TARGETDURATION {line[:40]!r}")
            target = int(match.group(1))
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line.startswith("#"):
            continue  # other tags and comments: not needed to download
        else:
            if pending is None:
                raise _invalid(f"line {number}: a URI without #EXTINF")
            if len(segments) >= MAX_SEGMENTS:
                raise _invalid(f"more than {MAX_SEGMENTS} segments")
            segments.append(Segment(uri=line, duration=pending))
            pending = None
    if init_uri is None:
        raise _invalid("no #EXT-X-MAP (init segment)")
    if not segments:
        raise _invalid("no segment")
    if pending is not None or not ended:
        raise _invalid("truncated (no #EXT-X-ENDLIST after the last segment)")
    if target is None:  # required by HLS, but a download does not need it
        target = max(1, math.ceil(max(s.duration for s in segments)))
    return Playlist(target_duration=target, init_uri=init_uri, segments=tuple(segments))


def resolve_url(api_base: str, url: str) -> str:
    """Where to fetch ``url`` from: a path is joined to the API base; an absolute URL keeps
    its path and query but takes the base's scheme, host and port (a runtime behind a proxy
    or a tunnel names itself by an address the client cannot reach).  Presigned object-store
    URLs in production manifests are fetched as they are (:func:`resolve_chunk_url`)."""
    base = urlsplit(api_base)
    target = urlsplit(url)
    path = target.path if target.path.startswith("/") else "/" + target.path
    prefix = base.path.rstrip("/")
    if target.scheme or target.netloc:
        return urlunsplit((base.scheme, base.netloc, path, target.query, ""))
    return urlunsplit((base.scheme, base.netloc, prefix + path, target.query, ""))


def resolve_chunk_url(playlist_url: str, uri: str) -> str:
    """A playlist entry's URL, given the (resolved, absolute) URL the playlist came from:
    absolute entries (presigned object-store URLs in production) are used unchanged, paths
    and relative names are resolved against the playlist's URL."""
    if urlsplit(uri).scheme in ("http", "https"):
        return uri
    return urljoin(playlist_url, uri)
