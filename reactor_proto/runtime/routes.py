"""HTTP route dispatch of the local runtime (PROTOCOL.md §4.1, §5, §9; Appendix A, C.2).

``dispatch(machine, request, now)`` is the whole HTTP surface: it reads the request, checks
it against the machine's state, applies the change and returns the response.  It does no
I/O.  Statuses, in the order they are checked:

* ``OPTIONS`` anything -> 204 with the CORS headers (preflight).  Every response carries
  the wide-open CORS headers.
* unknown path -> 404 ``{"detail": "Not Found"}``; known path, wrong method -> 405 + Allow.
* ``/sessions/{sid}/...`` with ``sid != "local"`` -> 404 ``Session not found``.
* transport routes and upload allocation outside WAITING/STREAMING/ORPHANED -> 400
  ``No session running``.
* malformed path parameters (connection id not in 1001..9999, upload id not a canonical
  UUID) -> 422 naming the parameter; well-formed but unknown -> 404.
* body over ``max_body_bytes`` -> 413; not JSON / not UTF-8 / too deep -> 400 naming the
  problem; a field of the wrong shape -> 422 naming the dotted field (upload allocation:
  400, as [R2] answers ``name is required`` etc.).
* connection ceiling reached -> 503; upload store full / upload too large -> 413.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from ..bodies import (
    build_connection_registered,
    build_error_detail,
    build_health,
    build_ice_servers,
    build_offer_accepted,
    build_sdp_answer,
    build_upload_slot,
    decode_json_body,
    parse_ice_candidates,
    parse_sdp_offer,
    parse_start_session_request,
    parse_upload_request,
)
from ..bodies.records import SdpOffer, UploadSlot
from ..constants import LEGACY_CONNECTION_ID, LOCAL_SESSION_ID, MAX_CONNECTION_ID
from ..errors import DecodeError, ReactorError
from ..http import HttpRequest, HttpResponse, cors_headers, json_response
from ..sdp import validate_sdp
from .actions import AddIceCandidates
from .connections import Connection
from .events import SessionState
from .host import RouteHost
from .session import RUNNING_STATES
from .step_store import list_response, step_response
from .stepping import StartOptions, read_start_options
from .uploads import UploadFailure, is_upload_id

_HOST: Final = re.compile(r"(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")
_WEBRTC: Final = "sessions/{sid}/transport/webrtc"


class _Reply(Exception):
    """Carries an early response out of a handler (an error found while reading input)."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


@attrs.frozen(kw_only=True)
class _Call:
    machine: RouteHost
    request: HttpRequest
    now: float
    params: Mapping[str, str]
    query: str


def _error(status: int, detail: str, headers: tuple[tuple[str, str], ...] = ()) -> HttpResponse:
    return json_response(status, build_error_detail(detail), headers)


def _fail(status: int, detail: str) -> _Reply:
    return _Reply(_error(status, detail))


# ---- reading the request ------------------------------------------------------------------


def _json_body(call: _Call, what: str) -> Any:
    body = call.request.body or b""
    limit = call.machine.config.max_body_bytes
    if len(body) > limit:
        raise _fail(413, f"{what}: body of {len(body)} bytes exceeds the limit of {limit} bytes")
    try:
        return decode_json_body(body, what=what, max_bytes=limit)
    except DecodeError as exc:
        raise _fail(400, exc.message) from None


def _check_session(call: _Call, *, running: bool) -> None:
    if call.params.get("sid", LOCAL_SESSION_ID) != LOCAL_SESSION_ID:
        raise _fail(404, "Session not found")
    if running and call.machine.state not in RUNNING_STATES:
        raise _fail(400, "No session running")


def _parse_cid(text: str, what: str) -> int:
    if not text.isdigit() or not text.isascii() or len(text) > 4 \
            or not LEGACY_CONNECTION_ID <= int(text) <= MAX_CONNECTION_ID:
        raise _fail(422, f"{what}: expected a connection id in {LEGACY_CONNECTION_ID}.."
                         f"{MAX_CONNECTION_ID}, got {text[:40]!r}")
    return int(text)


def _connection(call: _Call, detail: str) -> Connection:
    conn = call.machine.connections.get(_parse_cid(call.params["cid"], "connection_id"))
    if conn is None:
        raise _fail(404, detail)
    return conn


