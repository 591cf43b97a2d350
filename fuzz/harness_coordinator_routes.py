"""Fuzz the coordinator: request bytes -> HttpServerConnection -> CoordinatorMachine.

The literal placeholders ``$JWT`` and ``$SID`` in an input are replaced by a valid token and
a live session id, so mutations reach the authenticated routes.  Oracle: the machine never
raises, never answers 500, always answers a known status with a JSON body (or nothing);
differential: the same bytes fed whole and one byte at a time to two identically seeded
coordinators give the same request and the same response.
"""

from __future__ import annotations

import json

from reactor_proto.coordinator import InternalError, RateLimit
from reactor_proto.errors import RemoteProtocolError
from reactor_proto.http import HttpRequest, HttpResponse, HttpServerConnection
from tests.core.coordinator_harness import Driver

ACCEPTED = (RemoteProtocolError,)
VALID = {200, 201, 202, 204, 400, 401, 404, 405, 409, 413, 422, 426, 429, 501, 502}


def _setup() -> tuple[Driver, str, str]:
    driver = Driver(slots=1, assign_delay=0.0, max_body_bytes=4096,
                    rate_limit=RateLimit(burst=100, per_second=10))
    jwt = driver.token()
    return driver, jwt, driver.create_id(jwt)


def _parse(data: bytes, byte_at_a_time: bool) -> HttpRequest | HttpResponse | None:
    conn = HttpServerConnection(max_body_bytes=8192, max_header_bytes=8192)
    chunks = [data[i:i + 1] for i in range(len(data))] if byte_at_a_time else [data]
    for chunk in [*chunks, b""]:
        result = conn.receive(chunk)
        if result is not None:
            return result
    return None


def _answer(driver: Driver, parsed: HttpRequest | HttpResponse | None) -> HttpResponse | None:
    if not isinstance(parsed, HttpRequest):
        return None
    response = driver.machine.handle_http(parsed, driver.now)
    assert response.status in VALID, (response.status, response.body)
    if response.body:
        json.loads(response.body)
    driver.drain()
    assert not any(isinstance(e, InternalError) for e in driver.events), driver.events
    driver.advance(30.0)
    deadline = driver.machine.next_deadline()
    assert deadline is None or deadline > driver.now
    return response


def one_input(data: bytes) -> None:
    first, jwt, sid = _setup()
    second, jwt2, sid2 = _setup()
    assert (jwt, sid) == (jwt2, sid2)   # seeded: both coordinators are identical
    data = data.replace(b"$JWT", jwt.encode()).replace(b"$SID", sid.encode())
    whole = _parse(data, byte_at_a_time=False)
    split = _parse(data, byte_at_a_time=True)
    assert type(whole) is type(split), (whole, split)
    if isinstance(whole, HttpRequest):
        assert whole == split, (whole, split)
    response = _answer(first, whole)
    assert response == _answer(second, split)
