"""The requests the coordinator sends a runtime, and the descriptor it reads back.

A runtime serves the local protocol of docs/protocol §4 (our ``RuntimeMachine``, or a fake in
tests).  Session control is plain HTTP: ``POST /start_session``, ``POST /stop_session`` and
``GET /session``; the machine queues each as an action (``actions.py``) and the adapter
delivers it.

How the coordinator learns what the runtime did on its own (a client connected, the orphan
timer closed the session): it POLLS ``GET /session`` every
``CoordinatorConfig.runtime_poll_interval`` seconds (a core timer), and also right after
every request it forwards, before it answers ``GET /sessions/{id}`` and when told a
transport dropped (``transport_dropped``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from ..constants import (
    API_VERSION,
    HEADER_API_ACCEPT_VERSION,
    HEADER_API_VERSION,
    HEADER_AUTHORIZATION,
    HEADER_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    LOCAL_BEARER,
)
from ..errors import DecodeError
from ..http import HttpRequest, HttpResponse
from ..jsonfields import Fields, loads_bounded

#: Base URL used in requests handed to an in-process runtime (never resolved).
RUNTIME_BASE_URL = "http://runtime.internal"
#: Runtime states that mean "a client transport is installed".
RUNTIME_STREAMING = frozenset({"streaming"})
#: Runtime states that mean "no session any more" (orphan timeout, stop, eviction).
RUNTIME_IDLE = frozenset({"ready", "closing", "created", "terminated"})
MAX_DESCRIPTOR_BYTES = 4 * 1024 * 1024
#: at most this many entries of ``server_info.wire`` are carried on
MAX_SERVER_WIRES = 8


@attrs.frozen(kw_only=True)
class RuntimeDescriptor:
    """The parts of a runtime's session descriptor (§4.3) the coordinator uses."""

    session_id: str
    state: str
    selected_transport: Mapping[str, Any] | None
    capabilities: Mapping[str, Any] | None
    schema: Mapping[str, Any] | None
    #: ``server_info.wire`` (our runtime's marker of the wires it serves, e.g. ``("v0", "v1")``);
    #: None when the runtime did not report it (the official runtime never does)
    server_wires: tuple[str, ...] | None = None

    @property
    def is_streaming(self) -> bool:
        return self.state.lower() in RUNTIME_STREAMING

    @property
    def is_idle(self) -> bool:
        return self.state.lower() in RUNTIME_IDLE


_SESSION_HEADERS = (
    (HEADER_API_VERSION, API_VERSION),
    (HEADER_API_ACCEPT_VERSION, API_VERSION),
)


def start_session_request(generation: str = "streamed",
                          session_id: str | None = None) -> HttpRequest:
    """A stepped session is started stepped, under the coordinator's id (§15.2, §15.7)."""
    body = b"{}" if generation == "streamed" else json.dumps(
        {"generation": generation, "session_id": session_id}).encode()
    return HttpRequest(method="POST", url=f"{RUNTIME_BASE_URL}/start_session",
                       headers=(*_SESSION_HEADERS, (HEADER_CONTENT_TYPE, JSON_CONTENT_TYPE)),
                       body=body)


def stop_session_request() -> HttpRequest:
    return HttpRequest(method="POST", url=f"{RUNTIME_BASE_URL}/stop_session",
                       headers=_SESSION_HEADERS, body=b"")


def get_session_request() -> HttpRequest:
    return HttpRequest(method="GET", url=f"{RUNTIME_BASE_URL}/session",
                       headers=_SESSION_HEADERS, body=b"")


def forwarded_request(*, method: str, target: str, headers: tuple[tuple[str, str], ...],
                      body: bytes | None) -> HttpRequest:
    """A client request re-addressed to the runtime.  The client's bearer token is replaced
    by the local one: the runtime must never see (or log) a production JWT."""
    kept = tuple((name, value) for name, value in headers
                 if name.lower() not in (HEADER_AUTHORIZATION, "host"))
    return HttpRequest(method=method, url=f"{RUNTIME_BASE_URL}{target}",
                       headers=(("host", "runtime.internal"), *kept,
                                (HEADER_AUTHORIZATION, f"Bearer {LOCAL_BEARER}")),
                       body=body)


def _opt_obj(fields: Fields, key: str) -> Mapping[str, Any] | None:
    value = fields.opt_obj(key)
    return None if value is None else value.raw


def _server_wires(fields: Fields) -> tuple[str, ...] | None:
    # An extension key, read leniently as the client reads it: anything but a list counts
    # as absent, so a runtime that sends something odd is treated like one that sends none.
    info = fields.raw.get("server_info")
    wires = info.get("wire") if isinstance(info, Mapping) else None
    if not isinstance(wires, list):
        return None
    return tuple(w for w in wires[:MAX_SERVER_WIRES] if isinstance(w, str))


def parse_descriptor(response: HttpResponse) -> RuntimeDescriptor:
    """Parse a 200 descriptor; :class:`DecodeError` for any other status or a bad body."""
    if response.status != 200:
        raise DecodeError(f"runtime answered HTTP {response.status}, expected 200",
                          field="status", value=response.status)
    obj = loads_bounded(response.body, what="runtime descriptor",
                        max_bytes=MAX_DESCRIPTOR_BYTES)
    fields = Fields(obj, "descriptor")
    return RuntimeDescriptor(
        session_id=fields.req_str("session_id"), state=fields.req_str("state"),
        selected_transport=_opt_obj(fields, "selected_transport"),
        capabilities=_opt_obj(fields, "capabilities"), schema=_opt_obj(fields, "schema"),
        server_wires=_server_wires(fields),
    )


class DescriptorMemo:
    """The last descriptor parsed from each slot's runtime, reused while the body is byte
    for byte the same.

    The coordinator polls ``GET /session`` after every forwarded request and before every
    ``GET /sessions/{id}`` answer, and the descriptor carries the model's whole command
    schema, so most polls return the body the previous one did.  Comparing bytes is far
    cheaper than decoding them again.  One entry per slot: bounded by the slot count.
    """

    def __init__(self) -> None:
        self._last: dict[int, tuple[bytes, RuntimeDescriptor]] = {}

    def parse(self, slot: int, response: HttpResponse) -> RuntimeDescriptor:
        """:func:`parse_descriptor`, or the slot's last result for an identical 200 body."""
        last = self._last.get(slot)
        if last is not None and response.status == 200 and last[0] == response.body:
            return last[1]
        descriptor = parse_descriptor(response)   # raises before anything is kept
        self._last[slot] = (response.body, descriptor)
        return descriptor
