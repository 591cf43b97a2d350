"""HTTP/1.1 framing over h11 for both roles, URLs and CORS."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.errors import (
    DecodeError,
    InvalidStateError,
    LocalProtocolError,
    NetworkError,
    RemoteProtocolError,
)
from reactor_proto.http import (
    CORS_ALLOWED_HEADERS,
    HttpClientConnection,
    HttpRequest,
    HttpResponse,
    HttpServerConnection,
    Url,
    cors_headers,
    is_preflight,
    join_url,
    json_request,
    json_response,
    parse_url,
    preflight_response,
)

GET = HttpRequest(method="GET", url="http://localhost:8080/session")
OK_NULL = (b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\n"
           b"content-length: 4\r\n\r\nnull")


def client_after(request: HttpRequest = GET, **limits: int) -> HttpClientConnection:
    conn = HttpClientConnection(**limits)
    conn.send(request)
    return conn


def feed(conn: HttpClientConnection, data: bytes, chunks: list[int] | None = None,
         eof: bool = False) -> HttpResponse | None:
    """Feed ``data`` in chunks of the given sizes (1 byte at a time by default)."""
    sizes = chunks or [1] * len(data)
    position = 0
    for size in sizes:
        if position >= len(data):
            break
        response = conn.receive(data[position:position + size])
        position += size
        if response is not None:
            return response
    if position < len(data):
        response = conn.receive(data[position:])
        if response is not None:
            return response
    return conn.receive(b"") if eof else None


# ---- URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "expected"), [
    ("http://localhost:8080", Url(scheme="http", host="localhost", port=8080, target="/")),
    ("https://api.reactor.inc/sessions?x=1#frag",
     Url(scheme="https", host="api.reactor.inc", port=443, target="/sessions?x=1")),
    ("HTTP://Example.com/a", Url(scheme="http", host="example.com", port=80, target="/a")),
    ("http://[::1]:8080/s", Url(scheme="http", host="::1", port=8080, target="/s")),
])
def test_parse_url(url: str, expected: Url) -> None:
    assert parse_url(url) == expected


def test_host_header_and_origin() -> None:
    assert parse_url("http://[::1]:8080/").host_header == "[::1]:8080"
    assert parse_url("https://h:443/").host_header == "h"
    assert parse_url("http://h:81/x").origin == "http://h:81"


@pytest.mark.parametrize(("url", "problem"), [
    ("ftp://h/", "scheme must be http or https"),
    ("http:///path", "missing or invalid host"),
    ("http://user:pw@h/", "credentials"),
    ("http://h /", "whitespace"),
    ("http://h:99999/", "url"),
    ("http://h:port/", "url"),
    ("http://[::1/", "url"),
    ("localhost:8080", "scheme"),
    ("", "non-empty"),
    ("http://h^x/", "invalid host"),
])
def test_parse_url_errors(url: str, problem: str) -> None:
    with pytest.raises(LocalProtocolError, match=problem):
        parse_url(url)


def test_join_url() -> None:
    assert join_url("http://h:8080/", "/sessions") == "http://h:8080/sessions"
    assert join_url("http://h//", "tokens") == "http://h/tokens"


# ---- messages --------------------------------------------------------------------------------


def test_json_request_and_response() -> None:
    req = json_request("POST", "http://h/x", {"a": [1, 2]}, (("authorization", "Bearer t"),))
    assert req.body == b'{"a":[1,2]}'
    assert req.header("Content-Type") == "application/json"
    assert req.header("AUTHORIZATION") == "Bearer t"
    assert json_request("DELETE", "http://h/x", None).body is None
    keep = json_request("POST", "http://h/x", {}, (("content-type", "text/plain"),))
    assert keep.headers == (("content-type", "text/plain"),)
    resp = json_response(200, None)
    assert (resp.body, resp.header("content-type")) == (b"null", "application/json")
    assert resp.header("missing") is None


def test_request_target_parts() -> None:
    req = HttpRequest(method="GET", url="http://h/a/b?x=1&y=2")
    assert (req.target, req.path, req.query) == ("/a/b?x=1&y=2", "/a/b", "x=1&y=2")


# ---- client: sending -------------------------------------------------------------------------


def test_client_get_has_host_and_no_body() -> None:
    out = HttpClientConnection().send(GET)
    assert out == b"GET /session HTTP/1.1\r\nhost: localhost:8080\r\n\r\n"


def test_client_post_frames_the_body_itself() -> None:
    request = HttpRequest(method="POST", url="http://h/x", body=b"{}",
                          headers=(("Content-Length", "999"), ("transfer-encoding", "chunked")))
    assert HttpClientConnection().send(request) == \
        b"POST /x HTTP/1.1\r\nhost: h\r\ncontent-length: 2\r\n\r\n{}"


def test_client_bodiless_post_sends_content_length_zero() -> None:
    out = HttpClientConnection().send(HttpRequest(method="POST", url="http://h/tokens",
                                                  headers=(("reactor-api-key", "rk_1"),)))
    assert b"content-length: 0\r\n" in out


def test_client_keeps_a_given_host_header() -> None:
    out = HttpClientConnection().send(HttpRequest(method="GET", url="http://h/",
                                                  headers=(("Host", "other"),)))
    assert out.count(b"ost: ") == 1
    assert b"Host: other" in out


@pytest.mark.parametrize("headers", [(("x-bad", "a\r\nInjected: 1"),), (("x", "snow ☃"),)])
def test_client_refuses_bad_header_values(headers: tuple[tuple[str, str], ...]) -> None:
    with pytest.raises(LocalProtocolError):
        HttpClientConnection().send(HttpRequest(method="GET", url="http://h/", headers=headers))


def test_client_refuses_a_second_request_in_flight() -> None:
    conn = client_after()
    with pytest.raises(InvalidStateError, match="already in progress"):
        conn.send(GET)


# ---- client: receiving -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["whole", "bytes", "random"])
def test_client_receives_in_any_chunking(mode: str) -> None:
    conn = client_after()
    if mode == "whole":
        response = conn.receive(OK_NULL)
    elif mode == "bytes":
        response = feed(conn, OK_NULL)
    else:
        rng = random.Random(7)
        response = feed(conn, OK_NULL, [rng.randint(1, 9) for _ in OK_NULL])
    assert response == HttpResponse(status=202, reason="Accepted", body=b"null", headers=(
        ("content-type", "application/json"), ("content-length", "4")))


def test_client_202_with_empty_body() -> None:
    response = client_after().receive(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
    assert response is not None
    assert (response.status, response.body) == (202, b"")


def test_keep_alive_reuse_over_two_exchanges() -> None:
    conn = client_after()
    assert conn.receive(OK_NULL) is not None
    assert conn.reusable
    conn.start_next_cycle()
    conn.send(HttpRequest(method="POST", url="http://localhost:8080/stop_session", body=b""))
    second = conn.receive(b'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}')
    assert second is not None
    assert second.body == b"{}"
    assert conn.reusable


def test_connection_close_is_not_reusable() -> None:
    conn = client_after()
    response = conn.receive(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
    assert response is not None
    assert not conn.reusable
    with pytest.raises(InvalidStateError, match="cannot be reused"):
        conn.start_next_cycle()


def test_http10_body_until_eof() -> None:
    conn = client_after()
    assert conn.receive(b"HTTP/1.0 200 OK\r\n\r\nhello") is None
    response = conn.receive(b"")
    assert response is not None
    assert response.body == b"hello"
    assert not conn.reusable


def test_interim_100_continue_is_skipped() -> None:
    response = feed(client_after(), b"HTTP/1.1 100 Continue\r\n\r\n" + OK_NULL)
    assert response is not None
    assert response.status == 202


def test_chunked_response() -> None:
    data = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    assert client_after().receive(data) == feed(client_after(), data)
    response = client_after().receive(data)
    assert response is not None
    assert response.body == b"{}"


def test_head_response_has_no_body() -> None:
    conn = client_after(HttpRequest(method="HEAD", url="http://h/"))
    response = conn.receive(b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n")
    assert response is not None
    assert response.body == b""


def test_trailing_garbage_waits_for_the_next_cycle() -> None:
    conn = client_after()
    response = conn.receive(OK_NULL + b"GARBAGE\r\n\r\n")
    assert response is not None
    assert response.body == b"null"
    assert conn.receive(b"more") is None  # the exchange is complete
    conn.start_next_cycle()
    conn.send(GET)
    with pytest.raises(RemoteProtocolError, match="malformed response"):
        conn.receive(b"\r\n")


@pytest.mark.parametrize("whole", [True, False])
def test_truncated_body_is_a_network_error(whole: bool) -> None:
    data = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc"
    conn = client_after()
    if whole:
        assert conn.receive(data) is None
        with pytest.raises(NetworkError, match="before the response was complete"):
            conn.receive(b"")
    else:
        with pytest.raises(NetworkError, match="before the response was complete"):
            feed(conn, data, eof=True)


def test_eof_before_any_byte() -> None:
    with pytest.raises(NetworkError, match="before a response arrived"):
        client_after().receive(b"")


@pytest.mark.parametrize("data", [b"garbage\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n",
                                  b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n"])
def test_garbage_is_a_remote_protocol_error_and_sticky(data: bytes) -> None:
    conn = client_after()
    with pytest.raises(RemoteProtocolError, match="malformed response"):
        conn.receive(data)
    with pytest.raises(RemoteProtocolError):
        conn.receive(b"x")


@pytest.mark.parametrize("chunked", [False, True])
def test_oversize_body(chunked: bool) -> None:
    body = b"x" * 100
    head = (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n64\r\n" if chunked
            else b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")
    for chunks in (None, [len(head) + len(body)]):
        conn = client_after(max_body_bytes=50)
        with pytest.raises(DecodeError, match="exceeds the limit of 50 bytes"):
            feed(conn, head + body, chunks)


@pytest.mark.parametrize("chunks", [None, [100_000]])
def test_oversize_head_fails_for_any_chunking(chunks: list[int] | None) -> None:
    data = b"HTTP/1.1 200 OK\r\nx-big: " + b"a" * 300 + b"\r\ncontent-length: 0\r\n\r\n"
    with pytest.raises(RemoteProtocolError, match="response head exceeds 256 bytes"):
        feed(client_after(max_header_bytes=256), data, chunks)


def test_data_before_a_request_and_after_eof() -> None:
    with pytest.raises(RemoteProtocolError, match="before any request"):
        HttpClientConnection().receive(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(NetworkError, match="no request in flight"):
        HttpClientConnection().receive(b"")
    conn = client_after()
    conn.receive(b"HTTP/1.0 200 OK\r\n\r\n")
    conn.receive(b"")
    with pytest.raises(LocalProtocolError, match="after end of stream"):
        conn.receive(b"x")


def outcome(conn: HttpClientConnection, data: bytes, chunks: list[int] | None) -> object:
    try:
        return feed(conn, data, chunks, eof=True)
    except (RemoteProtocolError, NetworkError) as exc:
        return type(exc)


@given(st.binary(max_size=200), st.randoms(use_true_random=False))
def test_client_chunking_never_changes_the_outcome(data: bytes, rng: random.Random) -> None:
    prefix = b"HTTP/1.1 200 OK\r\n"
    for candidate in (data, prefix + data):
        whole = outcome(client_after(max_header_bytes=64), candidate, [len(candidate) or 1])
        assert outcome(client_after(max_header_bytes=64), candidate, None) == whole
        sizes = [rng.randint(1, 16) for _ in candidate]
        assert outcome(client_after(max_header_bytes=64), candidate, sizes) == whole


# ---- server ----------------------------------------------------------------------------------

POST_OFFER = (b"POST /sessions/local/transport/webrtc/connections/4821/sdp_params HTTP/1.1\r\n"
              b"Host: localhost:8080\r\nContent-Type: application/json\r\n"
              b"Content-Length: 17\r\n\r\n{\"sdp_offer\":\"x\"}")


def serve(data: bytes, conn: HttpServerConnection | None = None,
          chunk: int | None = None) -> tuple[HttpServerConnection, object]:
    conn = conn or HttpServerConnection()
    step = chunk or len(data) or 1
    result: object = None
    for start in range(0, len(data), step):
        result = conn.receive(data[start:start + step])
        if result is not None:
            break
    return conn, result


@pytest.mark.parametrize("chunk", [None, 1, 7])
def test_server_parses_a_request_in_any_chunking(chunk: int | None) -> None:
    _, request = serve(POST_OFFER, chunk=chunk)
    assert isinstance(request, HttpRequest)
    assert request.method == "POST"
    assert request.url == ("http://localhost:8080/sessions/local/transport/webrtc/"
                           "connections/4821/sdp_params")
    assert request.body == b'{"sdp_offer":"x"}'
    assert request.header("content-type") == "application/json"


def test_server_keep_alive_two_requests() -> None:
    conn, first = serve(POST_OFFER)
    assert isinstance(first, HttpRequest)
    out = conn.send(json_response(202, {"connection_id": 4821}))
    assert out.startswith(b"HTTP/1.1 202 Accepted\r\n")
    assert out.endswith(b'\r\n\r\n{"connection_id":4821}')
    assert conn.keep_alive
    conn.start_next_cycle()
    _, second = serve(b"GET /session HTTP/1.1\r\nHost: h\r\n\r\n", conn)
    assert isinstance(second, HttpRequest)
    assert (second.url, second.body) == ("http://h/session", b"")


def test_server_pipelined_request_needs_poll() -> None:
    conn, first = serve(POST_OFFER + b"GET /health HTTP/1.1\r\nHost: h\r\n\r\n")
    assert isinstance(first, HttpRequest)
    assert conn.poll() is None  # still answering the first one
    conn.send(HttpResponse(status=204))
    conn.start_next_cycle()
    second = conn.poll()
    assert isinstance(second, HttpRequest)
    assert second.path == "/health"


@pytest.mark.parametrize(("data", "status"), [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 needs Host
    (b"GET / HTTP/1.1\r\nHost: bad host\r\n\r\n", 400),
    (b"GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99\r\n\r\n", 413),
    (b"GET / HTTP/1.1\r\nHost: h\r\nx: " + b"a" * 200 + b"\r\n\r\n", 431),
])
def test_server_rejections(data: bytes, status: int) -> None:
    for chunk in (None, 1):
        conn = HttpServerConnection(max_body_bytes=50, max_header_bytes=128)
        _, response = serve(data, conn, chunk)
        assert isinstance(response, HttpResponse)
        assert response.status == status
        assert response.header("connection") == "close"
        out = conn.send(response)
        assert out.startswith(f"HTTP/1.1 {status} ".encode())
        assert b'{"detail":' in out
        assert not conn.keep_alive
        assert conn.receive(b"GET / HTTP/1.1\r\n") is None  # nothing more is read


def test_server_chunked_body_over_limit() -> None:
    data = (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"40\r\n" + b"x" * 64 + b"\r\n0\r\n\r\n")
    _, response = serve(data, HttpServerConnection(max_body_bytes=10))
    assert isinstance(response, HttpResponse)
    assert response.status == 413


def test_server_rejection_sent_by_hand_has_no_body_for_204() -> None:
    conn, response = serve(b"GARBAGE\r\n\r\n")
    assert isinstance(response, HttpResponse)
    out = conn.send(HttpResponse(status=204, headers=(("connection", "close"),)))
    assert out == b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n"


def test_server_http10_and_absolute_form() -> None:
    conn, request = serve(b"GET /x HTTP/1.0\r\n\r\n")
    assert isinstance(request, HttpRequest)
    assert request.url == "http://localhost/x"
    conn.send(HttpResponse(status=200, body=b"ok"))
    assert not conn.keep_alive
    _, absolute = serve(b"GET http://h:1/y?q HTTP/1.1\r\nHost: h:1\r\n\r\n")
    assert isinstance(absolute, HttpRequest)
    assert absolute.target == "/y?q"


def test_server_eof_and_truncation() -> None:
    conn = HttpServerConnection()
    assert conn.receive(b"") is None
    assert conn.peer_closed
    assert not conn.keep_alive
    truncated = HttpServerConnection()
    assert truncated.receive(POST_OFFER[:-3]) is None
    assert truncated.receive(b"") is None
    assert truncated.peer_closed


def test_server_head_and_bodiless_statuses() -> None:
    conn, _ = serve(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
    out = conn.send(HttpResponse(status=200, body=b"hello"))
    assert out.endswith(b"content-length: 5\r\n\r\n")
    conn2, _ = serve(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    out2 = conn2.send(HttpResponse(status=204, body=b"ignored"))
    assert b"content-length" not in out2
    assert out2.endswith(b"\r\n\r\n")


def test_server_misuse() -> None:
    with pytest.raises(InvalidStateError, match="no request to answer"):
        HttpServerConnection().send(HttpResponse(status=200))
    conn, _ = serve(POST_OFFER)
    with pytest.raises(InvalidStateError, match="not complete"):
        conn.start_next_cycle()


def test_client_and_server_agree_on_a_request() -> None:
    request = json_request("PUT", "http://localhost:8080/a?b=1", {"k": "v"},
                           (("authorization", "Bearer local"),))
    _, parsed = serve(HttpClientConnection().send(request))
    assert isinstance(parsed, HttpRequest)
    assert (parsed.method, parsed.url, parsed.body) == (request.method, request.url, request.body)
    assert parsed.header("authorization") == "Bearer local"


@given(st.sampled_from([200, 201, 202, 400, 404, 409, 422, 429, 500, 503]),
       st.binary(max_size=300), st.lists(st.tuples(
           st.sampled_from(["x-a", "retry-after", "content-type"]),
           st.text(alphabet="abcdef0123 /;=", max_size=10).map(str.strip)), max_size=3))
def test_server_response_round_trips_to_the_client(status: int, body: bytes,
                                                   headers: list[tuple[str, str]]) -> None:
    server, _ = serve(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    response = HttpResponse(status=status, headers=tuple(headers), body=body)
    parsed = client_after().receive(server.send(response))
    assert parsed is not None
    assert (parsed.status, parsed.body) == (status, body)
    assert parsed.headers[:len(headers)] == tuple(headers)


# ---- CORS ------------------------------------------------------------------------------------


def test_cors_headers() -> None:
    wildcard = dict(cors_headers(None))
    assert wildcard["access-control-allow-origin"] == "*"
    assert "vary" not in wildcard
    echoed = dict(cors_headers("http://app.example"))
    assert echoed["access-control-allow-origin"] == "http://app.example"
    assert echoed["vary"] == "Origin"
    for name in ("Authorization", "Content-Type", "Reactor-API-Key", "Reactor-API-Version",
                 "Reactor-API-Accept-Version", "Reactor-WebRTC-Version"):
        assert name in CORS_ALLOWED_HEADERS


def test_preflight() -> None:
    preflight = HttpRequest(method="OPTIONS", url="http://h/sessions", headers=(
        ("origin", "http://app"), ("access-control-request-method", "POST")))
    assert is_preflight(preflight)
    assert not is_preflight(HttpRequest(method="OPTIONS", url="http://h/"))
    assert not is_preflight(GET)
    response = preflight_response(preflight)
    assert response.status == 204
    assert response.header("access-control-allow-origin") == "http://app"


# ---- fuzz regressions ------------------------------------------------------------------------


def test_fuzz_regression_blank_head_is_400_in_any_chunking() -> None:
    # fuzz: "\n\n" gave 400s whose detail text differed by chunking; only the status counts.
    for chunk in (None, 1):
        _, response = serve(b"\n\n", chunk=chunk)
        assert isinstance(response, HttpResponse)
        assert response.status == 400


def test_fuzz_regression_unknown_transfer_coding_is_501() -> None:
    data = b"POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ghunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    conn, response = serve(data)
    assert isinstance(response, HttpResponse)
    assert response.status == 501
    assert conn.send(response).startswith(b"HTTP/1.1 501 Not Implemented\r\n")


def test_server_refuses_a_second_response() -> None:
    conn, _ = serve(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    conn.send(HttpResponse(status=200))
    with pytest.raises(LocalProtocolError, match="response 200"):
        conn.send(HttpResponse(status=200))
