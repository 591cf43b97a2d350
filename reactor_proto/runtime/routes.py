"""HTTP route dispatch of the local runtime (docs/protocol §4.1, §5, §9; Appendix A, C.2).

This module holds the session routes and the table; the transport routes are in
:mod:`.routes_transport`, uploads and step results in :mod:`.routes_files`, what every
handler shares in :mod:`.route_call`.  (``/clips`` is the adapter's: it reads files.)

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

from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from ..bodies import build_health, parse_start_session_request
from ..errors import DecodeError, ReactorError
from ..http import HttpRequest, HttpResponse, cors_headers, json_response
from . import routes_files as files
from . import routes_transport as transport
from .events import SessionState
from .host import RouteHost
from .route_call import Call, Reply, error, fail, json_body
from .session import RUNNING_STATES
from .stepping import StartOptions, read_start_options

# ---- session routes -----------------------------------------------------------------------


def _descriptor(call: Call) -> HttpResponse:
    machine = call.machine
    return json_response(200, machine.documents.descriptor(
        machine.config, machine.state.value, generation=machine.stepper.options.generation,
        session_id=machine.stepper.session_id or None))


def _start_session(call: Call) -> HttpResponse:
    machine = call.machine
    extra: Mapping[str, Any] = {}
    options = StartOptions()
    if call.request.body:  # [R2] ignores the body; we still refuse garbage
        obj = json_body(call, "start_session")
        try:
            extra = parse_start_session_request(obj).extra_args
        except DecodeError as exc:
            raise fail(422, exc.message) from None
        try:  # §4.4: a bad stepping field is a 400
            options = read_start_options(obj)
        except DecodeError as exc:
            raise fail(400, exc.message) from None
        problem = machine.check_start_options(options)
        if problem is not None:
            raise fail(400, problem)
    if machine.state in RUNNING_STATES:
        return _descriptor(call)  # idempotent: a second client joins the running session
    if not machine.start_session(extra, call.now, options=options):
        return error(400, f"Cannot start session in state {machine.state.value}")
    return _descriptor(call)


def _get_session(call: Call) -> HttpResponse:
    return _descriptor(call)


def _stop_session(call: Call) -> HttpResponse:
    machine = call.machine
    if machine.state is SessionState.CLOSING:
        return error(409, "Cannot stop session in state CLOSING")
    machine.stop_session("stopped", call.now)
    return json_response(200, None)


def _health(call: Call) -> HttpResponse:
    machine = call.machine
    return json_response(200, build_health(state=machine.state.value,
                                           model=machine.config.model_name))


# ---- the table ----------------------------------------------------------------------------

_WEBRTC: Final = transport.WEBRTC
_Handler = Callable[[Call], HttpResponse]
ROUTES: Final[tuple[tuple[tuple[str, ...], Mapping[str, _Handler]], ...]] = tuple(
    (tuple(pattern.split("/")), handlers) for pattern, handlers in (
        ("start_session", {"POST": _start_session}),
        ("session", {"GET": _get_session}),
        ("stop_session", {"POST": _stop_session}),
        ("health", {"GET": _health}),
        (f"{_WEBRTC}/ice_servers", {"GET": transport.ice_servers}),
        (f"{_WEBRTC}/connections", {"POST": transport.register}),
        (f"{_WEBRTC}/connections/{{cid}}/sdp_params",
         {"GET": transport.poll_answer, "POST": transport.offer, "PUT": transport.offer}),
        (f"{_WEBRTC}/connections/{{cid}}/ice_candidates", {"POST": transport.ice_candidates}),
        (f"{_WEBRTC}/sdp_params", {"GET": transport.legacy_poll_answer,
                                   "POST": transport.legacy_offer,
                                   "PUT": transport.legacy_offer}),
        (f"{_WEBRTC}/ice_candidates", {"POST": transport.legacy_ice_candidates}),
        ("sessions/{sid}/uploads", {"POST": files.allocate_upload}),
        ("uploads/{upload_id}", {"PUT": files.put_upload}),
        ("sessions/{sid}/steps", {"GET": files.list_steps}),
        ("sessions/{sid}/steps/{n}", {"GET": files.get_step}),
        ("sessions/{sid}/steps/{n}/{file}", {"GET": files.get_step_file}),
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
    return _with_cors(error(500, "Internal Server Error"), request)


def dispatch(machine: RouteHost, request: HttpRequest, now: float) -> HttpResponse:
    """Answer one request; see the module docstring for the statuses."""
    return _with_cors(_route(machine, request, now), request)


def _route(machine: RouteHost, request: HttpRequest, now: float) -> HttpResponse:
    try:
        target = request.target
    except ReactorError as exc:
        return error(400, f"request target: {exc.message}")
    path, _, query = target.partition("?")
    found = _match(path)
    method = request.method.upper()
    allow = ", ".join(sorted({"OPTIONS", *found[0]})) if found is not None else None
    if method == "OPTIONS":
        return HttpResponse(status=204, headers=(("allow", allow),) if allow else ())
    if found is None:
        return error(404, "Not Found")
    handlers, params = found
    handler = handlers.get(method)
    if handler is None:
        return error(405, "Method Not Allowed", (("allow", allow or ""),))
    try:
        return handler(Call(machine=machine, request=request, now=now, params=params,
                             query=query))
    except Reply as reply:
        return reply.response
