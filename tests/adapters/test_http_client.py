"""The HTTP client adapter against misbehaving raw listeners (and one TLS listener)."""

from __future__ import annotations

import contextlib
import errno
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
import h11
import pytest
from anyio.abc import SocketAttribute
from anyio.streams.tls import TLSListener

from reactor_anyio.http import HttpClient, describe_operation, to_reactor_error
from reactor_proto.errors import (
    DecodeError,
    InvalidStateError,
    LocalProtocolError,
    NetworkError,
    ReactorError,
    RemoteProtocolError,
    RequestTimeoutError,
)
from reactor_proto.http import HttpRequest

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("no_leaks")]

SECRET = "rk_live_do_not_log_me"
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"

Behaviour = Callable[[anyio.abc.SocketStream], Awaitable[None]]


class RawServer:
    """A loopback listener whose per-connection behaviour is a plain coroutine."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.connections = 0
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/path?sig=presigned-signature"

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        self.connections += 1
        async with stream:
            with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                await self.behaviour(stream)


ServeRaw = Callable[[Behaviour], Awaitable[RawServer]]


async def serve_until_cancelled(
    listener: anyio.abc.Listener[Any], handle: Callable[[Any], Awaitable[None]]
) -> None:
    async with listener:  # Listener.serve does not close the listener itself
        await listener.serve(handle)


@pytest.fixture
async def serve_raw() -> AsyncIterator[ServeRaw]:
    async with anyio.create_task_group() as tg:

        async def start(behaviour: Behaviour) -> RawServer:
            server = RawServer(behaviour)
            listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
            server.port = listener.extra(SocketAttribute.local_port)
            tg.start_soon(serve_until_cancelled, listener, server._handle)
            return server

        yield start
        tg.cancel_scope.cancel()


async def read_request(stream: anyio.abc.SocketStream) -> bytes:
    """Read one request head (our client sends bodies only in tests that say so)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive()
    return data


def get(url: str) -> HttpRequest:
    return HttpRequest(method="GET", url=url, headers=(("reactor-api-key", SECRET),))


def assert_secret_free(error: BaseException) -> None:
    for text in (str(error), repr(error), str(error.__cause__ or "")):
        assert SECRET not in text
        assert "presigned-signature" not in text


async def answer_ok_forever(stream: anyio.abc.SocketStream) -> None:
    while True:
        await read_request(stream)
        await stream.send(OK)


async def test_keep_alive_and_request_json(serve_raw: ServeRaw) -> None:
    server = await serve_raw(answer_ok_forever)
    async with HttpClient() as client:
        for _ in range(3):
            response = await client.request(get(server.url), timeout=5)
            assert (response.status, response.body) == (200, b"ok")
        response = await client.request_json("POST", server.url, {"a": 1}, timeout=5)
        assert response.status == 200
        assert client.idle_connections == 1
    assert server.connections == 1
    assert client.idle_connections == 0


