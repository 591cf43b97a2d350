"""Actions the coordinator machine asks its adapter to perform (drain after EVERY call).

Every client request gets exactly one :class:`SendResponse`, carrying the ``request_id``
that ``receive_request`` returned; it may be queued by that same call or by a later input
(when the answer needs a runtime first).  Every runtime call carries a ``call_id``: the
adapter sends ``request`` to the runtime in ``slot`` and reports the outcome with
``runtime_replied(call_id, response, now)`` or ``runtime_call_failed(call_id, detail, now)``.
A reply to a call the machine no longer waits for (it timed out) is dropped.  Calls to one
slot must be performed in the order they were queued (a stop before the next start).
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

from ..http import HttpRequest, HttpResponse


@attrs.frozen(kw_only=True)
class AssignGpu:
    """Start a session on the runtime in ``slot`` (``POST /start_session``)."""

    call_id: int
    slot: int
    request: HttpRequest


@attrs.frozen(kw_only=True)
class PollRuntime:
    """Ask the runtime in ``slot`` for its session descriptor (``GET /session``)."""

    call_id: int
    slot: int
    request: HttpRequest


@attrs.frozen(kw_only=True)
class ForwardToRuntime:
    """A client's transport or upload request, re-addressed to the runtime in ``slot``."""

    call_id: int
    slot: int
    request: HttpRequest


@attrs.frozen(kw_only=True)
class ReleaseRuntime:
    """End the session on the runtime in ``slot`` (``POST /stop_session``)."""

    call_id: int
    slot: int
    request: HttpRequest


@attrs.frozen(kw_only=True)
class SendResponse:
    """Answer the client request ``request_id`` with ``response``."""

    request_id: int
    response: HttpResponse


RuntimeCall: TypeAlias = AssignGpu | PollRuntime | ForwardToRuntime | ReleaseRuntime
CoordinatorAction: TypeAlias = RuntimeCall | SendResponse
