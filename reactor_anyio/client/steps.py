"""Stepped generation on the ``Reactor`` (§15): ``step()``, ``clear_step_inputs()`` and the
result types, with 1.13.0's names.

The rules (what may be sent when, correlation, the step timeout, which failure leaves what
applied) are the core's (``reactor_proto.client.stepping``); this module only turns numpy
arrays into wire frames and wire frames back into arrays.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from reactor_proto.client import ClientMachine
from reactor_proto.client.audio import check_format
from reactor_proto.client.stepping import EncodedFrame, encoded_frame, raw_frame
from reactor_proto.errors import (
    DecodeError,
    Failure,
    LocalProtocolError,
    ReactorError,
    UnsupportedFrameEncodingError,
)
from reactor_proto.wire_v1 import Frame
from reactor_proto.wire_v1 import StepResult as WireStepResult
from reactor_proto.wire_v1.enums import FrameEncoding, TrackKind

_DTYPE_SIZES = {"uint8": 1, "int16": 2}


class StepTrackKind(enum.StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    UNSPECIFIED = "unspecified"


@attrs.frozen(kw_only=True)
class StepFrame:
    """One output frame: ``array`` is video ``uint8 (h, w, 3)`` RGB or audio
    ``int16 (channels, samples)``."""

    data: bytes
    dtype: str
    shape: tuple[int, ...]
    encoding: str = "raw"
    metadata: bytes | None = None
    capture_time_us: int | None = None

    @functools.cached_property
    def array(self) -> np.ndarray[Any, Any]:
        # little-endian on the wire whatever this machine is; read-only view of the bytes
        dtype = np.dtype(self.dtype).newbyteorder("<")
        return np.frombuffer(self.data, dtype=dtype).reshape(self.shape)


@attrs.frozen(kw_only=True)
class StepTrackOutput:
    name: str
    kind: StepTrackKind
    frames: tuple[StepFrame, ...] = ()
    rate: float = 0.0


@attrs.frozen(kw_only=True)
class StepFile:
    """A file the model kept for the step; its bytes come over HTTP (§15.7)."""

    name: str
    content_type: str
    size: int


@attrs.frozen(kw_only=True)
class StepResult:
    """What one step produced: ``error`` is set when the model reported a failure."""

    step: int
    tracks: tuple[StepTrackOutput, ...] = ()
    elapsed: float = 0.0
    files: tuple[StepFile, ...] = ()
    error: str | None = None

    def track(self, name: str) -> StepTrackOutput:
        """The output of ``name``; KeyError naming the tracks that produced something."""
        for track in self.tracks:
            if track.name == name:
                return track
        produced = ", ".join(repr(t.name) for t in self.tracks) or "none"
        raise KeyError(f"step {self.step} produced no output on {name!r} (tracks: {produced})")


def _frame(where: str, frame: Frame) -> StepFrame:
    if frame.encoding != FrameEncoding.RAW:
        raise UnsupportedFrameEncodingError(f"{where}: frame encoding {int(frame.encoding)} "
                                            "cannot be read as an array")
    size = _DTYPE_SIZES.get(frame.dtype)
    if size is None:
        raise DecodeError(f"{where}: dtype {frame.dtype!r:.20} is not uint8 or int16",
                          field=where)
    if len(frame.data) != math.prod(frame.shape) * size:
        raise DecodeError(f"{where}: {frame.dtype} {list(frame.shape)} needs "
                          f"{math.prod(frame.shape) * size} bytes, got {len(frame.data)}",
                          field=where)
    return StepFrame(data=frame.data, dtype=frame.dtype, shape=frame.shape,
                     metadata=frame.metadata, capture_time_us=frame.capture_time_us)


_KINDS = {TrackKind.VIDEO: StepTrackKind.VIDEO, TrackKind.AUDIO: StepTrackKind.AUDIO}


def step_result(result: WireStepResult) -> StepResult:
    tracks = tuple(StepTrackOutput(
        name=t.track, kind=_KINDS.get(t.kind, StepTrackKind.UNSPECIFIED),  # type: ignore[call-overload]
        frames=tuple(_frame(f"tracks[{i}].frames[{j}]", f) for j, f in enumerate(t.frames)),
        rate=t.rate) for i, t in enumerate(result.tracks))
    files = tuple(StepFile(name=f.name, content_type=f.content_type, size=f.size)
                  for f in result.files)
    return StepResult(step=result.step, tracks=tracks, elapsed=result.elapsed_seconds,
                      files=files, error=result.error)


def input_frame(where: str, frame: object, *, user_data: bytes | None = None,
                capture_time_us: int | None = None) -> Frame:
    """A step input from an RGB ``uint8 (h, w, 3)`` array, an audio ``int16 (channels,
    samples)`` array, or an :class:`EncodedFrame`."""
    if isinstance(frame, EncodedFrame):
        return encoded_frame(frame)
    if not isinstance(frame, np.ndarray):
        raise LocalProtocolError(f"{where}: expected a numpy array or an EncodedFrame, got "
                                 f"{type(frame).__name__}")
    if frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3:
        dtype = "uint8"
    elif frame.dtype == np.int16 and frame.ndim in (1, 2):
        dtype = "int16"
        frame = frame.reshape(1, -1) if frame.ndim == 1 else frame
        frame = frame.astype("<i2", copy=False)
    else:
        raise LocalProtocolError(f"{where}: expected uint8 (h, w, 3) RGB or int16 audio, got "
                                 f"{frame.dtype} {frame.shape}")
    return raw_frame(np.ascontiguousarray(frame).tobytes(), frame.shape, dtype=dtype,
                     metadata=user_data, capture_time_us=capture_time_us)


def step_audio_frame(track: str, pcm: Any, sample_rate: int,
                     num_channels: int) -> tuple[Frame | None, int]:
    """An audio push in a stepped session: checked as a streamed push is (AudioFormatError
    naming the argument), as one planar ``int16 [channels, samples]`` frame and its rate;
    ``None`` for a push without samples.  It is not resampled: the runtime refuses a rate
    other than the track's declared one."""
    from ..webrtc.audio_send import to_int16

    interleaved = to_int16(pcm, check_format(sample_rate, num_channels))
    if not len(interleaved):
        return None, sample_rate
    planar = np.ascontiguousarray(interleaved.T, dtype="<i2")
    return raw_frame(planar.tobytes(), planar.shape, dtype="int16"), sample_rate


