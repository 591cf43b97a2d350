"""Clip and recording requests of the client connection (§10), on either wire.

``request_clip`` checks the request, sends it and returns an operation id; the operation
completes with the runtime's :class:`~reactor_proto.recording.Clip` or a typed
:class:`~reactor_proto.recording.errors.RecordingError`:

* **v1**: a REQUEST on ``control`` correlated by id like every v1 request
  (:func:`reactor_proto.client.v1.request_clip`); the errors of a v1 clip request are mapped
  here (:func:`timeout_error`, :func:`lost_error`, :func:`refused_error`).
* **v0**: the runtime messages ``requestClip``/``requestRecording``; replies carry no id, so
  they are matched in order by the connection's
  :class:`~reactor_proto.recording.ClipRequests` (which also closes the late-reply hole of
  v0, see there).  The deadline, the disconnect and the late replies are its business; this
  module only turns its events into completed operations.

Either way a request pending when the connection goes away fails at once with
``DISCONNECTED`` (:func:`abandon`): nobody waits for a reply that cannot come.
"""

from __future__ import annotations

from typing import Any

from ..envelope import encode_envelope
from ..errors import DecodeError
from ..recording import (
    Clip,
    ClipFailure,
    ClipKind,
    ClipRequest,
    ClipRequestFailed,
    ClipResolved,
    RecordingRequest,
    check_clip_duration,
    failure_error,
)
from ..recording.errors import RecordingError, RecordingErrorCode
from ..recording.vocabulary import decode_reply
from ..wire_v1 import ClipFailed, ClipReady
from .actions import SendChannel
from .events import OperationKind
from .phases import Phase
from .state import ClientState, act, complete, report

ClipAsk = ClipRequest | RecordingRequest


def check_request(s: ClientState, what: str, duration_seconds: object = None) -> ClipAsk:
    """The request to send, or the typed error naming what is wrong (nothing is sent)."""
    if s.config.generation == "stepped":
        raise RecordingError(RecordingErrorCode.RECORDER_DISABLED,
                             f"{what}: a stepped session is not recorded", recoverable=False)
    if s.phase is not Phase.READY:
        state = "not connected; call connect() first" if s.phase is Phase.IDLE else (
            f"the connection is {s.status.value}, not ready")
        raise RecordingError(RecordingErrorCode.DISCONNECTED, f"{what}: {state}",
                             recoverable=False)
    if what.startswith("request_recording"):
        return RecordingRequest()
    return ClipRequest(duration_seconds=check_clip_duration(duration_seconds))


def send_v0(s: ClientState, request: ClipAsk, op: int, now: float,
            timeout: float | None) -> None:
    """v0: the runtime message, then the pending entry (FIFO correlation)."""
    assert s.peer_id is not None
    kind = ClipKind.SNAP if isinstance(request, ClipRequest) else ClipKind.RECORDING
    text = encode_envelope(request.to_envelope(), max_bytes=s.max_message_bytes)
    s.wire.clips.start(str(op), kind, now=now, timeout=timeout)  # raises: too many pending
    act(s, SendChannel(peer_id=s.peer_id, channel="data", text=text))


def on_v0_message(s: ClientState, type_: Any, data: Any, now: float) -> None:
    """A v0 runtime message: ``clipReady``/``clipFailed`` answer the oldest request."""
    if not isinstance(type_, str):
        return
    try:
        reply = decode_reply(type_, data)
    except DecodeError as exc:
        report(s, exc)  # a malformed reply still answers its request, as a failure
        reply = ClipFailure(reason=f"malformed {type_}: {exc.message}")
    if reply is None:
        return
    s.wire.clips.reply(reply, now=now)
    _drain(s)


def expire(s: ClientState, now: float) -> None:
    s.wire.clips.handle_timeout(now)
    _drain(s)


def abandon(s: ClientState) -> None:
    """The connection closed: every v0 request pending on it fails with DISCONNECTED."""
    s.wire.clips.disconnected()
    _drain(s)


def _drain(s: ClientState) -> None:
    while (event := s.wire.clips.next_event()) is not None:
        if isinstance(event, ClipResolved):
            complete(s, int(event.request_id), OperationKind.CLIP, value=event.clip)
        elif isinstance(event, ClipRequestFailed):
            complete(s, int(event.request_id), OperationKind.CLIP, error=event.error)


# ---- v1 errors --------------------------------------------------------------------------------


def v1_outcome(payload: object) -> tuple[Clip | None, RecordingError | None]:
    """The value or the error of a v1 clip reply (``clip_ready`` / ``clip_failed``)."""
    if isinstance(payload, ClipReady):
        return Clip.from_v1(payload), None
    if isinstance(payload, ClipFailed):
        return None, failure_error(ClipFailure.from_v1(payload))
    return None, RecordingError(RecordingErrorCode.INTERNAL_ERROR,
                                f"clip reply carries {type(payload).__name__}")


def refused_error(message: str) -> RecordingError:
    return RecordingError(RecordingErrorCode.INTERNAL_ERROR,
                          f"the runtime refused the clip request: {message}")


def timeout_error(what: str, timeout: float) -> RecordingError:
    return RecordingError(RecordingErrorCode.REQUEST_TIMEOUT,
                          f"{what}: no clip reply within {timeout:g} s")


def lost_error() -> RecordingError:
    return RecordingError(RecordingErrorCode.DISCONNECTED,
                          "disconnected while a clip request was pending")
