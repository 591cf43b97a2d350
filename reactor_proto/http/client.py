"""HTTP/1.1 framing over h11, client role: bytes in, bytes out, no sockets (§2-§5, §9).

:class:`HttpClientConnection` turns an :class:`HttpRequest` into bytes and bytes into an
:class:`HttpResponse`; its server-role counterpart is :mod:`reactor_proto.http.server`.

Limits are decided here: a head larger than ``max_header_bytes`` or a body larger than
``max_body_bytes`` fails the exchange.  The head limit is measured on the bytes themselves
(up to the blank line that ends the head), so the outcome never depends on how the adapter
happened to chunk its reads; the fuzz harness checks exactly that.
"""

from __future__ import annotations

import h11

from ..constants import MAX_HTTP_BODY_BYTES
from ..errors import (
    DecodeError,
    InvalidStateError,
    LocalProtocolError,
    NetworkError,
    RemoteProtocolError,
)
from .records import (
    BODY_METHODS,
    FRAMING_HEADERS,
    HeadMeter,
    HttpRequest,
    HttpResponse,
    decode_headers,
    encode_headers,
    find_header,
    parse_url,
)

__all__ = [
    "HttpClientConnection",
]

# ---- client role -----------------------------------------------------------------------------


class HttpClientConnection:
    """One HTTP/1.1 connection, client side.  Keep-alive: after a complete exchange and if
    :attr:`reusable`, call :meth:`start_next_cycle` and send the next request."""

    def __init__(self, *, max_body_bytes: int = MAX_HTTP_BODY_BYTES,
                 max_header_bytes: int = 64 * 1024) -> None:
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_header_bytes)
        self._reset()
        self._eof = False

    def _reset(self) -> None:
        self._meter = HeadMeter(self.max_header_bytes, interim_allowed=True)
        self._head: h11.Response | None = None
        self._body = bytearray()
        self._response: HttpResponse | None = None
        self._failure: Exception | None = None
        self._received_any = False

    def send(self, request: HttpRequest) -> bytes:
        """Bytes to write: the head (``Host`` from the URL, ``Content-Length``) and the body."""
        if self._conn.our_state is not h11.IDLE:
            raise InvalidStateError(
                "send(): an exchange is already in progress on this connection "
                f"(state {self._conn.our_state}); call start_next_cycle() after a response")
        url = parse_url(request.url)
        headers: list[tuple[str, str]] = []
        if find_header(request.headers, "host") is None:
            headers.append(("host", url.host_header))
        headers.extend((k, v) for k, v in request.headers if k.lower() not in FRAMING_HEADERS)
        body = request.body
        if body is not None or request.method.upper() in BODY_METHODS:
            headers.append(("content-length", str(len(body or b""))))
        try:
            out = self._conn.send(h11.Request(method=request.method, target=url.target,
                                              headers=encode_headers(tuple(headers))))
            if body:
                out = (out or b"") + (self._conn.send(h11.Data(data=body)) or b"")
            out = (out or b"") + (self._conn.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(f"request {request.method} {url.target!r:.120}: {exc}") \
                from None
        return out

    def receive(self, data: bytes) -> HttpResponse | None:
        """Feed received bytes (``b""`` = the peer closed).  Returns the response once it is
        complete, ``None`` while more bytes are needed.

        Raises :class:`RemoteProtocolError` for garbage or an oversized head,
        :class:`DecodeError` for an oversized body, and :class:`NetworkError` when the peer
        closes before the response is complete.  Failures are sticky.
        """
        if self._failure is not None:
            raise self._failure
        if self._eof and data:
            raise LocalProtocolError("receive(): data after end of stream")
        if self._response is not None:
            # The exchange is complete: keep the bytes (or the EOF) for the next cycle.
            self._eof = not data
            self._conn.receive_data(data)
            return None
        if self._conn.our_state is h11.IDLE:
            if data:
                raise self._fail(RemoteProtocolError(
                    f"server sent {len(data)} bytes before any request"))
            raise self._fail(NetworkError("connection closed with no request in flight"))
        if not data:
            self._eof = True
        else:
            self._received_any = True
            if not self._meter.feed(data):
                raise self._fail(RemoteProtocolError(
                    f"response head exceeds {self.max_header_bytes} bytes"))
        self._conn.receive_data(data)
        return self._process()

    def _fail(self, error: Exception) -> Exception:
        self._failure = error
        return error

    def _closed_early(self) -> Exception:
        if self._received_any:
            return self._fail(NetworkError("connection closed before the response was complete"))
        return self._fail(NetworkError("connection closed before a response arrived"))

    def _process(self) -> HttpResponse | None:
        while True:
            try:
                event = self._conn.next_event()
            except h11.RemoteProtocolError as exc:
                if self._eof:
                    raise self._closed_early() from None
                raise self._fail(RemoteProtocolError(f"malformed response: {exc}")) from None
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return None
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                self._on_head(event)
            elif isinstance(event, h11.Data):
                self._body += event.data
                self._check_body(len(self._body))
            elif isinstance(event, h11.EndOfMessage):
                return self._complete()
            else:  # ConnectionClosed before the message ended
                raise self._closed_early()

    def _on_head(self, head: h11.Response) -> None:
        self._head = head
        declared = find_header(decode_headers(head.headers), "content-length")
        if declared is not None and declared.isdigit():
            self._check_body(int(declared))

    def _check_body(self, size: int) -> None:
        if size > self.max_body_bytes:
            raise self._fail(DecodeError(
                f"response body: {size} bytes exceeds the limit of {self.max_body_bytes} bytes",
                field="body", value=size))

    def _complete(self) -> HttpResponse:
        head = self._head
        assert head is not None
        self._response = HttpResponse(status=head.status_code,
                                      headers=decode_headers(head.headers),
                                      body=bytes(self._body),
                                      reason=bytes(head.reason).decode("latin-1"))
        return self._response

    @property
    def reusable(self) -> bool:
        """A complete exchange with keep-alive on both sides (no ``Connection: close``)."""
        return (not self._eof and self._conn.our_state is h11.DONE
                and self._conn.their_state is h11.DONE)

    def start_next_cycle(self) -> None:
        """Reset for the next request on the same connection."""
        if not self.reusable:
            raise InvalidStateError(
                "start_next_cycle(): the connection cannot be reused "
                f"(client {self._conn.our_state}, server {self._conn.their_state})")
        self._conn.start_next_cycle()
        self._reset()
