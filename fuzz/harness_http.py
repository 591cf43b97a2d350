"""Fuzz the h11 framing layer in both roles (reactor_proto.http).

The first byte picks the role and seeds the random chunking; the rest is what the peer sent.
Oracle: a complete message, ``None`` (more bytes needed / peer closed), or one of ACCEPTED.
Differential: the same bytes fed whole, one byte at a time and in random chunks must give the
same result (equal message, or an exception of the same type).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from reactor_proto.errors import NetworkError, RemoteProtocolError
from reactor_proto.http import (
    HttpClientConnection,
    HttpRequest,
    HttpResponse,
    HttpServerConnection,
)

ACCEPTED = (RemoteProtocolError, NetworkError)

HEAD_LIMIT = 512
BODY_LIMIT = 2048
_REQUESTS = (HttpRequest(method="GET", url="http://localhost:8080/session"),
             HttpRequest(method="HEAD", url="http://localhost:8080/health"),
             HttpRequest(method="POST", url="http://[::1]:8080/start_session", body=b"{}"))


def _chunkings(data: bytes, seed: int) -> list[list[bytes]]:
    rng = random.Random(seed)
    chunks: list[bytes] = []
    position = 0
    while position < len(data):
        size = rng.randint(1, 64)
        chunks.append(data[position:position + size])
        position += size
    return [[data] if data else [], [data[i:i + 1] for i in range(len(data))], chunks]


def _run(feed: Callable[[bytes], object], chunks: list[bytes]) -> object:
    try:
        for chunk in chunks:
            result = feed(chunk)
            if result is not None:
                return result
        return feed(b"")
    except ACCEPTED as exc:
        return type(exc)


def _client(data: bytes, selector: int) -> object:
    outcomes = []
    for chunks in _chunkings(data, selector):
        conn = HttpClientConnection(max_body_bytes=BODY_LIMIT, max_header_bytes=HEAD_LIMIT)
        request = _REQUESTS[selector % len(_REQUESTS)]
        conn.send(request)
        outcome = _run(conn.receive, chunks)
        if not isinstance(outcome, type):
            assert outcome is not None, "EOF must complete or fail the response"
            assert len(outcome.body) <= BODY_LIMIT  # type: ignore[attr-defined]
            if request.method == "HEAD":
                assert outcome.body == b""  # type: ignore[attr-defined]
        outcomes.append(outcome)
    return outcomes


def _server(data: bytes, selector: int) -> object:
    outcomes = []
    for chunks in _chunkings(data, selector):
        conn = HttpServerConnection(max_body_bytes=BODY_LIMIT, max_header_bytes=HEAD_LIMIT)
        outcome = _run(conn.receive, chunks)
        if isinstance(outcome, HttpResponse):  # a rejection must always be sendable
            assert outcome.status >= 400
            assert conn.send(outcome).startswith(f"HTTP/1.1 {outcome.status} ".encode())
            outcome = ("rejected", outcome.status)  # the detail text may name h11's wording
        elif isinstance(outcome, HttpRequest):
            assert outcome.url.startswith(("http://", "https://"))
            assert conn.send(HttpResponse(status=200, body=b"ok"))
        outcomes.append(outcome)
    return outcomes


def one_input(data: bytes) -> None:
    if not data:
        return
    selector, payload = data[0], data[1:]
    outcomes = _client(payload, selector) if selector & 1 else _server(payload, selector)
    assert isinstance(outcomes, list)
    first = outcomes[0]
    for other in outcomes[1:]:
        assert other == first, f"chunking changed the outcome: {first!r} != {other!r}"
