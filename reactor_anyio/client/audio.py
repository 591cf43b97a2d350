"""Audio of :class:`~.reactor.Reactor` (a mixin): received PCM to handlers, audio stats.

Each recvonly audio track of a peer gets an :class:`AudioFrameQueue` (bounded, drop-oldest:
:mod:`reactor_proto.client.audio`), handed to the peer, which fills it from the aiortc loop.
A consumer task per track with a handler (a service task in the caller's own library, so
under trio handlers run in trio, never on the media loop) takes frames in order and calls
the handler with as many of ``(frame, sample_rate, num_channels, timestamp_us)`` as it takes
positionally: 1.13.0's audio handlers (``frame, sample_rate, num_channels``) work unchanged.
An ``async def`` handler is awaited before the next frame; while a handler is slower than
real time the queue drops the oldest frames, counted in ``get_stats().audio``.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from reactor_proto.capabilities import TrackCapability
from reactor_proto.client import ClientMachine
from reactor_proto.client.audio import DEFAULT_RECEIVE_FRAMES

from ..webrtc.audio_receive import AudioFrameQueue, ReceivedAudio
from ..webrtc.audio_send import PcmAudioTrack
from .service import ServiceHandle, spawn_service
from .types import AudioTrackStats

if TYPE_CHECKING:
    from .tracks import Track

log = logging.getLogger("reactor_anyio.client.audio")

#: What an audio handler is offered, in order (1.13.0 offers the first three).
AUDIO_FRAME_HANDLER_ARGUMENTS = ("frame", "sample_rate", "num_channels", "timestamp_us")

AudioCallback = Callable[..., Any]
Delivery = Callable[[ReceivedAudio], Any]


def positional_arity(func: Callable[..., Any], maximum: int) -> int:
    """How many of ``maximum`` positional arguments ``func`` accepts (decided once)."""
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: give it everything
        return maximum
    count = 0
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return maximum
        if parameter.kind in (inspect.Parameter.POSITIONAL_ONLY,
                              inspect.Parameter.POSITIONAL_OR_KEYWORD):
            count += 1
    return min(count, maximum)


def adapt_audio_handler(func: AudioCallback) -> Delivery:
    """``func`` as a function of one :class:`ReceivedAudio`."""
    take = positional_arity(func, len(AUDIO_FRAME_HANDLER_ARGUMENTS))

    def deliver(item: ReceivedAudio) -> Any:
        args = (item.pcm, item.sample_rate, item.num_channels, item.timestamp_us)
        return func(*args[:take])

    return deliver


class _AudioState:
    def __init__(self) -> None:
        self.every: Delivery | None = None
        self.per_track: dict[str, Delivery | None] = {}
        self.queues: dict[str, AudioFrameQueue] = {}
        self.consumers: dict[str, ServiceHandle] = {}
        self.capacity = DEFAULT_RECEIVE_FRAMES


class ReactorAudio:
    """``on_audio_frame``, ``set_audio_callback`` and the audio half of ``get_stats``."""

    _machine: ClientMachine
    _peer: Any

    if TYPE_CHECKING:
        def _track_table(self) -> dict[str, Track]: ...

    def _audio(self) -> _AudioState:
        state: _AudioState | None = self.__dict__.get("_audio_state")
        if state is None:
            state = self.__dict__["_audio_state"] = _AudioState()
        return state

    # ---- registration ----------------------------------------------------------------------

    def on_audio_frame(self, func: AudioCallback) -> AudioCallback:
        """Decorator: ``func(frame, sample_rate, num_channels, timestamp_us)`` (as many as
        it takes) for each frame of every recvonly audio track; ``frame`` is int16
        ``(samples, channels)``."""
        self.set_audio_callback(func)
        return func

    def set_audio_callback(self, callback: AudioCallback | None, *,
                           track: str | None = None) -> None:
        """Receive PCM frames of one recvonly audio track (``track``) or of every one;
        ``None`` stops delivery (frames then queue, bounded, oldest dropped)."""
        state = self._audio()
        delivery = None if callback is None else adapt_audio_handler(callback)
        if track is None:
            state.every = delivery
        else:
            state.per_track[track] = delivery
        self._start_audio_consumers()

    def set_audio_buffer(self, frames: int) -> None:
        """How many received frames (20 ms each) a track may hold for a slow handler
        before the oldest are dropped; applies from the next connection."""
        AudioFrameQueue(frames)  # validates (the core raises on < 1)
        self._audio().capacity = frames

    # ---- peers (called by Reactor._on_peer) ------------------------------------------------

    def _audio_peer_changed(self, peer: Any,
                            tracks: Sequence[TrackCapability] | None = None) -> None:
        """A new peer (or ``None``): close the old queues, give the new peer fresh ones for
        the recvonly audio tracks among ``tracks`` (default: the session's)."""
        state = self._audio()
        for queue in state.queues.values():
            queue.close()  # consumers drain what is left, then end
        state.queues = {}
        state.consumers = {}
        if peer is None:
            return
        set_sink = getattr(peer, "set_audio_sink", None)
        if set_sink is None:  # a custom peer without audio support
            return
        for spec in self._machine.tracks if tracks is None else tracks:
            if spec.kind == "audio" and spec.direction == "recvonly":
                queue = state.queues[spec.name] = AudioFrameQueue(state.capacity)
                set_sink(spec.name, queue)
        self._start_audio_consumers()

    def _start_audio_consumers(self) -> None:
        state = self._audio()
        for name, queue in state.queues.items():
            wanted = state.per_track.get(name, state.every) is not None
            running = state.consumers.get(name)
            if wanted and running is None:
                state.consumers[name] = spawn_service(
                    functools.partial(self._consume_audio, name, queue),
                    name=f"reactor-audio-{name}")
            elif not wanted and running is not None:
                running.cancel()
                del state.consumers[name]

    async def _consume_audio(self, name: str, queue: AudioFrameQueue) -> None:
        state = self._audio()
        while True:
            try:
                item = await queue.get()
            except anyio.EndOfStream:
                return
            deliver = state.per_track.get(name, state.every)
            if deliver is None:
                return
            try:
                result = deliver(item)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("audio handler for track %r raised", name)

    # ---- stats -----------------------------------------------------------------------------

    def _audio_stats(self) -> dict[str, AudioTrackStats]:
        out: dict[str, AudioTrackStats] = {}
        for name, queue in self._audio().queues.items():
            out[name] = AudioTrackStats(
                direction="recvonly", frames_received=queue.frames_received,
                frames_delivered=queue.frames_delivered, frames_dropped=queue.frames_dropped,
                frames_buffered=len(queue))
        for name, track in self._track_table().items():
            source = track.audio_source
            if isinstance(source, PcmAudioTrack):
                out[name] = AudioTrackStats(
                    direction="sendonly", frames_sent=source.frames_sent,
                    silent_frames=source.silent_frames, samples_pushed=source.samples_pushed,
                    samples_dropped=source.samples_dropped,
                    samples_trimmed=source.samples_trimmed)
        return out