def media_frames(media: object) -> list[tuple[str, Frame]]:
    if media is None:
        return []
    if not isinstance(media, Mapping):
        raise LocalProtocolError(f"media: expected a mapping of track name to frames, got "
                                 f"{type(media).__name__}")
    out: list[tuple[str, Frame]] = []
    for name, frames in media.items():
        if isinstance(frames, bytes | str | np.ndarray) or not isinstance(frames, Sequence):
            raise LocalProtocolError(f"media[{name!r}]: expected a sequence of frames")
        out.extend((name, input_frame(f"media[{name!r}][{i}]", f))
                   for i, f in enumerate(frames))
    return out


class ReactorSteps:
    """The stepping methods of :class:`~.reactor.Reactor` (a mixin: it owns no state)."""

    _machine: ClientMachine

    if TYPE_CHECKING:
        def _feed(self, call: Callable[[float], Any]) -> Any: ...
        def _refuse(self, failure: Failure, error: ReactorError) -> ReactorError: ...
        async def _run_op(self, start: Callable[[float], int], *,
                          abort_on_cancel: bool = False) -> Any: ...

    @property
    def generation(self) -> str:
        """``"streamed"`` or ``"stepped"``, as given to the constructor."""
        return self._machine.config.generation

    async def step(self, state: Mapping[str, Any] | None = None,
                   commands: Sequence[Any] | None = None,
                   media: Mapping[str, Sequence[Any]] | None = None) -> StepResult:
        """Run one step: ``state`` (each key as ``set_<key>``), then ``commands``, then the
        frames pushed since the last step followed by ``media``; then one generation."""
        try:
            frames = media_frames(media)
        except ReactorError as exc:
            raise self._refuse(Failure.OTHER, exc) from None
        value = await self._run_op(lambda now: self._machine.step(state, commands, frames,
                                                                  now))
        assert isinstance(value, WireStepResult)
        return step_result(value)

    def clear_step_inputs(self) -> None:
        """Drop every frame pushed since the last step."""
        self._machine.clear_step_inputs()
