"""JWT signing and verification for the coordinator emulator (PyJWT, HS256).

The machine decides *what* a token says and when it has expired; this module only turns claims
into a compact JWS and back.  The signing secret is random per process (``secrets``), so a
token never outlives the emulator that issued it, and it appears in no ``repr``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import jwt

from reactor_proto.coordinator import InvalidTokenError

ALGORITHM = "HS256"
SECRET_BYTES = 32


class JwtKeys:
    """An HS256 key pair-of-functions: ``sign(claims) -> str``, ``verify(token) -> claims``.

    ``verify`` checks the signature, the algorithm and the structure, but not ``exp``: the
    coordinator machine judges expiry against its own clock (see ``reactor_proto.coordinator
    .tokens``), so tests with a fake clock and the live emulator agree.
    """

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes | None = None) -> None:
        if secret is None:
            secret = secrets.token_bytes(SECRET_BYTES)
        if len(secret) < SECRET_BYTES:
            raise ValueError(f"secret: expected at least {SECRET_BYTES} bytes, "
                             f"got {len(secret)}")
        self._secret = secret

    def __repr__(self) -> str:
        return f"JwtKeys(algorithm={ALGORITHM!r})"

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(dict(claims), self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                         "verify_aud": False, "verify_iss": False})
        except jwt.InvalidTokenError as exc:
            # PyJWT's messages name the problem ("Signature verification failed"), never
            # the token or the secret.
            raise InvalidTokenError(f"{type(exc).__name__}: {exc}", status=401) from None
        return claims
