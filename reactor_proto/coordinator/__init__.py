"""The coordinator role of the sans-IO core: the production API emulator (docs/protocol §2-§3).

``CoordinatorMachine(config, slots=n, rng=random.Random(seed), sign=..., verify=...,
unix_offset=...)`` takes client requests with ``receive_request(request, now)`` and answers
each with a :class:`SendResponse` action.  It never calls a runtime itself: starting,
polling and stopping a runtime session and forwarding transport and upload routes are
runtime call actions (:data:`RuntimeCall`) whose outcome the adapter feeds back with
``runtime_replied`` / ``runtime_call_failed``.  Timers: ``next_deadline()`` /
``handle_timeout(now)``.
"""

from .actions import (
    AssignGpu,
    CoordinatorAction,
    ForwardToRuntime,
    PollRuntime,
    ReleaseRuntime,
    RuntimeCall,
    SendResponse,
)
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
from .lifecycle import TRANSITIONS, Trigger
from .machine import CoordinatorMachine
from .ratelimit import TokenBucketLimiter
from .sessions import SessionState
from .tokens import InvalidTokenError, TokenClaims, TokenRequest

__all__ = [
    "TRANSITIONS",
    "ApiKey",
    "AssignGpu",
    "CoordinatorAction",
    "CoordinatorConfig",
    "CoordinatorEvent",
    "CoordinatorMachine",
    "ForwardToRuntime",
    "InternalError",
    "InvalidTokenError",
    "PollRuntime",
    "RateLimit",
    "ReleaseRuntime",
    "RuntimeCall",
    "RuntimeCallFailed",
    "SendResponse",
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
