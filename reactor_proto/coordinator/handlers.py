"""Route handlers of the coordinator: authentication, checks, bodies, forwarding.

Each handler either returns a response or raises :class:`Reply` carrying an error response;
state changes go through :class:`~.machine.Lifecycle` (and so through the transition table).
Check order on every authenticated route: route (404) -> method (405) -> body size (413) ->
bearer token (401) -> rate limit (429) -> version headers (426/501) -> body (400/422) ->
scope (401) -> session lookup (404) -> state (409).
"""

from __future__ import annotations

import math
import random
import re
import uuid
from typing import Any
from urllib.parse import SplitResult, urlsplit

from ..constants import HEADER_API_KEY, HEADER_AUTHORIZATION, HEADER_CONTENT_TYPE
from ..errors import DecodeError, UnauthorizedError
from ..http import HttpRequest, HttpResponse
from ..jsonfields import Fields
from .events import InternalError, RuntimeCallFailed, SessionCreated, TokenIssued
from .machine import Lifecycle, Sign, Trigger, Verify
from .routes import (
    ALLOWED_METHODS,
    BodyError,
    Route,
    RouteName,
    check_api_versions,
    check_webrtc_version,
    decode_body,
    error_reply,
    header,
    json_reply,
    match_path,
    parse_create_session,
    parse_delete_reason,
    preflight_reply,
    with_cors,
)
from .runtime_link import forwarded_request
from .sessions import HOSTED_STATES, SessionRecord, SessionState
from .tokens import (
    InvalidTokenError,
    TokenClaims,
    bearer_token,
    build_claims,
    check_expiry,
    claims_from_mapping,
    parse_token_request,
)

MAX_TOKEN_CHARS = 8192
MAX_UPLOADS_PER_SESSION = 1024
_HOST = re.compile(r"[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")


