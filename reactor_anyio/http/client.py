"""HTTP/1.1 client: ``reactor_proto.http`` framing moved over anyio sockets.

One :class:`HttpClient` keeps a small pool of idle keep-alive connections per
(scheme, host, port).  The framing decides whether a connection may be reused; this module only
moves bytes, enforces the per-request deadline and maps transport failures through
:mod:`reactor_anyio.http.errors`.

Cancellation (httpcore's lesson): a connection that was in use when anything other than a
complete response happened -- an error, a timeout, the caller's cancellation -- is never put
back in the pool; it is closed inside a shielded scope that has its own deadline, so closing
cannot hang and cannot be interrupted half-way.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections import deque
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import anyio
import anyio.abc

from reactor_proto.constants import MAX_HTTP_BODY_BYTES
from reactor_proto.errors import InvalidStateError, NetworkError, RequestTimeoutError
from reactor_proto.http import (
    HttpClientConnection,
    HttpRequest,
    HttpResponse,
    Url,
    json_request,
    parse_url,
)

from .errors import TRANSPORT_ERRORS, describe_operation, to_reactor_error

log = logging.getLogger("reactor_anyio.http")

Origin = tuple[str, str, int]

_RECEIVE_CHUNK = 65536


class _StaleConnection(Exception):
    """A reused connection failed before any response byte: the peer had closed it."""


class _Connection:
    """A socket stream and the framing state that goes with it."""

    __slots__ = ("framing", "idle_since", "origin", "requests", "stream")

    def __init__(
        self, stream: anyio.abc.ByteStream, framing: HttpClientConnection, origin: Origin
    ) -> None:
        self.stream = stream
        self.framing = framing
        self.origin = origin
        self.idle_since = 0.0
        self.requests = 0


async def close_stream(stream: anyio.abc.AsyncResource, within: float) -> None:
    """Close ``stream`` even when the caller is being cancelled, within ``within`` seconds.

    The shield lets the close run to completion under cancellation; the deadline keeps a peer
    that never acknowledges from hanging the caller; if it expires the stream is closed
    forcefully (anyio's ``aclose_forcefully`` closes without waiting for the peer).
    """
    with anyio.move_on_after(within, shield=True) as scope:
        # A broken stream raises on close too; closing was all that was left to do.
        with contextlib.suppress(*TRANSPORT_ERRORS):
            await stream.aclose()
    if scope.cancelled_caught:
        with anyio.CancelScope(shield=True):
            await anyio.aclose_forcefully(stream)


class HttpClient:
    """Async HTTP/1.1 client with keep-alive reuse, for asyncio and trio (via anyio).

    ``request`` raises only :class:`~reactor_proto.errors.ReactorError` subclasses:
    ``NetworkError`` (refused, reset, DNS, TLS, connection closed before the response was
    complete), ``RequestTimeoutError`` (the per-request deadline), ``RemoteProtocolError`` /
    ``DecodeError`` (garbage or over-limit responses, raised by the framing), and
    ``LocalProtocolError`` (a bad URL or request, or the client is closed).

    Pool policy: at most ``max_idle_per_origin`` idle connections per origin and
    ``max_idle_total`` overall (the oldest is closed first); an idle connection older than
    ``keepalive_expiry`` seconds is closed rather than reused, since servers drop idle
    connections on their own schedule.  Concurrent requests to one origin each get their own
    connection.  A pooled connection that fails before any response byte arrives is assumed
    stale and the request is retried once, on a new connection.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_idle_per_origin: int = 4,
        max_idle_total: int = 16,
        keepalive_expiry: float = 5.0,
        close_timeout: float = 2.0,
        max_body_bytes: int = MAX_HTTP_BODY_BYTES,
        max_header_bytes: int = 64 * 1024,
    ) -> None:
        if max_idle_per_origin < 0 or max_idle_total < 0:
            raise ValueError("pool sizes must be >= 0")
        self._ssl_context = ssl_context
        self._max_idle_per_origin = max_idle_per_origin
        self._max_idle_total = max_idle_total
        self._keepalive_expiry = keepalive_expiry
        self._close_timeout = close_timeout
        self._max_body_bytes = max_body_bytes
        self._max_header_bytes = max_header_bytes
        # Oldest first, across every origin, so eviction and expiry are one scan.
        self._idle: deque[_Connection] = deque()
        self._in_use: set[_Connection] = set()
        self._closed = False
        self.connections_opened = 0
        """How many TCP connections this client has opened (tests and stats)."""

    # -- public API -----------------------------------------------------------------------

    # ``timeout`` is a parameter rather than the caller's scope (ASYNC109) so that the
    # deadline's expiry becomes a typed RequestTimeoutError instead of a bare TimeoutError.
    async def request(
        self, request: HttpRequest, *, timeout: float  # noqa: ASYNC109
    ) -> HttpResponse:
        """Send ``request`` and return the complete response (any status).

        ``timeout`` bounds connect + send + receive together, including the one retry.
        """
        if self._closed:
            raise InvalidStateError(f"HttpClient is closed: cannot send {request.method}")
        url = parse_url(request.url)
        operation = describe_operation(request.method, request.url)
        try:
            with anyio.fail_after(timeout):
                return await self._request_with_retry(request, url, operation)
        except TimeoutError:
            raise RequestTimeoutError(
                f"{operation}: no complete response within {timeout:g} s"
            ) from None

    async def request_json(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        headers: Sequence[tuple[str, str]] = (),
        timeout: float,  # noqa: ASYNC109
    ) -> HttpResponse:
        """Convenience: send ``body`` as compact JSON (no body when ``None``)."""
        return await self.request(json_request(method, url, body, tuple(headers)),
                                  timeout=timeout)

    @property
    def idle_connections(self) -> int:
        """Connections parked in the pool."""
        return len(self._idle)

    @property
    def active_connections(self) -> int:
        """Connections carrying a request right now."""
        return len(self._in_use)

    async def aclose(self) -> None:
        """Close every idle connection; in-flight ones are closed when their request ends."""
        self._closed = True
        while self._idle:
            await close_stream(self._idle.popleft().stream, self._close_timeout)

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- one request ----------------------------------------------------------------------

    async def _request_with_retry(
        self, request: HttpRequest, url: Url, operation: str
    ) -> HttpResponse:
        origin: Origin = (url.scheme, url.host, url.port)
        pooled = await self._take_idle(origin)
        if pooled is not None:
            try:
                return await self._exchange(pooled, request, operation, reused=True)
            except _StaleConnection:
                log.debug("%s: pooled connection was stale; retrying once on a new one",
                          operation)
        fresh = await self._connect(url, operation)
        return await self._exchange(fresh, request, operation, reused=False)

    async def _connect(self, url: Url, operation: str) -> _Connection:
        try:
            if url.scheme == "https":
                stream: anyio.abc.ByteStream = await anyio.connect_tcp(
                    url.host, url.port, tls=True, ssl_context=self._ssl_context,
                    tls_standard_compatible=False,
                )
            else:
                stream = await anyio.connect_tcp(url.host, url.port)
        except TRANSPORT_ERRORS as exc:
            raise to_reactor_error(exc, operation=operation) from exc
        self.connections_opened += 1
        framing = HttpClientConnection(
            max_body_bytes=self._max_body_bytes, max_header_bytes=self._max_header_bytes
        )
        return _Connection(stream, framing, (url.scheme, url.host, url.port))

    async def _exchange(
        self, conn: _Connection, request: HttpRequest, operation: str, *, reused: bool
    ) -> HttpResponse:
        """One request/response on ``conn``; the connection is pooled or closed on return."""
        self._in_use.add(conn)
        response: HttpResponse | None = None
        try:
            response = await self._send_and_receive(conn, request, operation, reused=reused)
        finally:
            self._in_use.discard(conn)
            if response is None:
                # Error, timeout or cancellation: the connection's state is unknown.
                await close_stream(conn.stream, self._close_timeout)
        conn.requests += 1
        await self._release(conn)
        return response

    async def _send_and_receive(
        self, conn: _Connection, request: HttpRequest, operation: str, *, reused: bool
    ) -> HttpResponse:
        payload = conn.framing.send(request)
        send_error: BaseException | None = None
        try:
            await conn.stream.send(payload)
        except TRANSPORT_ERRORS as exc:
            if reused:
                raise _StaleConnection from exc
            # A server may answer early (413) and close while we are still sending; the
            # answer is worth more than the broken pipe, so read before giving up.
            send_error = exc
        received_any = False
        try:
            while True:
                try:
                    chunk = await conn.stream.receive(_RECEIVE_CHUNK)
                except anyio.EndOfStream:
                    chunk = b""
                if not chunk and reused and not received_any:
                    raise _StaleConnection
                received_any = received_any or bool(chunk)
                response = conn.framing.receive(chunk)
                if response is not None:
                    return response
                if not chunk:  # pragma: no cover - the framing raises at EOF itself
                    # Without this guard a framing that returned None at EOF would spin.
                    raise NetworkError(
                        f"{operation}: connection closed before the response was complete"
                    )
        except TRANSPORT_ERRORS as exc:
            if reused and not received_any:
                raise _StaleConnection from exc
            raise to_reactor_error(send_error or exc, operation=operation) from exc
        except NetworkError:
            if send_error is not None:
                raise to_reactor_error(send_error, operation=operation) from send_error
            raise

    # -- the pool -------------------------------------------------------------------------

    async def _take_idle(self, origin: Origin) -> _Connection | None:
        now = anyio.current_time()
        expired = [c for c in self._idle if now - c.idle_since > self._keepalive_expiry]
        for conn in expired:  # all removed before the first await: other tasks share the pool
            self._idle.remove(conn)
        found: _Connection | None = None
        for conn in reversed(self._idle):  # most recently used first: least likely stale
            if conn.origin == origin:
                self._idle.remove(conn)
                found = conn
                break
        for conn in expired:
            await close_stream(conn.stream, self._close_timeout)
        return found

    async def _release(self, conn: _Connection) -> None:
        if self._closed or not conn.framing.reusable or self._max_idle_per_origin == 0:
            await close_stream(conn.stream, self._close_timeout)
            return
        conn.framing.start_next_cycle()
        conn.idle_since = anyio.current_time()
        evict: list[_Connection] = []
        same_origin = [c for c in self._idle if c.origin == conn.origin]
        if len(same_origin) >= self._max_idle_per_origin:
            evict.append(same_origin[0])
            self._idle.remove(same_origin[0])
        if self._max_idle_total == 0:
            evict.append(conn)
        else:
            if len(self._idle) >= self._max_idle_total:
                evict.append(self._idle.popleft())
            self._idle.append(conn)
        for old in evict:
            await close_stream(old.stream, self._close_timeout)
