"""Route handlers of the coordinator: authentication, checks, bodies, session routes.

Each handler returns a response, raises :class:`~.routes.Reply` carrying an error response,
or returns ``None``: the answer is queued later, when the runtime call it started completes
(forwarded routes, ``forwarding.py``; a ``GET`` that polls the runtime first).  State
changes go through :class:`~.lifecycle.Lifecycle` (and so through the transition table).
Check order on every authenticated route: route (404) -> method (405) -> body size (413) ->
bearer token (401) -> rate limit (429) -> version headers (426/501) -> body (400/422) ->
scope (401) -> session lookup (404) -> state (409).
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..constants import HEADER_API_KEY, HEADER_AUTHORIZATION
from ..errors import DecodeError, UnauthorizedError
from ..http import HttpRequest, HttpResponse
from .calls import PendingCall, View
from .events import InternalError, SessionCreated, TokenIssued
from .forwarding import Forwarding
from .lifecycle import Lifecycle, Trigger
from .routes import (
    ALLOWED_METHODS,
    BodyError,
    Reply,
    Route,
    RouteName,
    check_api_versions,
    check_webrtc_version,
    decode_body,
    error_reply,
    fail,
    header,
    json_reply,
    match_path,
    parse_create_session,
    parse_delete_reason,
    preflight_reply,
)
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

Sign = Callable[[Mapping[str, Any]], str]
Verify = Callable[[str], Mapping[str, Any]]
MAX_TOKEN_CHARS = 8192


def _field_error(exc: DecodeError) -> Reply:
    return fail(422, exc.message)


class RouteHandlers:
    def __init__(self, life: Lifecycle, forwarding: Forwarding, *, rng: random.Random,
                 sign: Sign, verify: Verify) -> None:
        self._life = life
        self._config = life.config
        self._forwarding = forwarding
        self._rng = rng
        self._sign = sign
        self._verify = verify

    # ---- dispatch ------------------------------------------------------------------------

    def dispatch(self, request: HttpRequest, request_id: int,
                 now: float) -> HttpResponse | None:
        """The answer, or ``None`` when it is queued later under ``request_id``."""
        try:
            return self._dispatch(request, request_id, now)
        except Reply as reply:
            return reply.response
        except BodyError as exc:
            return error_reply(exc.status, exc.detail)

    def _dispatch(self, request: HttpRequest, rid: int, now: float) -> HttpResponse | None:
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
            self._forwarding.upload_put(request, route, rid, now)
            return None
        claims = self._authorize(request, now)
        if route.name is RouteName.STEPS:
            self._forwarding.steps(request, route, self._owned(route, claims), rid, now)
            return None
        if route.name is RouteName.TRANSPORT:
            self._check(check_webrtc_version(request.headers,
                                             self._config.force_version_status))
            record = self._owned(route, claims)
            self._forwarding.transport(request, url, route, record, rid, now)
            return None
        if not (route.name is RouteName.SESSION and method == "DELETE"):
            self._check(check_api_versions(request.headers,
                                           self._config.force_version_status))
        if route.name is RouteName.SESSIONS:
            return self._create(request, claims, now)
        if route.name is RouteName.UPLOADS:
            decode_body(request.body, what="body", max_bytes=self._config.max_body_bytes)
            record = self._owned(route, claims)
            self._forwarding.upload_slot(request, url, record, rid, now)
            return None
        if route.name is RouteName.SESSION_INFO:
            return self._after_poll(self._owned(route, claims, allow_closed=True), View.INFO,
                                    rid, now)
        return self._session(request, method, route, claims, rid, now)

    @staticmethod
    def _check(problem: tuple[int, str] | None) -> None:
        if problem is not None:
            raise fail(*problem)

    # ---- authentication and rate limiting ------------------------------------------------

    def _rate_limit(self, key_id: str, now: float) -> None:
        retry_after = self._life.limiter.acquire(key_id, now)
        if retry_after is not None:
            raise fail(429, f"rate limit exceeded for key {key_id!r}; retry after "
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
            raise fail(401, prefix + exc.message) from None
        self._rate_limit(claims.sub, now)
        return claims

    def _tokens(self, request: HttpRequest, now: float) -> HttpResponse:
        presented = header(request.headers, HEADER_API_KEY)
        if presented is None or not presented.strip():
            raise fail(401, "Reactor-API-Key: header is missing")
        key = self._config.find_key(presented.strip())
        if key is None:
            raise fail(401, "Reactor-API-Key: unknown API key")
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
            raise fail(500, "token signing failed") from None
        self._life.emit(TokenIssued(key_id=key.key_id, jti=claims.jti, expires_at=claims.exp))
        return json_reply(200, {"jwt": jwt})

    # ---- sessions ------------------------------------------------------------------------

    def _owned(self, route: Route, claims: TokenClaims, *,
               allow_closed: bool = False) -> SessionRecord:
        session_id = route.session_id
        assert session_id is not None
        if not claims.allows_session(session_id):
            raise fail(401, f"token is not bound to session {session_id!r}")
        record = self._life.table.get(session_id)
        if (record is None or record.owner != claims.sub
                or (record.state is SessionState.CLOSED and not allow_closed)):
            raise fail(404, f"session {session_id!r} not found")
        return record

    def _after_poll(self, record: SessionRecord, view: View, rid: int,
                    now: float) -> HttpResponse | None:
        """Answer after polling the session's runtime (at once if it has none)."""
        if self._life.poll(record, now, request_id=rid, view=view) is not None:
            return None
        return self.view(record, view)

    def answer_poll(self, call: PendingCall) -> None:
        """The poll a ``GET`` waited for is done: answer it with the session as it is now."""
        assert call.request_id is not None and call.session_id is not None
        record = self._life.table.get(call.session_id)
        answer = (error_reply(404, f"session {call.session_id!r} not found") if record is None
                  else self.view(record, call.view or View.SESSION))
        self._life.respond(call.request_id, answer)

    def view(self, record: SessionRecord, view: View) -> HttpResponse:
        if view is View.INFO:
            return json_reply(200, {"session_id": record.session_id,
                                    "state": record.state.value,
                                    "cluster": self._config.cluster})
        return json_reply(200, self.snapshot(record))

    def snapshot(self, record: SessionRecord) -> dict[str, Any]:
        model: dict[str, Any] = {"name": record.model_name}
        if record.model_version is not None:
            model["version"] = record.model_version
        body: dict[str, Any] = {
            "session_id": record.session_id, "state": record.state.value,
            "cluster": self._config.cluster, "model": model,
            "server_info": {"server_version": self._config.server_version},
            "generation": record.generation,
        }
        if record.server_wires is not None and record.state in HOSTED_STATES:
            # The hosting runtime's wire marker, passed on so a client's ``wire="auto"``
            # can choose v1 through us; never invented (the official cloud sends none).
            body["server_info"]["wire"] = list(record.server_wires)
        if record.expires_at_unix is not None and record.state is not SessionState.CLOSED:
            body["expires_at"] = record.expires_at_unix
        queue = self._life.table.queue
        if record.session_id in queue:
            # Our extension: 1 = next for a free GPU (the legacy docs' waiting info).
            body["queue_position"] = queue.index(record.session_id) + 1
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
            raise fail(401, f"token is not scoped for model {body.model_name!r}")
        if body.model_name != self._config.model_name:
            raise fail(422, f"model.name: {body.model_name!r} is not served here; "
                        f"available: {self._config.model_name!r}")
        key = self._config.key_by_id(claims.sub)
        limits = [n for n in (key.max_sessions if key else None, claims.max_sessions)
                  if n is not None]
        live = self._life.table.live_count(claims.sub)
        if limits and live >= min(limits):
            raise fail(409, f"key {claims.sub!r} already has {live} live session(s); "
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
            expires_at_unix=None if duration is None else self._life.unix(now) + duration,
            generation=body.generation)
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
                 rid: int, now: float) -> HttpResponse | None:
        if method == "GET":
            return self._after_poll(self._owned(route, claims, allow_closed=True),
                                    View.SESSION, rid, now)
        record = self._owned(route, claims)
        if method == "PUT":
            if record.state is not SessionState.INACTIVE:
                raise fail(409, f"session {record.session_id!r} is {record.state.value}; "
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