def _query_value(query: str, key: str) -> str | None:
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == key:
            return value
    return None


# ---- session routes -----------------------------------------------------------------------


def _descriptor(call: _Call) -> HttpResponse:
    machine = call.machine
    return json_response(200, machine.documents.descriptor(
        machine.config, machine.state.value, generation=machine.stepper.options.generation,
        session_id=machine.stepper.session_id or None))


def _start_session(call: _Call) -> HttpResponse:
    machine = call.machine
    extra: Mapping[str, Any] = {}
    options = StartOptions()
    if call.request.body:  # [R2] ignores the body; we still refuse garbage
        obj = _json_body(call, "start_session")
        try:
            extra = parse_start_session_request(obj).extra_args
        except DecodeError as exc:
            raise _fail(422, exc.message) from None
        try:  # §4.4: a bad stepping field is a 400
            options = read_start_options(obj)
        except DecodeError as exc:
            raise _fail(400, exc.message) from None
        problem = machine.check_start_options(options)
        if problem is not None:
            raise _fail(400, problem)
    if machine.state in RUNNING_STATES:
        return _descriptor(call)  # idempotent: a second client joins the running session
    if not machine.start_session(extra, call.now, options=options):
        return _error(400, f"Cannot start session in state {machine.state.value}")
    return _descriptor(call)


def _get_session(call: _Call) -> HttpResponse:
    return _descriptor(call)


def _stop_session(call: _Call) -> HttpResponse:
    machine = call.machine
    if machine.state is SessionState.CLOSING:
        return _error(409, "Cannot stop session in state CLOSING")
    machine.stop_session("stopped", call.now)
    return json_response(200, None)


def _health(call: _Call) -> HttpResponse:
    machine = call.machine
    return json_response(200, build_health(state=machine.state.value,
                                           model=machine.config.model_name))


# ---- transport routes ---------------------------------------------------------------------


def _ice_servers(call: _Call) -> HttpResponse:
    _check_session(call, running=False)
    return json_response(200, build_ice_servers(call.machine.config.ice_servers))


def _register(call: _Call) -> HttpResponse:
    _check_session(call, running=True)
    machine = call.machine
    conn = machine.connections.mint(machine.rng_for_ids(), call.now)
    if conn is None:
        return _error(503, f"No connection id available (limit "
                           f"{machine.config.max_connections} connections)")
    conn.negotiation_deadline = machine.config.negotiation_deadline(call.now)
    return json_response(201, build_connection_registered(
        conn.connection_id, track_map=machine.documents.capabilities))


def _read_offer(call: _Call) -> SdpOffer:
    obj = _json_body(call, "sdp_offer")
    try:
        offer = parse_sdp_offer(obj)
        validate_sdp(offer.sdp)
    except DecodeError as exc:
        raise _fail(422, exc.message) from None
    tracks = {track.name: track for track in call.machine.config.model_schema.tracks}
    for index, entry in enumerate(offer.track_mapping):
        where = f"sdp_offer.track_mapping[{index}]"
        track = tracks.get(entry.name)
        if track is None:
            raise _fail(422, f"{where}.name: the model has no track {entry.name[:80]!r}")
        if (entry.kind, entry.direction) != (track.kind, track.direction):
            raise _fail(422, f"{where}: track {entry.name[:80]!r} is {track.kind} "
                             f"{track.direction}, got {entry.kind} {entry.direction}")
    return offer


def _accept_offer(call: _Call, conn: Connection, offer: SdpOffer) -> HttpResponse:
    call.machine.accept_offer(conn, offer, call.now)
    return json_response(202, build_offer_accepted(conn.connection_id))


def _offer(call: _Call) -> HttpResponse:
    _check_session(call, running=True)
    conn = _connection(call, "Unknown connection; register via POST .../connections first")
    return _accept_offer(call, conn, _read_offer(call))


def _legacy_offer(call: _Call) -> HttpResponse:
    _check_session(call, running=True)
    offer = _read_offer(call)  # before touching 1001: a bad body registers nothing
    conn = call.machine.connections.legacy(call.now)
    if conn is None:
        return _error(503, "No connection id available")
    return _accept_offer(call, conn, offer)