class Reply(Exception):
    """Short-circuit a handler with this response."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


def _fail(status: int, detail: str, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(error_reply(status, detail, headers))


def _field_error(exc: DecodeError) -> Reply:
    return _fail(422, exc.message)


class RouteHandlers:
    def __init__(self, life: Lifecycle, *, rng: random.Random, sign: Sign,
                 verify: Verify) -> None:
        self._life = life
        self._config = life.config
        self._rng = rng
        self._sign = sign
        self._verify = verify

    # ---- dispatch ------------------------------------------------------------------------

    def dispatch(self, request: HttpRequest, now: float) -> HttpResponse:
        try:
            return self._dispatch(request, now)
        except Reply as reply:
            return reply.response
        except BodyError as exc:
            return error_reply(exc.status, exc.detail)

    def _dispatch(self, request: HttpRequest, now: float) -> HttpResponse:
        try:
            url = urlsplit(request.url)
        except ValueError:
            return error_reply(400, "request target is not a valid URL")
        route = match_path(url.path)
        if route is None:
            shown = url.path if len(url.path) <= 80 else url.path[:77] + "..."
            return error_reply(404, f"Not Found: no route for {shown!r}")
        method = request.method.upper()
        if method == "OPTIONS":
            return preflight_reply()
        allowed = ALLOWED_METHODS[route.name]
        if method not in allowed:
            return error_reply(405, f"Method Not Allowed: {method} {route.name.value}; "
                               f"allowed: {', '.join(allowed)}",
                               (("allow", ", ".join((*allowed, "OPTIONS"))),))
        limit = (self._config.max_upload_bytes if route.name is RouteName.UPLOAD_PUT
                 else self._config.max_body_bytes)
        if request.body is not None and len(request.body) > limit:
            return error_reply(413, f"body: {len(request.body)} bytes exceeds the limit of "
                               f"{limit} bytes")
        if route.name is RouteName.TOKENS:
            return self._tokens(request, now)
        if route.name is RouteName.UPLOAD_PUT:
            return self._upload_put(request, route, now)
        claims = self._authorize(request, now)
        if route.name is RouteName.TRANSPORT:
            return self._transport(request, url, route, claims, now)
        if not (route.name is RouteName.SESSION and method == "DELETE"):
            self._check(check_api_versions(request.headers,
                                           self._config.force_version_status))
        if route.name is RouteName.SESSIONS:
            return self._create(request, claims, now)
        if route.name is RouteName.UPLOADS:
            return self._upload_slot(request, url, route, claims, now)
        if route.name is RouteName.SESSION_INFO:
            record = self._life.refresh(self._owned(route, claims, allow_closed=True), now)
            return json_reply(200, {"session_id": record.session_id,
                                    "state": record.state.value,
                                    "cluster": self._config.cluster})
        return self._session(request, method, route, claims, now)

    @staticmethod
    def _check(problem: tuple[int, str] | None) -> None:
        if problem is not None:
            raise _fail(*problem)

    # ---- authentication and rate limiting ------------------------------------------------

    def _rate_limit(self, key_id: str, now: float) -> None:
        retry_after = self._life.limiter.acquire(key_id, now)
        if retry_after is not None:
            raise _fail(429, f"rate limit exceeded for key {key_id!r}; retry after "
                        f"{retry_after} s", (("retry-after", str(retry_after)),))

    def _authorize(self, request: HttpRequest, now: float) -> TokenClaims:
        try:
            token = bearer_token(header(request.headers, HEADER_AUTHORIZATION))
            if len(token) > MAX_TOKEN_CHARS:
                raise InvalidTokenError(f"token longer than {MAX_TOKEN_CHARS} characters")
            try:
                raw = self._verify(token)
            except InvalidTokenError:
                raise
            except Exception as exc:
                raise InvalidTokenError(f"verification failed ({type(exc).__name__})") from None
            if not isinstance(raw, dict):
                raise InvalidTokenError("verification returned no claims")
            claims = claims_from_mapping(raw)
            check_expiry(claims, self._life.unix(now))
            if self._config.key_by_id(claims.sub) is None:
                raise UnauthorizedError(f"token subject {claims.sub!r} is not a known API key")
        except UnauthorizedError as exc:
            prefix = "invalid token: " if isinstance(exc, InvalidTokenError) else ""
            raise _fail(401, prefix + exc.message) from None
        self._rate_limit(claims.sub, now)
        return claims

    def _tokens(self, request: HttpRequest, now: float) -> HttpResponse:
        presented = header(request.headers, HEADER_API_KEY)
        if presented is None or not presented.strip():
            raise _fail(401, "Reactor-API-Key: header is missing")
        key = self._config.find_key(presented.strip())
        if key is None:
            raise _fail(401, "Reactor-API-Key: unknown API key")
        self._rate_limit(key.key_id, now)
        obj = decode_body(request.body, what="body", max_bytes=self._config.max_body_bytes)
        try:
            token_request = parse_token_request(
                obj, max_expires_after=math.floor(self._config.max_token_ttl))
        except DecodeError as exc:
            raise _field_error(exc) from None
        claims = build_claims(key_id=key.key_id, request=token_request,
                              now_unix=self._life.unix(now), ttl=self._config.token_ttl,
                              rng=self._rng)
        try:
            jwt = self._sign(claims.to_json())
        except Exception as exc:
            self._life.emit(InternalError(detail=f"sign failed: {type(exc).__name__}"))
            raise _fail(500, "token signing failed") from None
        self._life.emit(TokenIssued(key_id=key.key_id, jti=claims.jti, expires_at=claims.exp))
        return json_reply(200, {"jwt": jwt})

    # ---- sessions ------------------------------------------------------------------------

    def _owned(self, route: Route, claims: TokenClaims, *,
               allow_closed: bool = False) -> SessionRecord:
        session_id = route.session_id
        assert session_id is not None
        if not claims.allows_session(session_id):
            raise _fail(401, f"token is not bound to session {session_id!r}")
        record = self._life.table.get(session_id)
        if (record is None or record.owner != claims.sub
                or (record.state is SessionState.CLOSED and not allow_closed)):
            raise _fail(404, f"session {session_id!r} not found")
        return record

    def snapshot(self, record: SessionRecord) -> dict[str, Any]:
        model: dict[str, Any] = {"name": record.model_name}
        if record.model_version is not None:
            model["version"] = record.model_version
        body: dict[str, Any] = {
            "session_id": record.session_id, "state": record.state.value,
            "cluster": self._config.cluster, "model": model,
            "server_info": {"server_version": self._config.server_version},
        }
        if record.expires_at_unix is not None and record.state is not SessionState.CLOSED:
            body["expires_at"] = record.expires_at_unix
        if record.state in HOSTED_STATES:
            body["selected_transport"] = dict(record.selected_transport or {})
            body["capabilities"] = dict(record.capabilities or {})
            if record.schema is not None:
                body["schema"] = dict(record.schema)
        return body

    def _create(self, request: HttpRequest, claims: TokenClaims, now: float) -> HttpResponse:
        obj = decode_body(request.body, what="body", max_bytes=self._config.max_body_bytes)
        try:
            body = parse_create_session(obj)
        except DecodeError as exc:
            raise _field_error(exc) from None
        if not claims.allows_model(body.model_name):
            raise _fail(401, f"token is not scoped for model {body.model_name!r}")
        if body.model_name != self._config.model_name:
            raise _fail(422, f"model.name: {body.model_name!r} is not served here; "
                        f"available: {self._config.model_name!r}")
        key = self._config.key_by_id(claims.sub)
        limits = [n for n in (key.max_sessions if key else None, claims.max_sessions)
                  if n is not None]
        live = self._life.table.live_count(claims.sub)
        if limits and live >= min(limits):
            raise _fail(409, f"key {claims.sub!r} already has {live} live session(s); "
                        f"the limit is {min(limits)}")
        durations = [d for d in (self._config.max_session_seconds,
                                 claims.max_session_duration_seconds) if d is not None]
        duration = float(min(durations)) if durations else None
        session_id = self._new_session_id()
        record = SessionRecord(
            session_id=session_id, owner=claims.sub, model_name=body.model_name,
            model_version=body.model_version or self._config.model_version,
            state=SessionState.CREATED, created_at=now,
            expires_at=None if duration is None else now + duration,
            expires_at_unix=None if duration is None else self._life.unix(now) + duration)
        self._life.table.put(record)
        self._life.emit(SessionCreated(session_id=session_id, key_id=claims.sub))
        created = self.snapshot(record)
        self._life.transition(record, Trigger.QUEUE)
        self._life.table.enqueue(session_id)
        self._life.fill_slots(now)
        return json_reply(201, created)

    def _new_session_id(self) -> str:
        while True:
            candidate = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            if candidate not in self._life.table:
                return candidate

    def _session(self, request: HttpRequest, method: str, route: Route, claims: TokenClaims,
                 now: float) -> HttpResponse:
        if method == "GET":
            record = self._life.refresh(self._owned(route, claims, allow_closed=True), now)
            return json_reply(200, self.snapshot(record))
        record = self._owned(route, claims)
        if method == "PUT":
            if record.state is not SessionState.INACTIVE:
                raise _fail(409, f"session {record.session_id!r} is {record.state.value}; "
                            "only an INACTIVE session can be restarted")
            record = self._life.transition(record, Trigger.RESTART)
            self._life.table.enqueue(record.session_id)
            self._life.fill_slots(now)
            return json_reply(200, self.snapshot(record))
        obj = decode_body(request.body, what="body", max_bytes=self._config.max_body_bytes)
        try:
            reason = parse_delete_reason(obj) or "client_request"
        except DecodeError as exc:
            raise _field_error(exc) from None
        self._life.close(record, Trigger.DELETE, reason, now)
        return json_reply(200, {"session_id": record.session_id, "state": "CLOSED",
                                "reason": reason})

    # ---- forwarding ----------------------------------------------------------------------

    def _hosted(self, record: SessionRecord, what: str) -> tuple[int, str]:
        if (record.state not in HOSTED_STATES or record.slot is None
                or record.runtime_session_id is None):
            raise _fail(409, f"session {record.session_id!r} is {record.state.value} and has "
                        f"no runtime; {what} needs state WAITING or ACTIVE")
        return record.slot, record.runtime_session_id

    def _forward(self, slot: int, request: HttpRequest, target: str, now: float,
                 operation: str) -> HttpResponse:
        forwarded = forwarded_request(method=request.method.upper(), target=target,
                                      headers=request.headers, body=request.body)
        response = self._life.call_runtime(slot, forwarded, now, operation)
        if response is None:
            raise _fail(502, f"{operation}: the runtime failed to answer")
        return with_cors(response)

    def _transport(self, request: HttpRequest, url: SplitResult, route: Route,
                   claims: TokenClaims, now: float) -> HttpResponse:
        self._check(check_webrtc_version(request.headers, self._config.force_version_status))
        record = self._owned(route, claims)
        slot, runtime_sid = self._hosted(record, "a transport route")
        target = f"/sessions/{runtime_sid}/transport/webrtc{route.rest}"
        if url.query:
            target += "?" + url.query
        response = self._forward(slot, request, target, now, "transport")
        current = self._life.table.get(record.session_id)
        if current is not None:
            self._life.refresh(current, now)
        return response

    def _upload_slot(self, request: HttpRequest, url: SplitResult, route: Route,
                     claims: TokenClaims, now: float) -> HttpResponse:
        decode_body(request.body, what="body", max_bytes=self._config.max_body_bytes)
        record = self._owned(route, claims)
        slot, runtime_sid = self._hosted(record, "an upload")
        if self._life.table.upload_count(record.session_id) >= MAX_UPLOADS_PER_SESSION:
            raise _fail(409, f"session {record.session_id!r} already has "
                        f"{MAX_UPLOADS_PER_SESSION} uploads")
        host = header(request.headers, "host") or url.netloc
        if not host or not _HOST.fullmatch(host):
            raise _fail(400, f"Host: not a valid host {host[:64]!r}")
        response = self._forward(slot, request, f"/sessions/{runtime_sid}/uploads", now,
                                 "upload_slot")
        if response.status != 201:
            return response
        try:
            fields = Fields(decode_body(response.body, what="runtime upload slot",
                                        max_bytes=self._config.max_body_bytes), "upload")
            upload_id = str(uuid.UUID(fields.req_str("presigned_id")))
            path = fields.req_str("path")
        except (BodyError, DecodeError, ValueError) as exc:
            self._life.emit(RuntimeCallFailed(slot=slot, operation="upload_slot",
                                              detail=str(exc)))
            raise _fail(502, "upload_slot: the runtime returned a malformed upload slot") \
                from None
        prefix = f"sessions/{runtime_sid}/"
        if path.startswith(prefix):
            path = f"sessions/{record.session_id}/" + path[len(prefix):]
        self._life.table.add_upload(upload_id, record.session_id)
        scheme = url.scheme if url.scheme in ("http", "https") else "http"
        return json_reply(201, {"presigned_id": upload_id,
                                "presigned_url": f"{scheme}://{host}/uploads/{upload_id}",
                                "path": path})

    def _upload_put(self, request: HttpRequest, route: Route, now: float) -> HttpResponse:
        assert route.upload_id is not None
        session_id = self._life.table.upload_session(route.upload_id)
        record = self._life.table.get(session_id) if session_id is not None else None
        if record is None or record.state not in HOSTED_STATES or record.slot is None:
            raise _fail(404, f"upload {route.upload_id!r} not found")
        content_type = header(request.headers, HEADER_CONTENT_TYPE)
        plain = HttpRequest(method="PUT", url=request.url,
                            headers=(() if content_type is None
                                     else ((HEADER_CONTENT_TYPE, content_type),)),
                            body=request.body)
        return self._forward(record.slot, plain, f"/uploads/{route.upload_id}", now,
                             "upload_put")

