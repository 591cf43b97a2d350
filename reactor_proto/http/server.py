"""HTTP/1.1 framing over h11, server role, and the CORS answers servers give (§3.1, C.2).

Import from :mod:`reactor_proto.http`, which re-exports everything here.
"""

from __future__ import annotations

import h11

from ..constants import HEADER_CONTENT_TYPE, JSON_CONTENT_TYPE, MAX_HTTP_BODY_BYTES
from ..errors import InvalidStateError, LocalProtocolError
from ..jsonfields import dumps
from ..status import reason_phrase
from .records import (
    FRAMING_HEADERS,
    Headers,
    HeadMeter,
    HttpRequest,
    HttpResponse,
    decode_headers,
    encode_headers,
    find_header,
    parse_url,
)

CORS_ALLOWED_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
CORS_ALLOWED_HEADERS = ("Authorization, Content-Type, Reactor-API-Key, Reactor-API-Version, "
                        "Reactor-API-Accept-Version, Reactor-WebRTC-Version")
CORS_EXPOSED_HEADERS = "Retry-After, Reactor-API-Version"
CORS_MAX_AGE = "600"


# ---- server role -----------------------------------------------------------------------------


class HttpServerConnection:
    """One HTTP/1.1 connection, server side.

    :meth:`receive` returns a complete :class:`HttpRequest`, or an error
    :class:`HttpResponse` (400 malformed, 413 body too large, 431 head too large) to
    :meth:`send` before closing, or ``None`` when more bytes are needed or the peer closed
    (:attr:`peer_closed`).  After answering a request, if :attr:`keep_alive`, call
    :meth:`start_next_cycle` and then :meth:`poll` (a pipelined request may already be
    buffered) before reading more bytes.
    """

    def __init__(self, *, max_body_bytes: int = MAX_HTTP_BODY_BYTES,
                 max_header_bytes: int = 16 * 1024, scheme: str = "http") -> None:
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.scheme = scheme
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=max_header_bytes)
        self._rejection: HttpResponse | None = None
        self.peer_closed = False
        self._reset()

    def _reset(self) -> None:
        self._meter = HeadMeter(self.max_header_bytes, interim_allowed=False)
        self._head: h11.Request | None = None
        self._url = ""
        self._body = bytearray()
        self._request: HttpRequest | None = None

    def receive(self, data: bytes) -> HttpRequest | HttpResponse | None:
        if self._rejection is not None or self.peer_closed:
            return None  # the connection is closing; nothing more is read
        if not data:
            self.peer_closed = True
        elif not self._meter.feed(data):
            return self._reject(431, f"request head exceeds {self.max_header_bytes} bytes")
        self._conn.receive_data(data)
        return self.poll()

    def poll(self) -> HttpRequest | HttpResponse | None:
        """Process bytes already buffered (e.g. a pipelined request after a new cycle)."""
        if self._rejection is not None or self._request is not None:
            return None
        while True:
            try:
                event = self._conn.next_event()
            except h11.RemoteProtocolError as exc:
                if self.peer_closed:
                    return None  # truncated by the client: nobody is left to answer
                return self._reject(exc.error_status_hint, f"malformed request: {exc}")
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return None
            if isinstance(event, h11.Request):
                rejection = self._on_head(event)
                if rejection is not None:
                    return rejection
            elif isinstance(event, h11.Data):
                self._body += event.data
                if len(self._body) > self.max_body_bytes:
                    return self._too_large(len(self._body))
            elif isinstance(event, h11.EndOfMessage):
                head = self._head
                assert head is not None
                self._request = HttpRequest(
                    method=bytes(head.method).decode("ascii"), url=self._url,
                    headers=decode_headers(head.headers), body=bytes(self._body))
                return self._request
            else:  # ConnectionClosed
                self.peer_closed = True
                return None

    def _on_head(self, head: h11.Request) -> HttpResponse | None:
        self._head = head
        headers = decode_headers(head.headers)
        target = bytes(head.target).decode("ascii")
        if target.startswith("/"):
            host = find_header(headers, "host") or "localhost"
            url = f"{self.scheme}://{host}{target}"
        else:
            url = target  # absolute-form
        try:
            parse_url(url)
        except LocalProtocolError:
            return self._reject(400, f"bad request target or Host header: {url!r:.120}")
        self._url = url
        declared = find_header(headers, "content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return self._too_large(int(declared))
        return None

    def _too_large(self, size: int) -> HttpResponse:
        return self._reject(413, f"request body of {size} bytes exceeds the limit of "
                                 f"{self.max_body_bytes} bytes")

    def _reject(self, status: int, detail: str) -> HttpResponse:
        self._rejection = HttpResponse(
            status=status, reason=reason_phrase(status),
            headers=((HEADER_CONTENT_TYPE, JSON_CONTENT_TYPE), ("connection", "close")),
            body=dumps({"detail": detail}).encode("utf-8"))
        return self._rejection

    def send(self, response: HttpResponse) -> bytes:
        """Bytes of ``response`` (``Content-Length`` added; no body for HEAD/1xx/204/304)."""
        status = response.status
        reason = response.reason or reason_phrase(status)
        bodiless = status < 200 or status in (204, 304)
        headers = [(k, v) for k, v in response.headers if k.lower() not in FRAMING_HEADERS]
        if not bodiless:
            headers.append(("content-length", str(len(response.body))))
        if self._rejection is not None:
            # h11 may not be in a state to send (the head was never parsed); the connection
            # closes after this, so frame it by hand.
            if find_header(tuple(headers), "connection") is None:
                headers.append(("connection", "close"))
            lines = [f"HTTP/1.1 {status} {reason}".encode("latin-1")]
            lines += [name + b": " + value for name, value in encode_headers(tuple(headers))]
            return b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if bodiless else response.body)
        if self._head is None:
            raise InvalidStateError(f"send(): no request to answer with {status}")
        try:
            out = self._conn.send(h11.Response(status_code=status, reason=reason,
                                               headers=encode_headers(tuple(headers))))
            if status >= 200:
                head_only = self._head is not None and self._head.method == b"HEAD"
                if response.body and not bodiless and not head_only:
                    out = (out or b"") + (self._conn.send(h11.Data(data=response.body)) or b"")
                out = (out or b"") + (self._conn.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(f"response {status}: {exc}") from None
        return out or b""

    @property
    def keep_alive(self) -> bool:
        """Whether another request may follow on this connection."""
        if self._rejection is not None or self.peer_closed:
            return False
        closing = (h11.MUST_CLOSE, h11.CLOSED, h11.ERROR)
        return self._conn.our_state not in closing and self._conn.their_state not in closing

    def start_next_cycle(self) -> None:
        if self._conn.our_state is not h11.DONE or self._conn.their_state is not h11.DONE:
            raise InvalidStateError(
                "start_next_cycle(): the exchange is not complete or the connection is closing "
                f"(server {self._conn.our_state}, client {self._conn.their_state})")
        self._conn.start_next_cycle()
        self._reset()


# ---- CORS ------------------------------------------------------------------------------------


def cors_headers(origin: str | None) -> Headers:
    """Wide-open CORS answers (browsers on other origins call every route, §3.1, C.2).

    A given ``Origin`` is echoed (with ``Vary: Origin``); without one, ``*``.
    """
    headers: list[tuple[str, str]] = [("access-control-allow-origin", origin or "*")]
    if origin:
        headers.append(("vary", "Origin"))
    headers += [("access-control-allow-methods", CORS_ALLOWED_METHODS),
                ("access-control-allow-headers", CORS_ALLOWED_HEADERS),
                ("access-control-expose-headers", CORS_EXPOSED_HEADERS),
                ("access-control-max-age", CORS_MAX_AGE)]
    return tuple(headers)


def is_preflight(request: HttpRequest) -> bool:
    """An ``OPTIONS`` request carrying ``Access-Control-Request-Method``."""
    return (request.method.upper() == "OPTIONS"
            and request.header("access-control-request-method") is not None)


def preflight_response(request: HttpRequest) -> HttpResponse:
    """The 204 answer to a CORS preflight."""
    return HttpResponse(status=204, reason=reason_phrase(204),
                        headers=cors_headers(request.header("origin")))
