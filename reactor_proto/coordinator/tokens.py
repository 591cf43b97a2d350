"""JWT claims for the coordinator: request parsing, claim building and checking.

Signing and signature checking are injected (the adapter wraps PyJWT), so this module never
sees a key.  The contract of the injected callables:

* ``sign(claims: Mapping[str, Any]) -> str`` returns the compact JWT;
* ``verify(token: str) -> Mapping[str, Any]`` returns the claims when the signature is good
  and raises :class:`InvalidTokenError` otherwise.  It must NOT check ``exp`` itself (PyJWT:
  ``options={"verify_exp": False}``): expiry is judged here against the machine's clock, so
  fake-clock tests and the adapter agree.  Any other exception it raises is also treated as
  a bad token (401), never let out of the machine.

Claims (all times are Unix seconds, integers as JWT NumericDate requires): ``sub`` (the API
key's public id, never the key), ``iat``, ``exp``, ``jti`` (128 random bits from the injected
RNG, hex), and the optional scope of docs/protocol §2.1: ``models`` (list of model names;
absent = every model), ``sessions`` (bound session ids; absent = any), ``max_sessions``,
``max_session_duration_seconds``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

import attrs

from ..errors import DecodeError, UnauthorizedError
from ..jsonfields import Fields
from .config import MAX_SESSION_DURATION_SECONDS

#: At most this many names in a scope list (bounded input).
MAX_SCOPE_ITEMS = 64
ISSUER = "reactor-sansio-coordinator"


class InvalidTokenError(UnauthorizedError):
    """A bearer token whose signature (or structure) does not verify."""


@attrs.frozen(kw_only=True)
class TokenRequest:
    """The optional ``POST /tokens`` body ([S113] shape, docs/protocol §2.1)."""

    models: tuple[str, ...] | None = None
    sessions: tuple[str, ...] | None = None
    max_sessions: int | None = None
    max_session_duration_seconds: int | None = None
    expires_after: int | None = None


@attrs.frozen(kw_only=True)
class TokenClaims:
    sub: str
    iat: int
    exp: int
    jti: str
    models: tuple[str, ...] | None = None
    sessions: tuple[str, ...] | None = None
    max_sessions: int | None = None
    max_session_duration_seconds: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"iss": ISSUER, "sub": self.sub, "iat": self.iat,
                               "exp": self.exp, "jti": self.jti}
        if self.models is not None:
            out["models"] = list(self.models)
        if self.sessions is not None:
            out["sessions"] = list(self.sessions)
        if self.max_sessions is not None:
            out["max_sessions"] = self.max_sessions
        if self.max_session_duration_seconds is not None:
            out["max_session_duration_seconds"] = self.max_session_duration_seconds
        return out

    def allows_model(self, name: str) -> bool:
        return self.models is None or name in self.models

    def allows_session(self, session_id: str) -> bool:
        return self.sessions is None or session_id in self.sessions


def _names(fields: Fields, key: str) -> tuple[str, ...]:
    where = fields.where(key)
    values = fields.req_list(key)
    if not values or len(values) > MAX_SCOPE_ITEMS:
        raise DecodeError(f"{where}: expected 1..{MAX_SCOPE_ITEMS} names, got {len(values)}",
                          field=where, value=len(values))
    for index, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise DecodeError(f"{where}[{index}]: expected a non-empty string, got {value!r}",
                              field=f"{where}[{index}]", value=value)
    return tuple(values)


def _bounded_int(fields: Fields, key: str, low: int, high: int) -> int | None:
    value = fields.opt_int(key)
    if value is not None and not low <= value <= high:
        where = fields.where(key)
        raise DecodeError(f"{where}: must be between {low} and {high}, got {value}",
                          field=where, value=value)
    return value


def parse_token_request(obj: Any, *, max_expires_after: int) -> TokenRequest:
    """Parse a ``POST /tokens`` body; ``None`` (no body or JSON null) is an unscoped token.

    At most one ``authorization_details`` entry is accepted (the shape [S113] sends);
    ``type`` must be ``"session"``.  Raises :class:`DecodeError` naming the field.
    """
    if obj is None:
        return TokenRequest()
    body = Fields(obj, "")
    expires_after = _bounded_int(body, "expires_after", 1, max_expires_after)
    details = body.opt_list("authorization_details")
    if not details:
        return TokenRequest(expires_after=expires_after)
    if len(details) > 1:
        raise DecodeError(
            f"authorization_details: at most one entry is supported, got {len(details)}",
            field="authorization_details", value=len(details))
    detail = Fields(details[0], "authorization_details[0]")
    kind = detail.req_str("type")
    if kind != "session":
        raise DecodeError(f"{detail.where('type')}: expected 'session', got {kind!r}",
                          field=detail.where("type"), value=kind)
    models: tuple[str, ...] | None = None
    sessions: tuple[str, ...] | None = None
    resources = detail.opt_obj("resources")
    if resources is not None:
        model_scope = resources.opt_obj("models")
        if model_scope is not None and not model_scope.opt_bool("all"):
            models = _names(model_scope, "match")
        session_scope = resources.opt_obj("sessions")
        if session_scope is not None:
            sessions = _names(session_scope, "bind")
    max_sessions: int | None = None
    max_duration: int | None = None
    constraints = detail.opt_obj("constraints")
    if constraints is not None:
        max_sessions = _bounded_int(constraints, "max_sessions", 1, 1_000_000)
        max_duration = _bounded_int(constraints, "max_session_duration_seconds", 1,
                                    MAX_SESSION_DURATION_SECONDS)
    return TokenRequest(models=models, sessions=sessions, max_sessions=max_sessions,
                        max_session_duration_seconds=max_duration, expires_after=expires_after)


def token_request_to_json(request: TokenRequest) -> dict[str, Any] | None:
    """The ``POST /tokens`` body for ``request`` (``None`` = unscoped), the inverse of
    :func:`parse_token_request`."""
    if request == TokenRequest():
        return None
    out: dict[str, Any] = {}
    if request.expires_after is not None:
        out["expires_after"] = request.expires_after
    resources: dict[str, Any] = {}
    if request.models is not None:
        resources["models"] = {"match": list(request.models)}
    if request.sessions is not None:
        resources["sessions"] = {"bind": list(request.sessions)}
    constraints: dict[str, Any] = {}
    if request.max_sessions is not None:
        constraints["max_sessions"] = request.max_sessions
    if request.max_session_duration_seconds is not None:
        constraints["max_session_duration_seconds"] = request.max_session_duration_seconds
    if resources or constraints:
        detail: dict[str, Any] = {"type": "session"}
        if resources:
            detail["resources"] = resources
        if constraints:
            detail["constraints"] = constraints
        out["authorization_details"] = [detail]
    return out


def build_claims(*, key_id: str, request: TokenRequest, now_unix: float, ttl: float,
                 rng: random.Random) -> TokenClaims:
    iat = math.floor(now_unix)
    lifetime = request.expires_after if request.expires_after is not None else ttl
    return TokenClaims(
        sub=key_id, iat=iat, exp=math.floor(now_unix + lifetime),
        jti=f"{rng.getrandbits(128):032x}", models=request.models, sessions=request.sessions,
        max_sessions=request.max_sessions,
        max_session_duration_seconds=request.max_session_duration_seconds,
    )


def _opt_names(fields: Fields, key: str) -> tuple[str, ...] | None:
    return _names(fields, key) if fields.has(key) else None


def claims_from_mapping(claims: Mapping[str, Any]) -> TokenClaims:
    """Rebuild claims returned by ``verify``; :class:`InvalidTokenError` if malformed."""
    try:
        fields = Fields(dict(claims), "token")
        return TokenClaims(
            sub=fields.req_str("sub"), iat=fields.req_int("iat"), exp=fields.req_int("exp"),
            jti=fields.req_str("jti"), models=_opt_names(fields, "models"),
            sessions=_opt_names(fields, "sessions"),
            max_sessions=fields.opt_int("max_sessions"),
            max_session_duration_seconds=fields.opt_int("max_session_duration_seconds"),
        )
    except DecodeError as exc:
        raise InvalidTokenError(f"token claims are malformed: {exc.message}") from None


def check_expiry(claims: TokenClaims, now_unix: float) -> None:
    """:class:`UnauthorizedError` when the token has expired (``exp`` is exclusive)."""
    if now_unix >= claims.exp:
        raise UnauthorizedError(
            f"token expired: exp {claims.exp} <= now {math.floor(now_unix)}", status=401)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <jwt>`` header, else UnauthorizedError."""
    if authorization is None:
        raise UnauthorizedError("Authorization: header is missing (expected 'Bearer <jwt>')",
                                status=401)
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise UnauthorizedError("Authorization: expected 'Bearer <jwt>'", status=401)
    return token
