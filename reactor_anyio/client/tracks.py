"""Track objects (1.13.0's ``Track`` API) beside the name-based methods, which stay.

``reactor.track(name)`` works before ``connect()``: until the model's declaration arrives
any name is accepted (so handlers can be registered early); once it is known, a name the
model does not declare raises ``ValueError`` naming the ones it does, and so does every
method of a track made for it earlier.  The same object comes back for a name.

``push_frame`` takes a numpy RGB array: in a streamed session it goes to a paced
:class:`~reactor_anyio.webrtc.tracks.NdarrayVideoTrack` the track publishes (latest wins,
the last frame repeats), so nobody writes an aiortc ``MediaStreamTrack``; in a stepped
session it is buffered for the next ``step()`` (bounded by the core, oldest dropped).

Audio tracks use the same methods: ``on_frame`` gets int16 ``(samples, channels)`` PCM (see
:mod:`.audio`), ``publish()`` sends a :class:`~reactor_anyio.webrtc.audio_send.PcmAudioTrack`
(or an aiortc audio track passed as ``source``) and ``push_frame(pcm, sample_rate=...,
num_channels=...)`` feeds it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from reactor_proto.capabilities import TrackCapability
from reactor_proto.client import ClientMachine
from reactor_proto.client.audio import DEFAULT_SEND_BUFFER_MS, AudioFormatError
from reactor_proto.errors import InvalidStateError

from ..webrtc.audio_send import PcmAudioTrack
from ..webrtc.tracks import NdarrayVideoTrack
from .steps import input_frame, step_audio_frame
from .types import FrameCallback

if TYPE_CHECKING:
    from .reactor import Reactor


class TrackKind(enum.StrEnum):
    VIDEO = "video"
    AUDIO = "audio"


class TrackDirection(enum.StrEnum):
    #: the model sends, we receive
    RECVONLY = "recvonly"
    #: we send, the model receives
    SENDONLY = "sendonly"


class TrackList(list["Track"]):
    """The session's tracks in declaration order, with filters that chain."""

    def with_kind(self, kind: TrackKind | str) -> TrackList:
        return TrackList(t for t in self if t.kind == TrackKind(kind))

    def with_direction(self, direction: TrackDirection | str) -> TrackList:
        return TrackList(t for t in self if t.direction == TrackDirection(direction))

    def one(self) -> Track:
        """The only track of the list; ValueError when there are none or several."""
        if len(self) != 1:
            names = ", ".join(repr(t.name) for t in self) or "none"
            raise ValueError(f"expected exactly one track, got {len(self)} ({names})")
        return self[0]