async def test_closed_mid_body_is_a_network_error(serve_raw: ServeRaw) -> None:
    async def truncated(stream: anyio.abc.SocketStream) -> None:
        await read_request(stream)
        await stream.send(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly-part")

    server = await serve_raw(truncated)
    async with HttpClient() as client:
        with pytest.raises(NetworkError, match="before the response was complete") as info:
            await client.request(get(server.url), timeout=5)
    assert_secret_free(info.value)


@pytest.mark.parametrize(
    "garbage",
    [b"SSH-2.0-OpenSSH_9.6\r\n\r\n", b"HTTP/1.1 abc nonsense\r\n\r\n",
     b"HTTP/1.1 200 OK\r\ncontent-length: -5\r\n\r\n"],
)
async def test_garbage_is_a_remote_protocol_error(serve_raw: ServeRaw, garbage: bytes) -> None:
    async def liar(stream: anyio.abc.SocketStream) -> None:
        await read_request(stream)
        await stream.send(garbage)
        await anyio.sleep(5)

    server = await serve_raw(liar)
    async with HttpClient() as client:
        with pytest.raises(RemoteProtocolError) as info:
            await client.request(get(server.url), timeout=5)
        assert client.active_connections == client.idle_connections == 0
    assert_secret_free(info.value)


async def test_oversized_body_is_a_decode_error(serve_raw: ServeRaw) -> None:
    async def huge(stream: anyio.abc.SocketStream) -> None:
        await read_request(stream)
        await stream.send(b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n" + b"x" * 5000)

    server = await serve_raw(huge)
    async with HttpClient(max_body_bytes=1000) as client:
        with pytest.raises(DecodeError):
            await client.request(get(server.url), timeout=5)


async def test_silent_server_times_out_within_the_timeout(serve_raw: ServeRaw) -> None:
    async def silent(stream: anyio.abc.SocketStream) -> None:
        await anyio.sleep_forever()

    server = await serve_raw(silent)
    async with HttpClient() as client:
        begin = anyio.current_time()
        with pytest.raises(RequestTimeoutError, match=r"within 0\.3 s") as info:
            await client.request(get(server.url), timeout=0.3)
        assert 0.29 <= anyio.current_time() - begin < 1.0
        assert client.active_connections == client.idle_connections == 0
    assert_secret_free(info.value)


async def test_reset_is_a_network_error(serve_raw: ServeRaw) -> None:
    async def reset(stream: anyio.abc.SocketStream) -> None:
        await read_request(stream)
        await stream.send(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nab")
        raw = stream.extra(SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    server = await serve_raw(reset)
    async with HttpClient() as client:
        with pytest.raises(NetworkError) as info:
            await client.request(get(server.url), timeout=5)
    assert_secret_free(info.value)


async def test_connection_refused_is_a_quick_network_error() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody listens there now
    async with HttpClient() as client:
        begin = anyio.current_time()
        with pytest.raises(NetworkError, match="connection refused") as info:
            await client.request(get(f"http://127.0.0.1:{port}/x?sig=presigned-signature"),
                                 timeout=5)
        assert anyio.current_time() - begin < 1.0
    assert_secret_free(info.value)
    assert info.value.recoverable


async def test_cancellation_mid_request_leaves_no_socket(serve_raw: ServeRaw) -> None:
    arrived = anyio.Event()

    async def silent(stream: anyio.abc.SocketStream) -> None:
        await read_request(stream)
        arrived.set()
        await anyio.sleep_forever()

    server = await serve_raw(silent)
    async with HttpClient() as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(client.request, get(server.url), timeout=30.0))
            await arrived.wait()
            assert client.active_connections == 1
            tg.cancel_scope.cancel()
        assert client.active_connections == client.idle_connections == 0
    # no_leaks checks the descriptor count at teardown


async def test_stale_pooled_connection_is_retried_once(serve_raw: ServeRaw) -> None:
    async def one_then_close(stream: anyio.abc.SocketStream) -> None:
        await read_request(stream)
        await stream.send(OK)  # keep-alive response, then the server drops the connection

    server = await serve_raw(one_then_close)
    async with HttpClient() as client:
        assert (await client.request(get(server.url), timeout=5)).status == 200
        await anyio.sleep(0.05)  # let the close arrive
        assert client.idle_connections == 1
        assert (await client.request(get(server.url), timeout=5)).status == 200
    assert server.connections == 2


async def test_retry_happens_once_only(serve_raw: ServeRaw) -> None:
    answered = False

    async def then_hang_up(stream: anyio.abc.SocketStream) -> None:
        nonlocal answered
        await read_request(stream)
        if not answered:
            answered = True
            await stream.send(OK)  # first connection: one answer, then close

    server = await serve_raw(then_hang_up)
    async with HttpClient() as client:
        await client.request(get(server.url), timeout=5)
        await anyio.sleep(0.05)
        with pytest.raises(NetworkError, match="before a response arrived"):
            await client.request(get(server.url), timeout=5)
    assert server.connections == 2  # the stale one and exactly one retry


async def test_fresh_connection_is_not_retried(serve_raw: ServeRaw) -> None:
    async def hang_up(stream: anyio.abc.SocketStream) -> None:
        await read_request(stream)

    server = await serve_raw(hang_up)
    async with HttpClient() as client:
        with pytest.raises(NetworkError):
            await client.request(get(server.url), timeout=5)
    assert server.connections == 1


async def test_pool_is_bounded_and_expires(serve_raw: ServeRaw) -> None:
    server = await serve_raw(answer_ok_forever)
    async with HttpClient(max_idle_per_origin=2) as client:
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(partial(client.request, get(server.url), timeout=5.0))
        assert client.idle_connections == 2
        assert client.connections_opened == 5
    async with HttpClient(max_idle_total=1) as client:
        other = await serve_raw(answer_ok_forever)
        await client.request(get(server.url), timeout=5)
        await client.request(get(other.url), timeout=5)
        assert client.idle_connections == 1
    async with HttpClient(max_idle_total=0) as client:
        await client.request(get(server.url), timeout=5)
        assert client.idle_connections == 0
    async with HttpClient(keepalive_expiry=0.0) as client:
        await client.request(get(server.url), timeout=5)
        await anyio.sleep(0.01)
        await client.request(get(server.url), timeout=5)
        assert client.connections_opened == 2
    async with HttpClient(max_idle_per_origin=0) as client:
        await client.request(get(server.url), timeout=5)
        assert client.idle_connections == 0


async def test_early_answer_while_still_sending_is_returned(serve_raw: ServeRaw) -> None:
    async def refuse_upload(stream: anyio.abc.SocketStream) -> None:
        await read_request(stream)
        await stream.send(b"HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\n"
                          b"content-length: 0\r\n\r\n")
        raw = stream.extra(SocketAttribute.raw_socket)
        raw.shutdown(socket.SHUT_WR)
        with anyio.move_on_after(0.5):
            while True:
                await stream.receive()

    server = await serve_raw(refuse_upload)
    async with HttpClient() as client:
        request = HttpRequest(method="PUT", url=server.url, body=b"x" * 300_000)
        response = await client.request(request, timeout=5)
    assert response.status == 413


async def test_misuse_is_a_local_error(serve_raw: ServeRaw) -> None:
    server = await serve_raw(answer_ok_forever)
    client = HttpClient()
    with pytest.raises(LocalProtocolError):
        await client.request(get("ftp://example/x"), timeout=1)
    bad_header = HttpRequest(method="GET", url=server.url, headers=(("x", "a\r\nb"),))
    with pytest.raises(LocalProtocolError):
        await client.request(bad_header, timeout=1)
    await client.aclose()
    with pytest.raises(InvalidStateError, match="closed"):
        await client.request(get(server.url), timeout=1)
    with pytest.raises(ValueError, match="pool sizes"):
        HttpClient(max_idle_total=-1)


# ---- TLS --------------------------------------------------------------------------------


async def test_https_through_anyio_tls(
    tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_ctx, client_ctx = tls_contexts
    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = tcp.extra(SocketAttribute.local_port)
    listener = TLSListener(tcp, server_ctx, standard_compatible=False)

    async def handle(stream: anyio.abc.ByteStream) -> None:
        async with stream:
            try:
                while True:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += await stream.receive()
                    await stream.send(OK)
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve_until_cancelled, listener, handle)
        async with HttpClient(ssl_context=client_ctx) as client:
            for _ in range(2):
                response = await client.request(get(f"https://127.0.0.1:{port}/"), timeout=5)
                assert response.body == b"ok"
            assert client.connections_opened == 1
        async with HttpClient() as untrusting:  # system CAs: our certificate is not trusted
            with pytest.raises(NetworkError, match="TLS") as info:
                await untrusting.request(get(f"https://127.0.0.1:{port}/"), timeout=5)
            assert_secret_free(info.value)
        tg.cancel_scope.cancel()


async def test_tls_to_a_plain_http_server_is_a_network_error(serve_raw: ServeRaw) -> None:
    async def plain(stream: anyio.abc.SocketStream) -> None:
        await stream.receive()
        await stream.send(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")

    server = await serve_raw(plain)
    async with HttpClient() as client:
        with pytest.raises(NetworkError, match="TLS"):
            await client.request(get(f"https://127.0.0.1:{server.port}/"), timeout=5)


# ---- the error map ------------------------------------------------------------------------


def refused_group() -> OSError:
    error = OSError("All connection attempts failed")
    error.__cause__ = ExceptionGroup("attempts", [ConnectionRefusedError(errno.ECONNREFUSED,
                                                                         "refused")])
    return error


@pytest.mark.parametrize(
    ("exc", "kind", "text"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), NetworkError,
         "connection refused"),
        (ConnectionResetError(errno.ECONNRESET, "reset"), NetworkError, "ECONNRESET"),
        (BrokenPipeError(errno.EPIPE, "pipe"), NetworkError, "reset by peer"),
        (socket.gaierror(socket.EAI_NONAME, "unknown"), NetworkError, "name resolution"),
        (ssl.SSLError(1, "bad"), NetworkError, "TLS failure"),
        (anyio.EndOfStream(), NetworkError, "closed by peer"),
        (anyio.IncompleteRead(), NetworkError, "closed by peer"),
        (anyio.ClosedResourceError(), NetworkError, "already closed"),
        (anyio.BrokenResourceError(), NetworkError, "connection broken"),
        (refused_group(), NetworkError, "connection refused"),
        (OSError("All connection attempts failed"), NetworkError, "connection failed"),
        (OSError(errno.EHOSTUNREACH, "No route"), NetworkError, "EHOSTUNREACH"),
        (OSError(99999, "odd"), NetworkError, "OSError"),
        (h11.RemoteProtocolError(f"illegal header {SECRET}", 400), RemoteProtocolError,
         "malformed HTTP"),
        (h11.LocalProtocolError(f"illegal header {SECRET}"), LocalProtocolError,
         "could not be framed"),
        (RuntimeError("unexpected"), NetworkError, "RuntimeError"),
    ],
)
async def test_error_map(exc: BaseException, kind: type[ReactorError], text: str) -> None:
    mapped = to_reactor_error(exc, operation="GET http://h/p")
    assert type(mapped) is kind
    assert text in mapped.message
    assert mapped.message.startswith("GET http://h/p: ")
    assert SECRET not in mapped.message


async def test_error_map_details() -> None:
    broken = anyio.BrokenResourceError()
    broken.__cause__ = ConnectionResetError(errno.ECONNRESET, "reset")
    assert "reset by peer" in to_reactor_error(broken, operation="op").message
    typed = NetworkError("already typed")
    assert to_reactor_error(typed, operation="op") is typed
    verify = ssl.SSLCertVerificationError(1, "verify failed")
    assert "unknown reason" in to_reactor_error(verify, operation="op").message
    verify.verify_message = "self-signed certificate"
    assert "self-signed certificate" in to_reactor_error(verify, operation="op").message
    loop = OSError("loop")
    loop.__cause__ = loop  # a cycle must not hang the walk
    assert "connection failed" in to_reactor_error(loop, operation="op").message


async def test_describe_operation_drops_query_and_credentials() -> None:
    assert describe_operation("PUT", "https://user:pw@h:1/up?sig=abc") == "PUT https://h:1/up"
    assert describe_operation("GET", "http://[::1") == "GET <invalid url>"


# ---- scripted streams: failure orders a real socket cannot produce on demand ------------------


class ScriptedStream(anyio.abc.ByteStream):
    """A byte stream whose send outcome and receive results are set by the test."""

    def __init__(self, *, send_error: BaseException | None = None,
                 replies: list[bytes | BaseException] | None = None,
                 close_error: BaseException | None = None, hang_on_close: bool = False) -> None:
        self.send_error, self.replies = send_error, list(replies or [])
        self.close_error, self.hang_on_close, self.closed = close_error, hang_on_close, False

    async def send(self, item: bytes) -> None:
        if self.send_error is not None:
            raise self.send_error

    async def receive(self, max_bytes: int = 65536) -> bytes:
        await anyio.lowlevel.checkpoint()
        if not self.replies:
            raise anyio.EndOfStream
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return reply

    async def send_eof(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        self.closed = True
        if self.hang_on_close:
            await anyio.sleep_forever()
        if self.close_error is not None:
            raise self.close_error


class ScriptedClient(HttpClient):
    """Hands out scripted streams instead of connecting."""

    def __init__(self, streams: list[ScriptedStream], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.streams = streams

    async def _connect(self, url: Any, operation: str) -> Any:
        from reactor_anyio.http.client import _Connection
        from reactor_proto.http import HttpClientConnection

        self.connections_opened += 1
        return _Connection(self.streams.pop(0), HttpClientConnection(),
                           (url.scheme, url.host, url.port))


URL = "http://127.0.0.1:9/x"


async def test_send_failure_on_a_fresh_connection_still_reads_an_early_answer() -> None:
    early = ScriptedStream(send_error=BrokenPipeError(errno.EPIPE, "pipe"),
                           replies=[b"HTTP/1.1 413 Too Large\r\ncontent-length: 0\r\n\r\n"])
    async with ScriptedClient([early]) as client:
        response = await client.request(get(URL), timeout=5)
    assert response.status == 413


@pytest.mark.parametrize(
    "replies",
    [[ConnectionResetError(errno.ECONNRESET, "reset")], [b"HTTP/1.1 200 OK\r\ncontent-len"]],
)
async def test_send_failure_without_an_answer_reports_the_send_failure(
    replies: list[bytes | BaseException],
) -> None:
    broken = ScriptedStream(send_error=BrokenPipeError(errno.EPIPE, "pipe"), replies=replies)
    async with ScriptedClient([broken]) as client:
        with pytest.raises(NetworkError, match="EPIPE"):
            await client.request(get(URL), timeout=5)
    assert broken.closed


async def test_send_failure_on_a_pooled_connection_is_stale_and_retried() -> None:
    first = ScriptedStream(replies=[OK])
    fresh = ScriptedStream(replies=[OK])
    async with ScriptedClient([first, fresh]) as client:
        await client.request(get(URL), timeout=5)
        first.send_error = anyio.BrokenResourceError()
        assert (await client.request(get(URL), timeout=5)).body == b"ok"
        assert client.connections_opened == 2
    assert first.closed


async def test_receive_failure_on_a_pooled_connection_is_stale_and_retried() -> None:
    first = ScriptedStream(replies=[OK, ConnectionResetError(errno.ECONNRESET, "reset")])
    fresh = ScriptedStream(replies=[OK])
    async with ScriptedClient([first, fresh]) as client:
        await client.request(get(URL), timeout=5)
        assert (await client.request(get(URL), timeout=5)).body == b"ok"
    assert client.connections_opened == 2


async def test_failure_after_response_bytes_on_a_pooled_connection_is_not_retried() -> None:
    first = ScriptedStream(replies=[OK, b"HTTP/1.1 200 OK\r\n", anyio.BrokenResourceError()])
    async with ScriptedClient([first]) as client:
        await client.request(get(URL), timeout=5)
        with pytest.raises(NetworkError, match="connection broken"):
            await client.request(get(URL), timeout=5)
    assert client.connections_opened == 1


async def test_close_errors_and_hangs_are_contained() -> None:
    failing = ScriptedStream(replies=[b"junk\r\n\r\n"], close_error=anyio.BrokenResourceError())
    hanging = ScriptedStream(replies=[b"junk\r\n\r\n"], hang_on_close=True)
    async with ScriptedClient([failing, hanging], close_timeout=0.05) as client:
        with pytest.raises(RemoteProtocolError):
            await client.request(get(URL), timeout=5)
        begin = anyio.current_time()
        with pytest.raises(RemoteProtocolError):
            await client.request(get(URL), timeout=5)
        assert anyio.current_time() - begin < 1.0
    assert failing.closed
    assert hanging.closed
