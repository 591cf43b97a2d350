"""Events the coordinator reports for logs and metrics (pulled with ``next_event()``).

No event carries a secret: keys appear only as their public ``key_id``.
"""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class TokenIssued:
    key_id: str
    jti: str
    expires_at: int


@attrs.frozen(kw_only=True)
class SessionCreated:
    session_id: str
    key_id: str


@attrs.frozen(kw_only=True)
class SessionStateChanged:
    session_id: str
    old: str
    new: str
    trigger: str


@attrs.frozen(kw_only=True)
class SessionClosed:
    session_id: str
    reason: str


@attrs.frozen(kw_only=True)
class RuntimeCallFailed:
    """A call into a runtime slot failed (non-2xx, garbage, or the runtime raised)."""

    slot: int
    operation: str
    detail: str


@attrs.frozen(kw_only=True)
class InternalError:
    """A bug: an unexpected exception was turned into a 500 instead of escaping."""

    detail: str


CoordinatorEvent = (TokenIssued | SessionCreated | SessionStateChanged | SessionClosed
                    | RuntimeCallFailed | InternalError)