class Track:
    """One declared track of the session, by name.  Get it with ``reactor.track(name)``."""

    def __init__(self, reactor: Reactor, name: str) -> None:
        self._reactor = reactor
        self._name = name
        self._published = False
        self._source: NdarrayVideoTrack | None = None
        self._audio_source: Any = None

    def __repr__(self) -> str:
        return f"<Track {self._name!r} {self.kind} {self.direction}>"

    @property
    def name(self) -> str:
        return self._name

    def _spec(self) -> TrackCapability | None:
        return declared(self._reactor._machine, self._name)

    @property
    def kind(self) -> TrackKind | None:
        spec = self._spec()
        return None if spec is None else TrackKind(spec.kind)

    @property
    def direction(self) -> TrackDirection | None:
        spec = self._spec()
        return None if spec is None else TrackDirection(spec.direction)

    @property
    def paused(self) -> bool:
        return self._name in self._reactor._machine.paused_tracks

    @property
    def published(self) -> bool:
        """Whether this sendonly track is published in the current session."""
        return self._published and self._name in self._reactor._machine.published_tracks

    def _require(self, direction: TrackDirection, action: str) -> None:
        spec = self._spec()
        if spec is not None and spec.direction != direction:
            raise InvalidStateError(f"{action} on track {self._name!r}: it is "
                                    f"{spec.direction}, this needs a {direction} track")

    # ---- receiving -------------------------------------------------------------------

    def on_frame(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator: ``func(frame)`` gets each RGB ``uint8 (h, w, 3)`` frame of a video
        track; on an audio track ``func(frame, sample_rate, num_channels, timestamp_us)``
        (as many as it takes) gets int16 ``(samples, channels)`` PCM.  Before the model's
        declaration is known it is registered for whichever kind the track turns out to be.
        """
        self._require(TrackDirection.RECVONLY, "on_frame()")
        kind = self.kind
        if kind is not TrackKind.AUDIO:
            self._reactor.set_frame_callback(func, track=self._name)
        if kind is not TrackKind.VIDEO:
            self._reactor.set_audio_callback(func, track=self._name)
        return func

    def off_frame(self) -> None:
        self._reactor.set_frame_callback(None, track=self._name)
        self._reactor.set_audio_callback(None, track=self._name)

    async def pause(self) -> None:
        await self._reactor.pause_track(self._name)

    async def resume(self) -> None:
        await self._reactor.resume_track(self._name)

    # ---- sending ---------------------------------------------------------------------

    async def publish(self, *, fps: float = 30.0, source: Any = None,
                      buffer_ms: int = DEFAULT_SEND_BUFFER_MS) -> Track:
        """Claim this sendonly track; frames pushed afterwards go to the model.  An audio
        track sends pushed PCM (at most ``buffer_ms`` waiting, oldest dropped), or
        ``source``, an aiortc audio ``MediaStreamTrack``, instead."""
        self._require(TrackDirection.SENDONLY, "publish()")
        if self.kind is TrackKind.AUDIO:
            audio = source if source is not None else PcmAudioTrack(buffer_ms=buffer_ms)
            await self._reactor.publish_track(self._name, audio)
            self._audio_source = audio
        else:
            self._source = NdarrayVideoTrack(fps=fps)
            await self._reactor.publish_track(self._name, self._source)
        self._published = True
        return self

    @property
    def audio_source(self) -> Any:
        """What this published audio track sends (a ``PcmAudioTrack`` unless you gave one)."""
        return self._audio_source if self._published else None

    def unpublish(self) -> None:
        """Give the track back (synchronous, as in 1.13.0); nothing when not published."""
        self._require(TrackDirection.SENDONLY, "unpublish()")
        if not self._published:
            return
        self._published = False
        self._source = None
        self._audio_source = None  # the driver detaches it from the sender, as for video
        reactor = self._reactor
        reactor._feed(lambda now: reactor._machine.unpublish_track(self._name, now))

    def push_frame(self, frame: np.ndarray[Any, Any] | bytes,
                   capture_time_us: int | None = None, user_data: bytes | None = None, *,
                   sample_rate: int = 48_000, num_channels: int = 1) -> None:
        """Send an RGB ``uint8 (h, w, 3)`` frame (stepped: buffer it for the next step), or
        on an audio track interleaved PCM: int16 (or float in [-1, 1]) ``(n,)`` or
        ``(n, num_channels)``, at 8-48 kHz (resampled to 48 kHz)."""
        self._require(TrackDirection.SENDONLY, "push_frame()")
        if not self.published:
            raise InvalidStateError(f"push_frame() on track {self._name!r}: publish() it "
                                    "first")
        if self.kind is TrackKind.AUDIO:
            self._push_audio(frame, capture_time_us, user_data, sample_rate, num_channels)
            return
        machine = self._reactor._machine
        if machine.config.generation == "stepped":
            machine.push_step_frame(self._name, input_frame(
                f"push_frame({self._name!r})", frame, user_data=user_data,
                capture_time_us=capture_time_us))
            return
        assert self._source is not None
        self._source.push(frame)  # type: ignore[arg-type]

    def _push_audio(self, pcm: Any, capture_time_us: int | None, user_data: bytes | None,
                    sample_rate: int, num_channels: int) -> None:
        if user_data is not None or capture_time_us is not None:
            field = "user_data" if user_data is not None else "capture_time_us"
            raise AudioFormatError(f"push_frame({field}=...) on audio track {self._name!r}: "
                                   "audio frames carry no tag or capture time", field=field)
        machine = self._reactor._machine
        if machine.config.generation == "stepped":
            frame, rate = step_audio_frame(self._name, pcm, sample_rate, num_channels)
            if frame is not None:
                machine.push_step_frame(self._name, frame, rate=rate)
            return
        source = self._audio_source
        if not isinstance(source, PcmAudioTrack):
            raise InvalidStateError(f"push_frame() on track {self._name!r}: it sends the "
                                    "MediaStreamTrack given to publish(source=...)")
        source.push(pcm, sample_rate=sample_rate, num_channels=num_channels)


def declared(machine: ClientMachine, name: str) -> TrackCapability | None:
    """The model's declaration of ``name``; None before it is known.  ValueError when it is
    known and ``name`` is not in it."""
    tracks = machine.tracks
    if not tracks:
        return None
    for spec in tracks:
        if spec.name == name:
            return spec
    names = ", ".join(repr(t.name) for t in tracks)
    raise ValueError(f"track {name!r}: the model declares no such track (tracks: {names})")


class ReactorTracks:
    """``track()`` and ``tracks`` of :class:`~.reactor.Reactor` (a mixin)."""

    _machine: ClientMachine

    if TYPE_CHECKING:
        def set_frame_callback(self, callback: FrameCallback | None, *,
                               track: str | None = None) -> None: ...
        def set_audio_callback(self, callback: Callable[..., Any] | None, *,
                               track: str | None = None) -> None: ...
        def _feed(self, call: Callable[[float], Any]) -> Any: ...

    def _track_table(self) -> dict[str, Track]:
        table: dict[str, Track] | None = self.__dict__.get("_track_objects")
        if table is None:
            table = self.__dict__["_track_objects"] = {}
        return table

    def track(self, name: str) -> Track:
        """The named track (the same object every time); any name before the model's
        declaration is known, ValueError for an undeclared one after."""
        declared(self._machine, name)
        table = self._track_table()
        if name not in table:
            table[name] = Track(self, name)  # type: ignore[arg-type]
        return table[name]

    @property
    def tracks(self) -> TrackList:
        """Every declared track in declaration order; empty until the declaration arrives."""
        return TrackList(self.track(spec.name) for spec in _specs(self._machine.tracks))


def _specs(tracks: Iterable[TrackCapability]) -> list[TrackCapability]:
    return list(tracks)