def _answer_response(call: _Call, conn: Connection) -> HttpResponse:
    if conn.answer_error is not None:
        return _error(500, f"negotiation failed: {conn.answer_error[:500]}")
    if conn.answer is None or (conn.answer_taken and call.machine.config.consume_answers):
        return json_response(202, None)
    conn.answer_taken = True
    return json_response(200, build_sdp_answer(conn.answer, conn.connection_id))


def _poll_answer(call: _Call) -> HttpResponse:
    _check_session(call, running=False)
    return _answer_response(call, _connection(call, "Connection not found"))


def _servable(call: _Call, conn: Connection) -> bool:
    return conn.answer is not None and not (conn.answer_taken
                                            and call.machine.config.consume_answers)


def _legacy_poll_answer(call: _Call) -> HttpResponse:
    _check_session(call, running=False)
    machine = call.machine
    wanted = _query_value(call.query, "connection_id")
    if wanted is not None:
        conn = machine.connections.get(_parse_cid(wanted, "connection_id"))
        if conn is None:
            return _error(404, "No pending SDP offer")
        return _answer_response(call, conn)
    legacy = machine.connections.get(LEGACY_CONNECTION_ID)
    if legacy is not None and (legacy.has_transport or legacy.answer is not None):
        return _answer_response(call, legacy)
    for conn in machine.connections:
        if _servable(call, conn):
            return _answer_response(call, conn)
    if machine.state in (SessionState.WAITING, SessionState.ORPHANED):
        return json_response(202, None)
    return _error(404, "No pending SDP offer")


def _add_candidates(call: _Call, conn: Connection, obj: Any) -> None:
    try:
        parsed = parse_ice_candidates(obj)
    except DecodeError as exc:
        raise _fail(422, exc.message) from None
    if conn.negotiation_id is not None:
        call.machine.queue(AddIceCandidates(
            connection_id=conn.connection_id, negotiation_id=conn.negotiation_id,
            candidates=parsed.candidates, end_of_candidates=parsed.is_final))
        return
    room = call.machine.config.max_buffered_candidates - len(conn.buffered_candidates)
    conn.buffered_candidates.extend(parsed.candidates[:max(room, 0)])
    conn.candidates_dropped += max(len(parsed.candidates) - max(room, 0), 0)
    conn.end_of_candidates = conn.end_of_candidates or parsed.is_final


def _ice_candidates(call: _Call) -> HttpResponse:
    _check_session(call, running=True)
    conn = _connection(call, "Connection not found")
    _add_candidates(call, conn, _json_body(call, "ice_candidates"))
    return json_response(202, {})


def _legacy_ice_candidates(call: _Call) -> HttpResponse:
    _check_session(call, running=True)
    obj = _json_body(call, "ice_candidates")
    warn = isinstance(obj, dict) and "session_id" in obj
    if warn:
        obj = {key: value for key, value in obj.items() if key != "session_id"}
    conn = call.machine.connections.get(LEGACY_CONNECTION_ID)
    if conn is None:
        raise _fail(404, "No pending SDP offer")
    _add_candidates(call, conn, obj)
    if warn:
        return json_response(202, {"warning": "session_id in request body is ignored; "
                                              "the path is authoritative"})
    return json_response(202, {})


# ---- uploads ------------------------------------------------------------------------------


def _host(call: _Call) -> str:
    host = call.request.header("host")
    if host is not None and _HOST.fullmatch(host):
        return host
    return call.machine.config.default_host


def _allocate_upload(call: _Call) -> HttpResponse:
    _check_session(call, running=True)
    obj = _json_body(call, "upload")
    try:
        wanted = parse_upload_request(obj)
    except DecodeError as exc:
        raise _fail(400, exc.message) from None
    machine = call.machine
    outcome = machine.uploads.allocate(machine.rng_for_ids(), name=wanted.name,
                                       mime_type=wanted.mime_type, size=wanted.size)
    if isinstance(outcome, UploadFailure):
        return _error(outcome.status, outcome.detail)
    slot = UploadSlot(presigned_id=outcome,
                      presigned_url=f"http://{_host(call)}/uploads/{outcome}",
                      path=f"sessions/{LOCAL_SESSION_ID}/uploads/{outcome}/{wanted.name}")
    return json_response(201, build_upload_slot(slot))


