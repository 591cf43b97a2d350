"""Route matching, header checks, request bodies and response building of the coordinator.

Pure helpers; the machine decides what to do.  Route table (docs/protocol §2-§3, §5, §9):

====================================================  ================  =================
path                                                  methods           auth
====================================================  ================  =================
``/tokens``                                           POST              Reactor-API-Key
``/sessions``                                         POST              Bearer + API ver
``/sessions/{id}``                                    GET, PUT, DELETE  Bearer + API ver
``/sessions/{id}/info``                               GET               Bearer + API ver
``/sessions/{id}/uploads``                            POST              Bearer + API ver
``/sessions/{id}/transport/webrtc/<rest>``            GET, POST, PUT    Bearer + WebRTC
``/sessions/{id}/steps[/{n}[/{file}]]``                GET               Bearer (§15.7)
``/uploads/{upload_id}``                              PUT               none (presigned)
====================================================  ================  =================

Every response carries wide-open CORS headers and ``OPTIONS`` on any known path is a 204
preflight (§3.1): browsers call the coordinator from other origins with ``Authorization``,
the version headers, ``Content-Type`` and ``Reactor-API-Key``.  The headers are built here
(not with a generic helper) because this list, and ``Retry-After`` being exposed, is part of
the coordinator's contract.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from typing import Any

import attrs

from ..constants import (
    HEADER_API_ACCEPT_VERSION,
    HEADER_API_VERSION,
    HEADER_CONTENT_TYPE,
    HEADER_WEBRTC_VERSION,
    JSON_CONTENT_TYPE,
)
from ..errors import DecodeError
from ..http import HttpResponse
from ..jsonfields import Fields, dumps, loads_bounded

SUPPORTED_API_VERSION = 1
SUPPORTED_WEBRTC_VERSION = (1, 0)
MAX_REASON_CHARS = 256
_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,128}")
_INTEGER = re.compile(r"[0-9]{1,6}")
_DOTTED = re.compile(r"([0-9]{1,6})(?:\.([0-9]{1,6}))?")

CORS_HEADERS: tuple[tuple[str, str], ...] = (
    ("access-control-allow-origin", "*"),
    ("access-control-allow-methods", "GET, POST, PUT, DELETE, OPTIONS"),
    ("access-control-allow-headers",
     "Authorization, Content-Type, Reactor-API-Key, Reactor-API-Version, "
     "Reactor-API-Accept-Version, Reactor-WebRTC-Version"),
    ("access-control-expose-headers", "Retry-After"),
    ("access-control-max-age", "600"),
)

REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
           400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large",
           422: "Unprocessable Content", 426: "Upgrade Required", 429: "Too Many Requests",
           500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
           503: "Service Unavailable"}


class RouteName(enum.StrEnum):
    TOKENS = "tokens"
    SESSIONS = "sessions"
    SESSION = "session"
    SESSION_INFO = "session_info"
    UPLOADS = "uploads"
    TRANSPORT = "transport"
    UPLOAD_PUT = "upload_put"
    STEPS = "steps"


ALLOWED_METHODS: dict[RouteName, tuple[str, ...]] = {
    RouteName.TOKENS: ("POST",),
    RouteName.SESSIONS: ("POST",),
    RouteName.SESSION: ("GET", "PUT", "DELETE"),
    RouteName.SESSION_INFO: ("GET",),
    RouteName.UPLOADS: ("POST",),
    RouteName.TRANSPORT: ("GET", "POST", "PUT"),
    RouteName.UPLOAD_PUT: ("PUT",),
    RouteName.STEPS: ("GET",),
}


@attrs.frozen(kw_only=True)
class Route:
    name: RouteName
    session_id: str | None = None
    upload_id: str | None = None
    rest: str = ""   # transport sub-path after ``/transport/webrtc``, with leading '/'


_STEP_FILE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")


def _step_file(parts: list[str], index: int) -> bool:
    """A stored step's file name (``output.mp4``): the one segment that may hold dots."""
    return (index == 5 and len(parts) == 6 and parts[3] == "steps"
            and _STEP_FILE.fullmatch(parts[index]) is not None)


