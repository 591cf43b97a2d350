"""Actions the client machine asks its adapter to perform (drained after every call).

Each action names the peer or request it belongs to; the adapter reports the outcome with
the matching input (``http_response``/``http_failed``, ``offer_created``, ...).  Outcomes for
a request or peer the machine no longer tracks are dropped, so a late reply from before a
reconnect can never be applied to the new connection.
"""

from __future__ import annotations

import attrs

from ..bodies import IceServer
from ..capabilities import TrackCapability
from ..http import HttpRequest


@attrs.frozen(kw_only=True)
class SendHttp:
    """Perform one HTTP exchange; give up after ``timeout`` seconds (the core also times it)."""

    request_id: int
    request: HttpRequest
    timeout: float


@attrs.frozen(kw_only=True)
class CancelHttp:
    """Abandon an exchange the machine no longer waits for (best effort)."""

    request_id: int


@attrs.frozen(kw_only=True)
class CreatePeer:
    """Build a peer connection for ``tracks`` (in order) with the control then data
    channels, create the offer, gather candidates, and report ``offer_created``.  A spare
    peer prepared for the same ``tracks`` and ``ice_servers`` (:class:`PrepareSparePeer`)
    may be used instead: its offer is reported at once."""

    peer_id: int
    tracks: tuple[TrackCapability, ...]
    ice_servers: tuple[IceServer, ...]


@attrs.frozen(kw_only=True)
class ApplyAnswer:
    """Apply this (already munged) SDP answer and report ``answer_applied``."""

    peer_id: int
    sdp: str


@attrs.frozen(kw_only=True)
class SendChannel:
    """Send one message on the peer's ``control`` or ``data`` channel: ``str`` as a text
    message, ``bytes`` as a binary one (the v1 wire, and every chunked frame)."""

    peer_id: int
    channel: str
    text: str | bytes


@attrs.frozen(kw_only=True)
class AttachTrack:
    """A publish was granted: start sending the caller's media on this track."""

    peer_id: int
    track: str


@attrs.frozen(kw_only=True)
class DetachTrack:
    """Stop sending media on this track (unpublish)."""

    peer_id: int
    track: str


@attrs.frozen(kw_only=True)
class ClosePeer:
    """Close the peer connection and its channels; nothing more is reported for it."""

    peer_id: int


@attrs.frozen(kw_only=True)
class PrepareSparePeer:
    """Build the next connection's peer now and create its offer, but report nothing: keep
    it for a :class:`CreatePeer` with the same ``tracks`` and ``ice_servers`` (a reconnect
    then skips building the peer and the offer).  Replaces any spare kept so far."""

    tracks: tuple[TrackCapability, ...]
    ice_servers: tuple[IceServer, ...]


@attrs.frozen(kw_only=True)
class DiscardSparePeer:
    """Close the spare peer, if one is kept or being built (the session ended)."""


ClientAction = (
    SendHttp | CancelHttp | CreatePeer | ApplyAnswer | SendChannel | AttachTrack | DetachTrack
    | ClosePeer | PrepareSparePeer | DiscardSparePeer
)