def _put_upload(call: _Call) -> HttpResponse:
    upload_id = call.params["upload_id"]
    if not is_upload_id(upload_id):
        return _error(422, f"upload_id: expected a lower-case UUID, got {upload_id[:60]!r}")
    failure = call.machine.uploads.put(upload_id, call.request.body or b"")
    if failure is not None:
        return _error(failure.status, failure.detail)
    return json_response(200, None)


# ---- stepped results (§15.7) --------------------------------------------------------------


def _list_steps(call: _Call) -> HttpResponse:
    return list_response(call.machine.step_store, call.params["sid"], call.now)


def _get_step(call: _Call) -> HttpResponse:
    return step_response(call.machine.step_store, call.params["sid"], call.params["n"],
                         None, call.now)


def _get_step_file(call: _Call) -> HttpResponse:
    return step_response(call.machine.step_store, call.params["sid"], call.params["n"],
                         call.params["file"], call.now)


# ---- the table ----------------------------------------------------------------------------

_Handler = Callable[[_Call], HttpResponse]
ROUTES: Final[tuple[tuple[tuple[str, ...], Mapping[str, _Handler]], ...]] = tuple(
    (tuple(pattern.split("/")), handlers) for pattern, handlers in (
        ("start_session", {"POST": _start_session}),
        ("session", {"GET": _get_session}),
        ("stop_session", {"POST": _stop_session}),
        ("health", {"GET": _health}),
        (f"{_WEBRTC}/ice_servers", {"GET": _ice_servers}),
        (f"{_WEBRTC}/connections", {"POST": _register}),
        (f"{_WEBRTC}/connections/{{cid}}/sdp_params",
         {"GET": _poll_answer, "POST": _offer, "PUT": _offer}),
        (f"{_WEBRTC}/connections/{{cid}}/ice_candidates", {"POST": _ice_candidates}),
        (f"{_WEBRTC}/sdp_params",
         {"GET": _legacy_poll_answer, "POST": _legacy_offer, "PUT": _legacy_offer}),
        (f"{_WEBRTC}/ice_candidates", {"POST": _legacy_ice_candidates}),
        ("sessions/{sid}/uploads", {"POST": _allocate_upload}),
        ("uploads/{upload_id}", {"PUT": _put_upload}),
        ("sessions/{sid}/steps", {"GET": _list_steps}),
        ("sessions/{sid}/steps/{n}", {"GET": _get_step}),
        ("sessions/{sid}/steps/{n}/{file}", {"GET": _get_step_file}),
    )
)


def _match(path: str) -> tuple[Mapping[str, _Handler], dict[str, str]] | None:
    if not path.startswith("/"):
        return None
    segments = path[1:].split("/")
    for pattern, handlers in ROUTES:
        if len(pattern) != len(segments):
            continue
        params: dict[str, str] = {}
        for expected, actual in zip(pattern, segments, strict=True):
            if expected.startswith("{"):
                if not actual:
                    break
                params[expected[1:-1]] = actual
            elif expected != actual:
                break
        else:
            return handlers, params
    return None


def _with_cors(response: HttpResponse, request: HttpRequest) -> HttpResponse:
    return attrs.evolve(response, headers=(*response.headers,
                                           *cors_headers(request.header("origin"))))


def internal_error(request: HttpRequest) -> HttpResponse:
    """500 for a bug caught by the machine's last line of defence (CORS included)."""
    return _with_cors(_error(500, "Internal Server Error"), request)


def dispatch(machine: RouteHost, request: HttpRequest, now: float) -> HttpResponse:
    """Answer one request; see the module docstring for the statuses."""
    return _with_cors(_route(machine, request, now), request)


def _route(machine: RouteHost, request: HttpRequest, now: float) -> HttpResponse:
    try:
        target = request.target
    except ReactorError as exc:
        return _error(400, f"request target: {exc.message}")
    path, _, query = target.partition("?")
    found = _match(path)
    method = request.method.upper()
    allow = ", ".join(sorted({"OPTIONS", *found[0]})) if found is not None else None
    if method == "OPTIONS":
        return HttpResponse(status=204, headers=(("allow", allow),) if allow else ())
    if found is None:
        return _error(404, "Not Found")
    handlers, params = found
    handler = handlers.get(method)
    if handler is None:
        return _error(405, "Method Not Allowed", (("allow", allow or ""),))
    try:
        return handler(_Call(machine=machine, request=request, now=now, params=params,
                             query=query))
    except _Reply as reply:
        return reply.response