def match_path(path: str) -> Route | None:
    """The route of a request path (no query), or ``None`` (404)."""
    parts = path.split("/")
    if parts[0] != "" or not all(_SEGMENT.fullmatch(p) or _step_file(parts, i)
                                 for i, p in enumerate(parts) if i):
        return None
    parts = parts[1:]
    if parts == ["tokens"]:
        return Route(name=RouteName.TOKENS)
    if parts == ["sessions"]:
        return Route(name=RouteName.SESSIONS)
    if len(parts) == 2 and parts[0] == "uploads":
        return Route(name=RouteName.UPLOAD_PUT, upload_id=parts[1])
    if len(parts) < 2 or parts[0] != "sessions":
        return None
    sid, tail = parts[1], parts[2:]
    if not tail:
        return Route(name=RouteName.SESSION, session_id=sid)
    if tail == ["info"]:
        return Route(name=RouteName.SESSION_INFO, session_id=sid)
    if tail == ["uploads"]:
        return Route(name=RouteName.UPLOADS, session_id=sid)
    if tail[0] == "steps" and len(tail) <= 3:  # §15.7, forwarded as it is
        return Route(name=RouteName.STEPS, session_id=sid, rest="/" + "/".join(tail))
    if len(tail) >= 3 and tail[:2] == ["transport", "webrtc"] and len(tail) <= 6:
        return Route(name=RouteName.TRANSPORT, session_id=sid, rest="/" + "/".join(tail[2:]))
    return None


def header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    """First value of a header, case-insensitively."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


def _short(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def check_api_versions(headers: Sequence[tuple[str, str]],
                       forced: int | None) -> tuple[int, str] | None:
    """(status, detail) when ``Reactor-API-Version`` / ``-Accept-Version`` is not acceptable.

    Missing or older than 1 -> 426 (the server requires a newer client); newer than 1 or not
    an integer -> 501 (the server does not implement it).
    """
    if forced is not None:
        return forced, f"version check forced to fail with HTTP {forced} (fault injection)"
    for name in (HEADER_API_VERSION, HEADER_API_ACCEPT_VERSION):
        value = header(headers, name)
        if value is None:
            return 426, f"{name}: header is missing; this server requires version 1"
        text = value.strip()
        if not _INTEGER.fullmatch(text):
            return 501, f"{name}: unsupported version {_short(value)}; supported: 1"
        if int(text) < SUPPORTED_API_VERSION:
            return 426, f"{name}: version {text} is too old; this server requires 1"
        if int(text) > SUPPORTED_API_VERSION:
            return 501, f"{name}: version {text} is not implemented; supported: 1"
    return None


def check_webrtc_version(headers: Sequence[tuple[str, str]],
                         forced: int | None) -> tuple[int, str] | None:
    """Like :func:`check_api_versions` for ``Reactor-WebRTC-Version`` ("1.0").  A missing
    header is accepted as 1.0, as [R3] does."""
    if forced is not None:
        return forced, f"version check forced to fail with HTTP {forced} (fault injection)"
    value = header(headers, HEADER_WEBRTC_VERSION)
    if value is None:
        return None
    match = _DOTTED.fullmatch(value.strip())
    if match is None:
        return 501, f"{HEADER_WEBRTC_VERSION}: unsupported version {_short(value)}; " \
                    f"supported: 1.0"
    version = (int(match.group(1)), int(match.group(2) or 0))
    if version < SUPPORTED_WEBRTC_VERSION:
        return 426, f"{HEADER_WEBRTC_VERSION}: version {value.strip()} is too old; " \
                    f"this server requires 1.0"
    if version > SUPPORTED_WEBRTC_VERSION:
        return 501, f"{HEADER_WEBRTC_VERSION}: version {value.strip()} is not implemented; " \
                    f"supported: 1.0"
    return None


# ---- responses ----------------------------------------------------------------------------


def json_reply(status: int, obj: Any,
               extra_headers: tuple[tuple[str, str], ...] = ()) -> HttpResponse:
    body = dumps(obj).encode("utf-8")
    headers = ((HEADER_CONTENT_TYPE, JSON_CONTENT_TYPE), *extra_headers, *CORS_HEADERS)
    return HttpResponse(status=status, headers=headers, body=body,
                        reason=REASONS.get(status, ""))


def error_reply(status: int, detail: str,
                extra_headers: tuple[tuple[str, str], ...] = ()) -> HttpResponse:
    return json_reply(status, {"detail": detail}, extra_headers)


def preflight_reply() -> HttpResponse:
    return HttpResponse(status=204, headers=CORS_HEADERS, body=b"", reason=REASONS[204])


def with_cors(response: HttpResponse) -> HttpResponse:
    """A runtime's response passed through, with our CORS headers instead of its own."""
    kept = tuple((k, v) for k, v in response.headers
                 if not k.lower().startswith("access-control-"))
    return HttpResponse(status=response.status, headers=(*kept, *CORS_HEADERS),
                        body=response.body, reason=response.reason)


