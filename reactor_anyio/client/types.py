"""The public types of the official Python SDK's reference, as this client returns them.

* ``Capabilities``, ``TrackCapability``, ``CommandCapability`` and ``CreateSessionResponse``
  are ``TypedDict``s: plain dicts at run time, so ``caps["tracks"][0]["name"]`` works and a
  value compares equal to the JSON it came from.  The core keeps its own frozen records
  (:mod:`reactor_proto.capabilities`); :func:`capabilities_dict` and
  :func:`session_response_dict` convert at the boundary.
* ``ReactorState``, ``WaitingInfo``, ``ConnectionStats`` and ``ConnectionTimings`` are frozen
  dataclasses with the documented fields (snake_case) and units.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict, cast

from reactor_proto.bodies import SessionSnapshot
from reactor_proto.bodies.records import transport_json
from reactor_proto.capabilities import (
    Capabilities as CoreCapabilities,
)
from reactor_proto.capabilities import (
    TrackCapability as CoreTrack,
)
from reactor_proto.capabilities import (
    capabilities_to_json,
    parse_track,
)
from reactor_proto.client import ConnectionTimings as CoreTimings
from reactor_proto.client import ReactorStatus
from reactor_proto.errors import DecodeError, LocalProtocolError, ReactorError

if TYPE_CHECKING:  # annotations only: the aliases below are forward references
    import numpy as np
    from numpy.typing import NDArray

TrackKind = Literal["video", "audio"]
TrackDirection = Literal["recvonly", "sendonly"]
MessageScope = Literal["application", "runtime"]
ReactorEvent = Literal[
    "status_changed", "session_id_changed", "message", "runtime_message", "track_received",
    "error", "session_expiration_changed", "capabilities_received",
    # ours and the older docs' spellings, all accepted by ``on``/``off``
    "stats_update", "schema_received", "new_message", "stream_changed",
]
FrameCallback = Callable[["NDArray[np.uint8]"], None]
"""Receives one RGB frame, shape ``(H, W, 3)``, dtype ``uint8``."""


class TrackCapability(TypedDict):
    name: str
    kind: TrackKind
    direction: TrackDirection


class CommandCapability(TypedDict):
    name: str
    description: str
    schema: NotRequired[dict[str, Any] | None]


class Capabilities(TypedDict):
    protocol_version: str
    tracks: list[TrackCapability]
    commands: NotRequired[list[CommandCapability]]
    emission_fps: NotRequired[float | None]


class SessionModel(TypedDict):
    name: str
    version: NotRequired[str]


class CreateSessionResponse(TypedDict):
    """The session as the coordinator (or local runtime) last described it."""

    session_id: str
    state: str
    cluster: NotRequired[str]
    model: NotRequired[SessionModel]
    server_info: NotRequired[dict[str, Any]]
    selected_transport: NotRequired[dict[str, Any]]
    capabilities: NotRequired[Capabilities]
    expires_at: NotRequired[float]


@dataclasses.dataclass(frozen=True)
class WaitingInfo:
    """While WAITING for a GPU: since when (Unix seconds), for how long (seconds), and the
    coordinator's queue position (1 = next) when it reports one."""

    since: float
    waited: float
    queue_position: int | None = None


@dataclasses.dataclass(frozen=True)
class ReactorState:
    status: ReactorStatus
    last_error: ReactorError | None
    waiting_info: WaitingInfo | None = None


@dataclasses.dataclass(frozen=True)
class ConnectionTimings:
    """How long the last connect (or reconnect) took, in milliseconds, step by step (the
    client machine's phases, in order: ``fetching_token``, ``creating_session``, ...)."""

    total_ms: float
    steps: dict[str, float]
    reconnect: bool = False


@dataclasses.dataclass(frozen=True)
class AudioTrackStats:
    """One audio track's counters.  Received (``recvonly``): frames received, handed to the
    handler, dropped (oldest first) because the handler fell behind, and waiting now.
    Published (``sendonly``): 20 ms frames sent (``silent_frames`` of them silence, nothing
    having been pushed), samples pushed and dropped (a burst over the buffer, or trimmed:
    ``samples_trimmed``, a queue that stood for a second), at 48 kHz."""

    direction: TrackDirection
    frames_received: int = 0
    frames_delivered: int = 0
    frames_dropped: int = 0
    frames_buffered: int = 0
    frames_sent: int = 0
    silent_frames: int = 0
    samples_pushed: int = 0
    samples_dropped: int = 0
    samples_trimmed: int = 0


