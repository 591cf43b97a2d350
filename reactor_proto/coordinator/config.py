"""Static configuration of the coordinator emulator.

API keys carry their secret in a field that is left out of ``repr`` (and of every
``__str__``), so printing a config, a key or an error can never leak it.  The public
identifier of a key is its ``key_id``: it is the JWT ``sub`` claim, the rate-limit bucket
and the owner recorded on sessions.
"""

from __future__ import annotations

import hmac
from typing import Any

import attrs

from ..constants import MAX_HTTP_BODY_BYTES, MAX_UPLOAD_BYTES
from ..errors import LocalProtocolError

#: Upper bound of ``max_session_duration_seconds`` in a token request (docs/protocol §2.1).
MAX_SESSION_DURATION_SECONDS = 86_400


def _positive(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not value > 0:
        raise LocalProtocolError(f"{attribute.name}: must be > 0, got {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not value >= 0:
        raise LocalProtocolError(f"{attribute.name}: must be >= 0, got {value!r}")


def _optional_positive(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not value > 0:
        raise LocalProtocolError(f"{attribute.name}: must be > 0 or None, got {value!r}")


@attrs.frozen(kw_only=True)
class ApiKey:
    """One API key: a public id, the secret (never printed) and its per-key policy."""

    key_id: str
    secret: str = attrs.field(repr=False)
    #: Live (non-CLOSED) sessions this key may own at once; ``None`` = unlimited.
    max_sessions: int | None = attrs.field(default=None, validator=_optional_positive)

    def matches(self, presented: str) -> bool:
        """Constant-time comparison with a presented key."""
        return hmac.compare_digest(self.secret.encode("utf-8"), presented.encode("utf-8"))


@attrs.frozen(kw_only=True)
class RateLimit:
    """Token bucket: ``burst`` requests at once, refilled at ``per_second``."""

    burst: float = attrs.field(default=20.0, validator=_positive)
    per_second: float = attrs.field(default=10.0, validator=_positive)


@attrs.frozen(kw_only=True)
class CoordinatorConfig:
    """Policy of a coordinator.  Runtime slots are given to the machine, not configured here.

    Time values are seconds.  ``assign_delay`` emulates how long the GPU scheduler takes to
    hand a queued session to a free runtime; ``runtime_poll_interval`` is how often every
    assigned runtime's ``GET /session`` is polled to learn that its client connected (ACTIVE)
    or that its session ended on its own (orphan timeout -> CLOSED).
    """

    api_keys: tuple[ApiKey, ...] = ()
    model_name: str = "helios"
    model_version: str | None = None
    cluster: str = "emulator"
    server_version: str = "0.1.0"
    assign_delay: float = attrs.field(default=0.0, validator=_non_negative)
    runtime_poll_interval: float = attrs.field(default=1.0, validator=_positive)
    #: Maximum session duration; ``None`` = no limit unless the token sets one.
    max_session_seconds: float | None = attrs.field(default=None, validator=_optional_positive)
    #: How long a CLOSED session stays visible to ``GET /sessions/{id}`` before it is purged.
    closed_retention: float = attrs.field(default=60.0, validator=_non_negative)
    #: ...and at most this many CLOSED sessions are kept (the oldest go first), so a burst of
    #: short sessions cannot grow the table within ``closed_retention`` (issue 21).
    max_closed_sessions: int = attrs.field(default=1024, validator=_non_negative)
    rate_limit: RateLimit | None = None
    token_ttl: float = attrs.field(default=3600.0, validator=_positive)
    max_token_ttl: float = attrs.field(default=86_400.0, validator=_positive)
    max_body_bytes: int = attrs.field(default=MAX_HTTP_BODY_BYTES, validator=_positive)
    max_upload_bytes: int = attrs.field(default=MAX_UPLOAD_BYTES, validator=_positive)
    #: Fault injection: answer every version-checked route with this status (426 or 501).
    force_version_status: int | None = None
    max_events: int = attrs.field(default=1024, validator=_positive)
    #: A runtime call the adapter has not answered within this time counts as failed.
    runtime_call_timeout: float = attrs.field(default=30.0, validator=_positive)
    #: Runtime calls in flight at once; beyond it the adapter is not performing actions
    #: (a forwarded request then gets 503, a start fails, a timer poll is skipped).
    max_runtime_calls: int = attrs.field(default=1024, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.force_version_status not in (None, 426, 501):
            raise LocalProtocolError(
                f"force_version_status: must be 426, 501 or None, got "
                f"{self.force_version_status!r}"
            )
        ids = [key.key_id for key in self.api_keys]
        if len(set(ids)) != len(ids):
            raise LocalProtocolError(f"api_keys: duplicate key_id in {ids!r}")

    def find_key(self, presented: str) -> ApiKey | None:
        """The key whose secret equals ``presented`` (every key is compared)."""
        found: ApiKey | None = None
        for key in self.api_keys:
            if key.matches(presented):
                found = key
        return found

    def key_by_id(self, key_id: str) -> ApiKey | None:
        for key in self.api_keys:
            if key.key_id == key_id:
                return key
        return None
