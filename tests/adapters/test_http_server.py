"""The HTTP server adapter over loopback, driven by our client and by raw sockets."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable

import anyio
import anyio.abc
import pytest

from reactor_anyio.http import ConnectionTakeover, HttpClient, HttpServer, serve_http
from reactor_proto.errors import InvalidStateError
from reactor_proto.http import HttpRequest, HttpResponse, json_response

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("no_leaks")]

TIMEOUT = 5.0


async def echo(request: HttpRequest) -> HttpResponse:
    """Answers with what it saw: method, path and the decoded JSON body."""
    body = json.loads(request.body) if request.body else None
    path = request.url.split("://", 1)[1].partition("/")[2]
    return json_response(200, {"method": request.method, "path": "/" + path, "body": body})


@pytest.fixture
async def echo_server() -> AsyncIterator[HttpServer]:
    async with HttpServer(echo, idle_timeout=5.0) as server:
        yield server


def base(server: HttpServer) -> str:
    host, port = server.address
    return f"http://{host}:{port}"


async def raw_exchange(server: HttpServer, data: bytes, *, limit: float = 3.0) -> bytes:
    """Send raw bytes and read until the server closes the connection."""
    host, port = server.address
    received = bytearray()
    async with await anyio.connect_tcp(host, port) as stream:
        await stream.send(data)
        with anyio.fail_after(limit):
            try:
                while True:
                    received += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass
    return bytes(received)


async def wait_until(condition: Callable[[], bool], limit: float = 5.0) -> None:
    """Poll server counters (plain attributes: there is no event to wait on)."""
    with anyio.fail_after(limit):
        while not condition():  # noqa: ASYNC110
            await anyio.sleep(0.02)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
async def test_methods_with_json_bodies(echo_server: HttpServer, method: str) -> None:
    body = None if method == "GET" else {"name": "helios", "n": [1, 2]}
    async with HttpClient() as client:
        response = await client.request_json(
            method, base(echo_server) + "/sessions/x?y=1", body, timeout=TIMEOUT
        )
    assert response.status == 200
    assert json.loads(response.body) == {
        "method": method, "path": "/sessions/x?y=1", "body": body,
    }


async def test_keep_alive_reuses_one_connection(echo_server: HttpServer) -> None:
    async with HttpClient() as client:
        for i in range(6):
            response = await client.request_json(
                "POST", base(echo_server) + "/n", {"i": i}, timeout=TIMEOUT
            )
            assert json.loads(response.body)["body"] == {"i": i}
        assert client.connections_opened == 1
    assert echo_server.connections_accepted == 1
    assert echo_server.requests_handled == 6


@pytest.mark.parametrize(("payload", "expected"), [(b"null", b"null"), (b"", b"")])
async def test_202_with_null_and_empty_body(payload: bytes, expected: bytes) -> None:
    async def pending(request: HttpRequest) -> HttpResponse:
        return HttpResponse(status=202, headers=(("content-type", "application/json"),),
                            body=payload)

    async with HttpServer(pending) as server, HttpClient() as client:
        for _ in range(2):  # and the connection stays usable afterwards
            response = await client.request(
                HttpRequest(method="GET", url=base(server) + "/sdp_params"), timeout=TIMEOUT
            )
            assert (response.status, response.body) == (202, expected)
        assert client.connections_opened == 1


async def test_body_over_the_limit_gets_413_and_close() -> None:
    async with HttpServer(echo, max_body_bytes=1024) as server, HttpClient() as client:
        response = await client.request(
            HttpRequest(method="PUT", url=base(server) + "/uploads/1", body=b"x" * 200_000),
            timeout=TIMEOUT,
        )
        assert response.status == 413
        assert server.requests_handled == 0
        assert client.idle_connections == 0  # the server closed it


async def test_headers_over_the_limit_get_431() -> None:
    async with HttpServer(echo, max_header_bytes=1024) as server:
        reply = await raw_exchange(
            server, b"GET / HTTP/1.1\r\nhost: a\r\nx-big: " + b"a" * 4000  # still unfinished
        )
    assert reply.startswith(b"HTTP/1.1 431 ")


@pytest.mark.parametrize(
    "garbage",
    [b"\x00\x01\x02 nonsense\r\n\r\n", b"GET / HTTP/1.1\r\nbad header line\r\n\r\n",
     b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: nope\r\n\r\n"],
)
async def test_malformed_request_gets_400_and_close(
    echo_server: HttpServer, garbage: bytes
) -> None:
    reply = await raw_exchange(echo_server, garbage)
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert echo_server.requests_handled == 0


async def test_idle_connection_is_closed_after_idle_timeout() -> None:
    async with HttpServer(echo, idle_timeout=0.3) as server:
        host, port = server.address
        async with await anyio.connect_tcp(host, port) as stream:
            start = anyio.current_time()
            closed_by_server = False
            with anyio.fail_after(3.0):
                # slowloris: a byte now and then never completes the request
                try:
                    for byte in b"GET / HTTP/1.1\r\nhost: a\r\n":
                        await stream.send(bytes([byte]))
                        await anyio.sleep(0.05)
                    await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    closed_by_server = True
            assert closed_by_server
            assert 0.25 <= anyio.current_time() - start < 2.0
        assert server.active_connections == 0


async def test_idle_timeout_also_applies_between_keep_alive_requests() -> None:
    async with HttpServer(echo, idle_timeout=0.2) as server:
        host, port = server.address
        async with await anyio.connect_tcp(host, port) as stream:
            await stream.send(b"GET /a HTTP/1.1\r\nhost: a\r\n\r\n")
            first = await stream.receive()
            assert first.startswith(b"HTTP/1.1 200 ")
            with anyio.fail_after(2.0), pytest.raises(anyio.EndOfStream):
                await stream.receive()


async def test_handler_exception_becomes_500_and_server_survives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def flaky(request: HttpRequest) -> HttpResponse:
        if request.url.endswith("/boom"):
            raise RuntimeError("handler bug")
        return await echo(request)

    caplog.set_level(logging.ERROR, logger="reactor_anyio.http")
    secret = "rk_live_secret_key"
    async with HttpServer(flaky) as server, HttpClient() as client:
        bad = await client.request(
            HttpRequest(method="GET", url=base(server) + "/boom",
                        headers=(("reactor-api-key", secret),)),
            timeout=TIMEOUT,
        )
        good = await client.request(HttpRequest(method="GET", url=base(server) + "/ok"),
                                    timeout=TIMEOUT)
    assert bad.status == 500
    assert json.loads(bad.body) == {"detail": "internal error"}
    assert good.status == 200
    assert any("handler failed for GET" in r.getMessage() for r in caplog.records)
    assert secret not in caplog.text


async def test_concurrent_requests_are_served_concurrently() -> None:
    in_flight = 0
    peak = 0

    async def slow(request: HttpRequest) -> HttpResponse:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.05)
        in_flight -= 1
        return await echo(request)

    results: list[int] = []
    async with HttpServer(slow) as server, HttpClient() as client:

        async def one(i: int) -> None:
            response = await client.request_json("POST", base(server) + "/c", {"i": i},
                                                 timeout=TIMEOUT)
            results.append(json.loads(response.body)["body"]["i"])

        async with anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(one, i)
    assert sorted(results) == list(range(10))
    assert peak == 10


async def test_max_connections_bounds_concurrent_connections() -> None:
    async with HttpServer(echo, max_connections=2) as server:
        host, port = server.address
        first = await anyio.connect_tcp(host, port)
        second = await anyio.connect_tcp(host, port)
        third = await anyio.connect_tcp(host, port)
        try:
            await third.send(b"GET /third HTTP/1.1\r\nhost: a\r\n\r\n")
            with anyio.move_on_after(0.3) as waited:
                await third.receive()
            assert waited.cancelled_caught  # not served while two connections are open
            assert server.active_connections == 2
            await first.aclose()
            with anyio.fail_after(3.0):
                assert (await third.receive()).startswith(b"HTTP/1.1 200 ")
        finally:
            for stream in (first, second, third):
                await stream.aclose()


async def test_connection_close_header_closes_after_response(echo_server: HttpServer) -> None:
    reply = await raw_exchange(
        echo_server, b"GET /x HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n"
    )
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert echo_server.requests_handled == 1


async def test_client_vanishing_mid_request_is_harmless(echo_server: HttpServer) -> None:
    host, port = echo_server.address
    async with await anyio.connect_tcp(host, port) as stream:
        await stream.send(b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 100\r\n\r\nabc")
    # the server is still fine
    async with HttpClient() as client:
        response = await client.request(HttpRequest(method="GET", url=base(echo_server) + "/"),
                                         timeout=TIMEOUT)
    assert response.status == 200


async def test_takeover_escape_hatch_hands_over_the_raw_stream() -> None:
    async def streaming(request: HttpRequest) -> ConnectionTakeover:
        async def run(stream: anyio.abc.ByteStream) -> None:
            await stream.send(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
            for part in (b"one,", b"two,", b"three"):
                await stream.send(part)

        return ConnectionTakeover(run=run)

    async with HttpServer(streaming) as server:
        reply = await raw_exchange(server, b"GET /clip HTTP/1.1\r\nhost: a\r\n\r\n")
    assert reply == b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\none,two,three"


async def test_aclose_is_prompt_with_open_connections_and_busy_handlers() -> None:
    started = anyio.Event()

    async def stuck(request: HttpRequest) -> HttpResponse:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError

    server = HttpServer(stuck)
    host, port = await server.start()
    idle = await anyio.connect_tcp(host, port)
    busy = await anyio.connect_tcp(host, port)
    try:
        await busy.send(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
        with anyio.fail_after(3.0):
            await started.wait()
        begin = anyio.current_time()
        await server.aclose()
        assert anyio.current_time() - begin < 1.0
        assert server.active_connections == 0
        for stream in (idle, busy):
            with anyio.fail_after(2.0), pytest.raises(anyio.EndOfStream):
                await stream.receive()
        with pytest.raises(OSError, match="connect"):
            await anyio.connect_tcp(host, port)
    finally:
        await idle.aclose()
        await busy.aclose()


async def test_serve_http_in_a_task_group_stops_on_cancellation() -> None:
    async with anyio.create_task_group() as tg:
        host, port = await tg.start(serve_http, echo)
        async with HttpClient() as client:
            response = await client.request(
                HttpRequest(method="GET", url=f"http://{host}:{port}/t"), timeout=TIMEOUT
            )
        assert response.status == 200
        tg.cancel_scope.cancel()
    with pytest.raises(OSError, match="connect"):
        await anyio.connect_tcp(host, port)


async def test_server_serves_once_and_reports_its_address_only_while_serving() -> None:
    server = HttpServer(echo)
    with pytest.raises(InvalidStateError, match="not serving"):
        _ = server.address
    async with server:
        assert server.address[0] == "127.0.0.1"
        with pytest.raises(InvalidStateError, match="only once"):
            await server.start()
        with pytest.raises(InvalidStateError, match="only once"):
            await server.serve()
    with pytest.raises(InvalidStateError):
        _ = server.address


async def test_start_reports_a_port_already_in_use(echo_server: HttpServer) -> None:
    host, port = echo_server.address
    with pytest.raises(OSError, match="already in use"):
        await HttpServer(echo, host=host, port=port).start()


async def test_aclose_before_serving_and_twice_is_harmless() -> None:
    server = HttpServer(echo)
    await server.aclose()
    other = HttpServer(echo)
    async with other:
        pass
    await other.aclose()


async def test_max_connections_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        HttpServer(echo, max_connections=0)


async def test_pipelined_requests_are_answered_in_order(echo_server: HttpServer) -> None:
    reply = await raw_exchange(
        echo_server,
        b"GET /one HTTP/1.1\r\nhost: a\r\n\r\n"
        b"GET /two HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
    )
    assert reply.count(b"HTTP/1.1 200 ") == 2
    assert reply.index(b'"/one"') < reply.index(b'"/two"')


async def test_a_response_the_framing_refuses_closes_only_that_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def invalid(request: HttpRequest) -> HttpResponse:
        if request.url.endswith("/bad"):
            return HttpResponse(status=200, headers=(("x-bad", "a\r\nb"),))
        return await echo(request)

    caplog.set_level(logging.ERROR, logger="reactor_anyio.http")
    async with HttpServer(invalid) as server:
        assert await raw_exchange(server, b"GET /bad HTTP/1.1\r\nhost: a\r\n\r\n") == b""
        async with HttpClient() as client:
            ok = await client.request(HttpRequest(method="GET", url=base(server) + "/ok"),
                                      timeout=TIMEOUT)
    assert ok.status == 200
    assert any("LocalProtocolError" in r.getMessage() for r in caplog.records)


async def test_a_client_that_never_reads_is_dropped_after_send_timeout() -> None:
    async def huge(request: HttpRequest) -> HttpResponse:
        return HttpResponse(status=200, body=b"x" * 64_000_000)

    async with HttpServer(huge, send_timeout=0.2) as server:
        host, port = server.address
        async with await anyio.connect_tcp(host, port) as stream:
            await stream.send(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
            await wait_until(lambda: server.requests_handled == 1 and not server.active_connections)
    assert server.active_connections == 0


async def test_aclose_before_serve_starts_makes_serve_return_at_once() -> None:
    server = HttpServer(echo)
    await server.aclose()
    with anyio.fail_after(2.0):
        await server.serve()
    with pytest.raises(InvalidStateError):
        _ = server.address


async def test_aclose_stops_a_server_running_in_a_task_group() -> None:
    server = HttpServer(echo)
    async with anyio.create_task_group() as tg:
        host, port = await tg.start(server.serve)
        assert (host, port) == server.address
        with anyio.fail_after(2.0):
            await server.aclose()
    with pytest.raises(OSError, match="connect"):
        await anyio.connect_tcp(host, port)


async def test_a_client_reset_while_the_handler_runs_is_harmless(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import socket
    import struct

    arrived = anyio.Event()
    release = anyio.Event()

    async def slow(request: HttpRequest) -> HttpResponse:
        arrived.set()
        await release.wait()
        return HttpResponse(status=200, body=b"x" * 1_000_000)

    caplog.set_level(logging.DEBUG, logger="reactor_anyio.http")
    async with HttpServer(slow) as server:
        host, port = server.address
        stream = await anyio.connect_tcp(host, port)
        await stream.send(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
        await arrived.wait()
        raw = stream.extra(anyio.abc.SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await stream.aclose()  # RST
        release.set()
        await wait_until(lambda: not server.active_connections)
    assert any("transport failure" in r.getMessage() for r in caplog.records)


async def test_a_failing_accept_does_not_stop_the_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """EMFILE cannot be provoked safely in a shared test process, so accept is scripted."""
    import errno

    server = HttpServer(echo)
    calls = 0

    class FlakyListener:
        async def accept(self) -> anyio.abc.SocketStream:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise OSError(errno.EMFILE, "Too many open files")
            await anyio.sleep_forever()
            raise AssertionError

    caplog.set_level(logging.WARNING, logger="reactor_anyio.http")
    server._accept_retry_delay = 0.0
    async with anyio.create_task_group() as tg:
        tg.start_soon(server._accept_loop, FlakyListener(), tg)  # type: ignore[arg-type]
        await wait_until(lambda: calls == 2)
        tg.cancel_scope.cancel()
    assert any("accept failed (OSError)" in r.getMessage() for r in caplog.records)