@dataclasses.dataclass(frozen=True)
class ConnectionStats:
    """WebRTC statistics, with the documented units.

    ``timestamp`` Unix milliseconds; ``rtt`` milliseconds; ``frames_per_second`` of the
    received video; ``jitter`` seconds; ``packet_loss_ratio`` 0..1; ``candidate_type`` and
    ``available_outgoing_bitrate`` (bits/s) when the WebRTC stack reports them (aiortc does
    not: ``None``).  ``details`` is the full summary this client collects (bytes, packets,
    per-track frame counters)."""

    timestamp: float
    rtt: float | None = None
    frames_per_second: float | None = None
    jitter: float | None = None
    packet_loss_ratio: float | None = None
    candidate_type: str | None = None
    available_outgoing_bitrate: float | None = None
    connection_timings: ConnectionTimings | None = None
    details: Any = None
    #: per audio track name (ours; see docs/guide/audio.md)
    audio: dict[str, AudioTrackStats] = dataclasses.field(default_factory=dict)

    @property
    def frames_dropped(self) -> int:
        """Frames this client dropped (a slow frame callback), all received tracks."""
        tracks = getattr(self.details, "tracks", None) or {}
        return sum(int(getattr(t, "frames_dropped", 0)) for t in tracks.values())

    @property
    def audio_frames_dropped(self) -> int:
        """Received audio frames dropped (oldest first) because a handler fell behind."""
        return sum(t.frames_dropped for t in self.audio.values())


# ---- conversions at the boundary ---------------------------------------------------------


def capabilities_dict(caps: CoreCapabilities) -> Capabilities:
    return cast(Capabilities, capabilities_to_json(caps))


def session_response_dict(snapshot: SessionSnapshot) -> CreateSessionResponse:
    out: dict[str, Any] = {"session_id": snapshot.session_id, "state": snapshot.state}
    if snapshot.cluster is not None:
        out["cluster"] = snapshot.cluster
    if snapshot.model_name is not None:
        model: dict[str, Any] = {"name": snapshot.model_name}
        if snapshot.model_version is not None:
            model["version"] = snapshot.model_version
        out["model"] = model
    if snapshot.server_version is not None:
        out["server_info"] = {"server_version": snapshot.server_version}
    if snapshot.selected_transport is not None:
        out["selected_transport"] = transport_json(snapshot.selected_transport)
    if snapshot.capabilities is not None:
        out["capabilities"] = capabilities_dict(snapshot.capabilities)
    if snapshot.expires_at is not None:
        out["expires_at"] = snapshot.expires_at
    return cast(CreateSessionResponse, out)


def timings_from_core(timings: CoreTimings | None) -> ConnectionTimings | None:
    if timings is None:
        return None
    return ConnectionTimings(total_ms=timings.total * 1000.0, steps=timings.as_ms(),
                             reconnect=timings.reconnect)


def core_tracks(tracks: Sequence[CoreTrack | Mapping[str, Any]] | None
                ) -> tuple[CoreTrack, ...] | None:
    """``model_tracks`` as given: core records or ``TrackCapability`` dicts (checked)."""
    if not tracks:
        return None
    out: list[CoreTrack] = []
    for i, track in enumerate(tracks):
        if isinstance(track, CoreTrack):
            out.append(track)
        elif isinstance(track, Mapping):
            try:
                out.append(parse_track(dict(track), path=f"model_tracks[{i}]"))
            except DecodeError as exc:  # the caller's input, not a peer's
                raise LocalProtocolError(exc.message) from None
        else:
            raise LocalProtocolError(f"model_tracks[{i}]: expected a TrackCapability dict, "
                                     f"got {type(track).__name__}")
    return tuple(out)


def stats_from_peer(summary: Any, *, timestamp_ms: float,
                    timings: ConnectionTimings | None,
                    audio: dict[str, AudioTrackStats] | None = None) -> ConnectionStats:
    """Fold the peer's summary (rtt/jitter in seconds, packet counters, per-track fps)."""
    rtt = getattr(summary, "rtt", None)
    lost = getattr(summary, "packets_lost", None)
    received = getattr(summary, "packets_received", None)
    ratio = None
    if isinstance(lost, int) and isinstance(received, int) and lost + received > 0:
        ratio = max(0.0, min(1.0, lost / (lost + received)))
    tracks = getattr(summary, "tracks", None) or {}
    rates = [float(t.fps) for t in tracks.values() if getattr(t, "fps", None) is not None]
    return ConnectionStats(
        timestamp=timestamp_ms,
        rtt=None if rtt is None else float(rtt) * 1000.0,
        frames_per_second=max(rates) if rates else None,
        jitter=getattr(summary, "jitter", None),
        packet_loss_ratio=ratio,
        connection_timings=timings,
        details=summary,
        audio=dict(audio or {}),
    )
