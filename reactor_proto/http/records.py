"""HTTP pieces both roles share: URLs, request/response records, header codecs, and the
chunking-independent head-size meter.  Import them from :mod:`reactor_proto.http`."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import attrs

from ..constants import HEADER_CONTENT_TYPE, JSON_CONTENT_TYPE
from ..errors import LocalProtocolError
from ..jsonfields import dumps

Headers = tuple[tuple[str, str], ...]

DEFAULT_PORTS = {"http": 80, "https": 443}
# Framing headers are ours to write: a caller-supplied Content-Length could desynchronise the
# stream, and we never send chunked bodies.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_HOST_RE = re.compile(r"[A-Za-z0-9._~%!$&'()*+,;=-]+")
_HEAD_END = re.compile(rb"\n\r?\n")
_INFORMATIONAL = re.compile(rb"HTTP/[0-9]\.[0-9] 1[0-9][0-9](?:[ \r\n]|$)")


# ---- URLs ------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Url:
    """An absolute http(s) URL split for the wire; ``target`` is path + query."""

    scheme: str
    host: str
    port: int
    target: str

    @property
    def host_header(self) -> str:
        """The ``Host`` value: IPv6 literals bracketed, the port only when not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if DEFAULT_PORTS[self.scheme] == self.port else f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host_header}"


def parse_url(url: str) -> Url:
    """Split an absolute ``http``/``https`` URL; :class:`LocalProtocolError` names the problem."""
    if not isinstance(url, str) or not url:
        raise LocalProtocolError(f"url: expected a non-empty string, got {url!r:.80}")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise LocalProtocolError(f"url {url!r:.120}: contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise LocalProtocolError(f"url {url!r:.120}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise LocalProtocolError(f"url {url!r:.120}: scheme must be http or https, "
                                 f"got {parts.scheme!r}")
    if "@" in parts.netloc:
        raise LocalProtocolError(f"url {url!r:.120}: credentials in the URL are not supported")
    host = parts.hostname or ""
    bracketed = parts.netloc.startswith("[")
    if not host or (not bracketed and not _HOST_RE.fullmatch(host)):
        raise LocalProtocolError(f"url {url!r:.120}: missing or invalid host")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not target.startswith("/"):
        raise LocalProtocolError(f"url {url!r:.120}: path must start with '/'")
    return Url(scheme=scheme, host=host, port=DEFAULT_PORTS[scheme] if port is None else port,
               target=target)


def join_url(base: str, path: str) -> str:
    """``base`` without its trailing slashes + ``path`` (a leading ``/`` is added if missing)."""
    return base.rstrip("/") + (path if path.startswith("/") else f"/{path}")


# ---- messages --------------------------------------------------------------------------------


def find_header(headers: Headers, name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


@attrs.frozen(kw_only=True)
class HttpRequest:
    """A request.  ``url`` is absolute in both roles: the client builds it, and
    :class:`HttpServerConnection` rebuilds it from the ``Host`` header and the target."""

    method: str
    url: str
    headers: Headers = ()
    body: bytes | None = None

    @property
    def target(self) -> str:
        """Path + query, as on the request line."""
        return parse_url(self.url).target

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        return find_header(self.headers, name)


@attrs.frozen(kw_only=True)
class HttpResponse:
    status: int
    headers: Headers = ()
    body: bytes = b""
    reason: str = ""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        return find_header(self.headers, name)


def _with_json_type(headers: Headers) -> Headers:
    if find_header(headers, HEADER_CONTENT_TYPE) is not None:
        return tuple(headers)
    return ((HEADER_CONTENT_TYPE, JSON_CONTENT_TYPE), *headers)


def json_request(method: str, url: str, body_obj: object | None,
                 headers: Headers = ()) -> HttpRequest:
    """A request with a compact JSON body and ``Content-Type``; ``None`` sends no body."""
    if body_obj is None:
        return HttpRequest(method=method, url=url, headers=tuple(headers))
    return HttpRequest(method=method, url=url, headers=_with_json_type(headers),
                       body=dumps(body_obj).encode("utf-8"))


def json_response(status: int, obj: object, headers: Headers = ()) -> HttpResponse:
    """A JSON response; ``obj`` ``None`` is the literal body ``null`` ([R2] sends it)."""
    return HttpResponse(status=status, headers=_with_json_type(headers),
                        body=dumps(obj).encode("utf-8"))


def decode_headers(raw: object) -> Headers:
    return tuple((bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
                 for name, value in raw)  # type: ignore[attr-defined]


def encode_headers(headers: Headers) -> list[tuple[bytes, bytes]]:
    encoded: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        try:
            encoded.append((name.encode("ascii"), value.encode("latin-1")))
        except UnicodeEncodeError:
            raise LocalProtocolError(
                f"header {name!r:.60}: {value!r:.80} cannot be sent (non-latin-1 text)"
            ) from None
    return encoded


class HeadMeter:
    """Counts the bytes of a message head as they arrive, independent of chunking.

    A head ends at the first blank line (h11 accepts ``\\n\\n`` as well as ``\\r\\n\\r\\n``).
    Interim 1xx heads are measured one by one.
    """

    __slots__ = ("active", "buffer", "interim_allowed", "limit", "scanned")

    def __init__(self, limit: int, *, interim_allowed: bool) -> None:
        self.limit = limit
        self.interim_allowed = interim_allowed
        self.buffer = bytearray()
        self.scanned = 0
        self.active = True

    def feed(self, data: bytes) -> bool:
        """False once a head is known to exceed the limit."""
        if not self.active:
            return True
        self.buffer += data
        while True:
            if self.buffer and self.buffer[0] < 0x21:
                # h11 refuses such a head at its first byte, whatever its size; leaving it to
                # h11 keeps the outcome (400, not 431) the same for every chunking.
                self.active = False
                return True
            found = _HEAD_END.search(self.buffer, max(0, self.scanned - 2))
            if found is None:
                self.scanned = len(self.buffer)
                return len(self.buffer) <= self.limit
            end = found.end()
            if end > self.limit:
                return False
            if not (self.interim_allowed and _INFORMATIONAL.match(self.buffer)):
                self.active = False
                self.buffer.clear()
                return True
            del self.buffer[:end]
            self.scanned = 0
