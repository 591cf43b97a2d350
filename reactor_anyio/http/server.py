"""HTTP/1.1 server: ``reactor_proto.http`` server framing over anyio listeners.

Used by the local runtime and the coordinator emulator.  Each accepted connection runs one
task that reads a request (the framing answers malformed, over-long and over-large requests
itself), awaits ``handler(request)``, writes the response and, when the framing allows,
waits for the next request on the same connection.

Limits and their effect:

* ``idle_timeout``: the time a connection may take to deliver one complete request, counted
  from the end of the previous response (or from accept).  A client that goes quiet -- or
  trickles bytes, slowloris-style -- is closed when it expires; the timer is not reset by
  each byte.
* ``max_connections``: connections served at once.  At the limit the server stops accepting;
  new clients wait in the kernel's backlog until a slot frees.
* ``max_body_bytes`` / ``max_header_bytes``: passed to the framing, which answers 413 / 431.

Shutdown -- ``aclose()``, or cancelling the task group that runs :meth:`HttpServer.serve` --
cancels every connection task and closes the listener before returning.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING

import anyio
import anyio.abc
import attrs
from anyio.abc import SocketAttribute

from reactor_proto.constants import MAX_HTTP_BODY_BYTES
from reactor_proto.errors import InvalidStateError
from reactor_proto.http import HttpRequest, HttpResponse, HttpServerConnection, json_response

from .client import close_stream
from .errors import TRANSPORT_ERRORS, describe_operation

if TYPE_CHECKING:
    from reactor_anyio.client.service import ServiceHandle

log = logging.getLogger("reactor_anyio.http")

_RECEIVE_CHUNK = 65536


@attrs.frozen(kw_only=True)
class ConnectionTakeover:
    """Escape hatch for streaming: the handler takes the raw connection.

    ``run`` receives the socket stream after the request was read and writes the complete
    HTTP response itself (status line, headers, body -- chunked or close-delimited); the
    server closes the connection when ``run`` returns.  Nothing in the protocol needs it yet.
    """

    run: Callable[[anyio.abc.ByteStream], Awaitable[None]]


HandlerResult = HttpResponse | ConnectionTakeover
Handler = Callable[[HttpRequest], Awaitable[HandlerResult]]

INTERNAL_ERROR_BODY = {"detail": "internal error"}


class HttpServer:
    """Serve ``handler`` over HTTP/1.1 on ``host:port`` (port 0 picks a free port).

    Run it structured with ``await task_group.start(server.serve)`` (returns the bound
    address), or unstructured with ``await server.start()`` / ``await server.aclose()``, or as
    ``async with HttpServer(...) as server:`` (``server.address``).
    """

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body_bytes: int = MAX_HTTP_BODY_BYTES,
        max_header_bytes: int = 16 * 1024,
        idle_timeout: float = 30.0,
        max_connections: int = 128,
        send_timeout: float = 30.0,
        linger_timeout: float = 1.0,
        close_timeout: float = 2.0,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, got {max_connections!r}")
        self._handler = handler
        self._host = host
        self._port = port
        self._max_body_bytes = max_body_bytes
        self._max_header_bytes = max_header_bytes
        self._idle_timeout = idle_timeout
        self._send_timeout = send_timeout
        self._linger_timeout = linger_timeout
        self._close_timeout = close_timeout
        self._slots = anyio.Semaphore(max_connections)
        self._accept_retry_delay = 0.1
        self._scope: anyio.CancelScope | None = None
        self._stopped: anyio.Event | None = None
        self._service: ServiceHandle | None = None
        self._closing = False
        self._address: tuple[str, int] | None = None
        self._ids = itertools.count(1)
        self.active_connections = 0
        self.connections_accepted = 0
        self.requests_handled = 0

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port); only valid once serving."""
        if self._address is None:
            raise InvalidStateError("HttpServer.address: the server is not serving")
        return self._address

    # -- running ----------------------------------------------------------------------------

    async def serve(
        self, *, task_status: anyio.abc.TaskStatus[tuple[str, int]] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen and serve until cancelled or :meth:`aclose`; reports the bound address."""
        if self._stopped is not None:
            raise InvalidStateError("HttpServer.serve: a server instance serves only once")
        self._stopped = anyio.Event()
        try:
            listener = await anyio.create_tcp_listener(
                local_host=self._host, local_port=self._port
            )
            async with listener:
                sockets = [
                    lst for lst in listener.listeners if isinstance(lst, anyio.abc.SocketListener)
                ]
                bound = sockets[0].extra(SocketAttribute.local_address)
                assert isinstance(bound, tuple)  # a TCP listener: (host, port[, ...])
                host, port = str(bound[0]), int(bound[1])
                self._address = (host, port)
                with anyio.CancelScope() as scope:
                    self._scope = scope
                    if self._closing:
                        scope.cancel()
                    async with anyio.create_task_group() as tg:
                        for sock in sockets:
                            tg.start_soon(self._accept_loop, sock, tg)
                        log.info("HTTP server listening on %s:%d", host, port)
                        task_status.started(self._address)
        finally:
            self._address = None
            self._stopped.set()
            log.info("HTTP server stopped")

    async def start(self) -> tuple[str, int]:
        """Serve in the background (no task group needed); stop it with :meth:`aclose`."""
        from reactor_anyio.client.service import spawn_service  # import cycle otherwise

        if self._stopped is not None:
            raise InvalidStateError("HttpServer.start: a server instance serves only once")
        started = anyio.Event()
        failure: list[Exception] = []

        async def run() -> None:
            try:
                await self.serve(task_status=_EventStatus(started))
            except Exception as exc:  # reported to start()'s caller instead of logged
                failure.append(exc)
            finally:
                started.set()

        self._service = spawn_service(run, name="reactor_anyio.http.server")
        await started.wait()
        if failure:
            raise failure[0]
        return self.address

    async def aclose(self) -> None:
        """Stop accepting, cancel every connection task, close the listener, and wait."""
        self._closing = True
        if self._scope is not None:
            self._scope.cancel()
        if self._service is not None:
            self._service.cancel()
            await self._service.join()
        elif self._stopped is not None:
            await self._stopped.wait()

    async def __aenter__(self) -> HttpServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- connections ------------------------------------------------------------------------

    async def _accept_loop(
        self, listener: anyio.abc.SocketListener, tg: anyio.abc.TaskGroup
    ) -> None:
        while True:
            await self._slots.acquire()
            try:
                stream = await listener.accept()
            except OSError as exc:
                # Out of descriptors (EMFILE) or a connection aborted before accept: the
                # listener itself is fine, so back off briefly instead of stopping the server.
                self._slots.release()
                log.warning("accept failed (%s); retrying", type(exc).__name__)
                await anyio.sleep(self._accept_retry_delay)
                continue
            except BaseException:
                self._slots.release()
                raise
            self.connections_accepted += 1
            tg.start_soon(self._run_connection, stream, next(self._ids))

    async def _run_connection(self, stream: anyio.abc.SocketStream, conn_id: int) -> None:
        self.active_connections += 1
        try:
            await self._serve_requests(stream, conn_id)
        except TimeoutError:  # before TRANSPORT_ERRORS: it is an OSError subclass
            log.debug("connection %d: client did not read the response in time", conn_id)
        except TRANSPORT_ERRORS as exc:
            log.debug("connection %d: transport failure (%s)", conn_id, type(exc).__name__)
        except Exception as exc:
            # A response the framing refused, a takeover that failed: this connection is
            # done for, the server is not.
            log.error("connection %d: closed after %s: %s", conn_id, type(exc).__name__, exc)
        finally:
            await close_stream(stream, self._close_timeout)
            self.active_connections -= 1
            self._slots.release()

    async def _serve_requests(self, stream: anyio.abc.SocketStream, conn_id: int) -> None:
        framing = HttpServerConnection(
            max_body_bytes=self._max_body_bytes, max_header_bytes=self._max_header_bytes
        )
        while True:
            item: HttpRequest | HttpResponse | None = framing.poll()  # pipelined, buffered
            if item is None:
                with anyio.move_on_after(self._idle_timeout) as idle:
                    item = await self._read_request(stream, framing)
                if idle.cancelled_caught:
                    log.debug("connection %d: no complete request within %g s, closing",
                              conn_id, self._idle_timeout)
                    return
            if item is None:
                return  # the client closed
            if isinstance(item, HttpResponse):
                log.info("connection %d: rejected a request with HTTP %d", conn_id, item.status)
                with anyio.fail_after(self._send_timeout):
                    await stream.send(framing.send(item))
                await self._linger(stream)
                return
            result = await self._call_handler(item, conn_id)
            self.requests_handled += 1
            if isinstance(result, ConnectionTakeover):
                await result.run(stream)
                return
            with anyio.fail_after(self._send_timeout):
                await stream.send(framing.send(result))
            if not framing.keep_alive:
                return
            framing.start_next_cycle()

    async def _read_request(
        self, stream: anyio.abc.SocketStream, framing: HttpServerConnection
    ) -> HttpRequest | HttpResponse | None:
        """The next request, an error response to send, or None when the client closed."""
        while True:
            try:
                chunk = await stream.receive(_RECEIVE_CHUNK)
            except anyio.EndOfStream:
                chunk = b""
            item = framing.receive(chunk)
            if item is not None or not chunk:
                return item

    async def _call_handler(self, request: HttpRequest, conn_id: int) -> HandlerResult:
        try:
            return await self._handler(request)
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:
            # The traceback is the handler's own; the request is named by method and path
            # only, never by its headers.
            log.exception(
                "connection %d: handler failed for %s (%s)",
                conn_id, describe_operation(request.method, request.url), type(exc).__name__,
            )
            return json_response(500, INTERNAL_ERROR_BODY)

    async def _linger(self, stream: anyio.abc.SocketStream) -> None:
        """Half-close, then drain what the client is still sending for a moment.

        Closing with unread bytes in the socket makes the kernel send RST, which can destroy
        the error response before the client reads it (the classic lost-413 problem).
        """
        with anyio.move_on_after(self._linger_timeout):
            with contextlib.suppress(*TRANSPORT_ERRORS):  # EndOfStream: the client is done
                await stream.send_eof()
                while True:
                    await stream.receive(_RECEIVE_CHUNK)


class _EventStatus(anyio.abc.TaskStatus[tuple[str, int]]):
    """Adapter: ``serve``'s start signal sets an event (for :meth:`HttpServer.start`)."""

    def __init__(self, event: anyio.Event) -> None:
        self._event = event

    def started(self, value: tuple[str, int] | None = None) -> None:
        self._event.set()


async def serve_http(
    handler: Handler,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    task_status: anyio.abc.TaskStatus[tuple[str, int]] = anyio.TASK_STATUS_IGNORED,
    max_body_bytes: int = MAX_HTTP_BODY_BYTES,
    max_header_bytes: int = 16 * 1024,
    idle_timeout: float = 30.0,
    max_connections: int = 128,
) -> None:
    """Serve until cancelled: ``host, port = await task_group.start(serve_http, handler)``."""
    server = HttpServer(
        handler, host=host, port=port, max_body_bytes=max_body_bytes,
        max_header_bytes=max_header_bytes, idle_timeout=idle_timeout,
        max_connections=max_connections,
    )
    await server.serve(task_status=task_status)
