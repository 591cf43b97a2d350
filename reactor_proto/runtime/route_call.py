"""What every runtime route handler shares: the call it gets, early replies, reading the
request (JSON body, session, connection ids, query values)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ..bodies import build_error_detail, decode_json_body
from ..constants import LEGACY_CONNECTION_ID, LOCAL_SESSION_ID, MAX_CONNECTION_ID
from ..errors import DecodeError
from ..http import HttpRequest, HttpResponse, json_response
from .connections import Connection
from .host import RouteHost
from .session import RUNNING_STATES


class Reply(Exception):
    """Carries an early response out of a handler (an error found while reading input)."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


@attrs.frozen(kw_only=True)
class Call:
    machine: RouteHost
    request: HttpRequest
    now: float
    params: Mapping[str, str]
    query: str


def error(status: int, detail: str, headers: tuple[tuple[str, str], ...] = ()) -> HttpResponse:
    return json_response(status, build_error_detail(detail), headers)


def fail(status: int, detail: str) -> Reply:
    return Reply(error(status, detail))


# ---- reading the request ------------------------------------------------------------------


def json_body(call: Call, what: str) -> Any:
    body = call.request.body or b""
    limit = call.machine.config.max_body_bytes
    if len(body) > limit:
        raise fail(413, f"{what}: body of {len(body)} bytes exceeds the limit of {limit} bytes")
    try:
        return decode_json_body(body, what=what, max_bytes=limit)
    except DecodeError as exc:
        raise fail(400, exc.message) from None


def check_session(call: Call, *, running: bool) -> None:
    if call.params.get("sid", LOCAL_SESSION_ID) != LOCAL_SESSION_ID:
        raise fail(404, "Session not found")
    if running and call.machine.state not in RUNNING_STATES:
        raise fail(400, "No session running")


def parse_cid(text: str, what: str) -> int:
    if not text.isdigit() or not text.isascii() or len(text) > 4 \
            or not LEGACY_CONNECTION_ID <= int(text) <= MAX_CONNECTION_ID:
        raise fail(422, f"{what}: expected a connection id in {LEGACY_CONNECTION_ID}.."
                         f"{MAX_CONNECTION_ID}, got {text[:40]!r}")
    return int(text)


def connection_of(call: Call, detail: str) -> Connection:
    conn = call.machine.connections.get(parse_cid(call.params["cid"], "connection_id"))
    if conn is None:
        raise fail(404, detail)
    return conn


def query_value(query: str, key: str) -> str | None:
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == key:
            return value
    return None