class Reply(Exception):
    """Short-circuit a handler with this response."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


def fail(status: int, detail: str, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(error_reply(status, detail, headers))


# ---- request bodies -----------------------------------------------------------------------


class BodyError(Exception):
    """A request body problem: ``status`` 400 (not JSON) or 422 (a bad field)."""

    def __init__(self, status: int, error: DecodeError) -> None:
        super().__init__(error.message)
        self.status = status
        self.detail = error.message


def decode_body(body: bytes | None, *, what: str, max_bytes: int) -> Any:
    """Decoded JSON; ``None`` for an empty body.  Malformed -> BodyError(400)."""
    if not body:
        return None
    try:
        return loads_bounded(body, what=what, max_bytes=max_bytes)
    except DecodeError as exc:
        raise BodyError(400, exc) from None


@attrs.frozen(kw_only=True)
class CreateSessionBody:
    model_name: str
    model_version: str | None
    #: §15.2: 1.13.0 sends ``extra_configs.generation``; handed to the runtime
    generation: str = "streamed"


def parse_create_session(obj: Any) -> CreateSessionBody:
    """Strict server-side parse of §3.3; :class:`DecodeError` naming the field."""
    body = Fields(obj, "")
    model = body.req_obj("model")
    name = model.req_str("name")
    if not name:
        raise DecodeError("model.name: must not be empty", field="model.name", value=name)
    version = model.opt_str("version")
    client_info = body.opt_obj("client_info")
    if client_info is not None:
        client_info.opt_str("sdk_version")
        client_info.opt_str("sdk_type")
    generation = "streamed"
    for key in ("extra_args", "extra_configs"):
        extra = body.opt_obj(key)
        if extra is not None and extra.has("generation"):
            generation = extra.req_str("generation")
            if generation not in ("streamed", "stepped"):
                raise DecodeError(f"{key}.generation: expected 'streamed' or 'stepped', got "
                                  f"{generation[:40]!r}", field=f"{key}.generation",
                                  value=generation)
    if body.has("supported_transports"):
        offered = []
        for where, entry in body.items("supported_transports"):
            transport = Fields(entry, where)
            offered.append((transport.req_str("protocol"), transport.req_str("version")))
        if not any(protocol == "webrtc" for protocol, _ in offered):
            raise DecodeError(f"supported_transports: no webrtc transport in {offered!r}",
                              field="supported_transports", value=offered)
    return CreateSessionBody(model_name=name, model_version=version, generation=generation)


def parse_delete_reason(obj: Any) -> str | None:
    """``None`` or ``{"reason": str}`` (§3.7)."""
    if obj is None:
        return None
    reason = Fields(obj, "").opt_str("reason")
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise DecodeError(f"reason: longer than {MAX_REASON_CHARS} characters",
                          field="reason", value=len(reason))
    return reason
