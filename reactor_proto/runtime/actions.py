"""Actions the runtime machine asks its adapter to perform (drain after EVERY call).

Actions about one connection carry its ``connection_id`` and, where a transport is being
built, the ``negotiation_id`` that the adapter passes back with the outcome, so a late
answer for an offer that has since been replaced is dropped instead of applied.
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

from ..bodies import IceCandidate, TrackMappingEntry
from ..recording.vocabulary import ClipRequest, RecordingRequest


@attrs.frozen(kw_only=True)
class CreateAnswer:
    """Build a peer answering this offer and report ``answer_created`` / ``answer_failed``
    (an adapter that fails to build it discards it before reporting the failure).  Then
    report the peer's state and its channels with the same ``negotiation_id``.

    ``replaces`` is true when the connection already has a transport (live or being built):
    the old peer keeps serving until ``SwapPeer`` names the new one.  ``active`` is true
    when the new peer carries the connection's traffic at once (no other peer does).
    ``remote_candidates`` are trickled candidates that arrived before the offer.
    Output senders start paused (``SetOutputFlow`` starts them) and the media of every track
    in ``ignored_inputs`` is ignored until ``SetInputFlow`` enables it.
    """

    connection_id: int
    negotiation_id: int
    offer_sdp: str
    track_mapping: tuple[TrackMappingEntry, ...]
    replaces: bool
    active: bool
    ignored_inputs: tuple[str, ...] = ()
    remote_candidates: tuple[IceCandidate, ...] = ()
    end_of_candidates: bool = False


@attrs.frozen(kw_only=True)
class AddIceCandidates:
    """Add trickled remote candidates to the connection's current transport."""

    connection_id: int
    negotiation_id: int
    candidates: tuple[IceCandidate, ...]
    end_of_candidates: bool


@attrs.frozen(kw_only=True)
class CloseTransport:
    """Close the connection's transport(s) gracefully; report nothing more about it."""

    connection_id: int


@attrs.frozen(kw_only=True)
class SwapPeer:
    """The peer of this negotiation now carries the connection's traffic: perform the
    connection's later actions through it, and close the connection's other peers."""

    connection_id: int
    negotiation_id: int


@attrs.frozen(kw_only=True)
class ClosePeer:
    """Close the peer of this one negotiation (it failed or its ``data`` channel closed);
    report nothing more about it.  The connection's other peers are left alone."""

    connection_id: int
    negotiation_id: int


@attrs.frozen(kw_only=True)
class SetOutputFlow:
    """Pause or resume sending one model output track to one connection."""

    connection_id: int
    track: str
    paused: bool


@attrs.frozen(kw_only=True)
class SetInputFlow:
    """Accept (``enabled``) or ignore the media of one model input track on a connection."""

    connection_id: int
    track: str
    enabled: bool


@attrs.frozen(kw_only=True)
class SendData:
    """Send one message on the connection's ``data`` channel: ``str`` as a text message,
    ``bytes`` as a binary one (v1, or a chunk frame)."""

    connection_id: int
    text: str | bytes


@attrs.frozen(kw_only=True)
class SendControl:
    """Send one message on the connection's ``control`` channel (``str``: text, ``bytes``:
    binary)."""

    connection_id: int
    text: str | bytes


@attrs.frozen(kw_only=True)
class TeardownSession:
    """Tear the model session down; then call ``cleanup_complete(now)``.

    Only queued when ``RuntimeConfig.confirm_teardown`` is set.
    """

    reason: str


@attrs.frozen(kw_only=True)
class PrepareClip:
    """A connection asked for a clip (``requestClip``) or the whole recording
    (``requestRecording``, ``request.duration_seconds`` absent): ask the recorder, then
    report the ``Clip`` (once its chunks are on disk) or the ``ClipFailure`` with
    ``clip_answered``.  Only queued while the session streams and recording is on."""

    connection_id: int
    request_id: str
    request: ClipRequest | RecordingRequest


RuntimeAction: TypeAlias = (
    CreateAnswer
    | AddIceCandidates
    | CloseTransport
    | SwapPeer
    | ClosePeer
    | SetOutputFlow
    | SetInputFlow
    | SendData
    | SendControl
    | TeardownSession
    | PrepareClip
)
