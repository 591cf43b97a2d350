"""The coordinator role of the sans-IO core: the production API emulator (PROTOCOL.md §2-§3).

``CoordinatorMachine(config, runtimes=[...], rng=random.Random(seed), sign=..., verify=...,
unix_offset=...)`` answers client requests with ``handle_http(request, now)``, forwards
transport and upload routes to the runtime hosting each session, and runs its timers with
``next_deadline()`` / ``handle_timeout(now)``.
"""

from .config import ApiKey, CoordinatorConfig, RateLimit
from .events import (
    CoordinatorEvent,
    InternalError,
    RuntimeCallFailed,
    SessionClosed,
    SessionCreated,
    SessionStateChanged,
    TokenIssued,
)
from .machine import TRANSITIONS, CoordinatorMachine, Trigger
from .ratelimit import TokenBucketLimiter
from .runtime_link import HostedRuntime
from .sessions import SessionState
from .tokens import InvalidTokenError, TokenClaims, TokenRequest

__all__ = [
    "TRANSITIONS",
    "ApiKey",
    "CoordinatorConfig",
    "CoordinatorEvent",
    "CoordinatorMachine",
    "HostedRuntime",
    "InternalError",
    "InvalidTokenError",
    "RateLimit",
    "RuntimeCallFailed",
    "SessionClosed",
    "SessionCreated",
    "SessionState",
    "SessionStateChanged",
    "TokenBucketLimiter",
    "TokenClaims",
    "TokenIssued",
    "TokenRequest",
    "Trigger",
]
