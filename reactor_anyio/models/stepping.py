"""What a model's :meth:`~reactor_anyio.models.Model.step` receives and returns in a stepped
session (docs/protocol §15; see docs/models.md, "Stepped generation"), and the default step.

The default step (:func:`default_step`) renders one frame per video output track and, for
every audio output track, the step's span of audio: ``1 / frame_rate`` seconds, or as long
as the longest audio input the step carries.  It plays that span as a stream would: in
frame-sized slots (20 ms unless the track says otherwise), each slot hands the model that
slot's share of every audio input (so ``ctx.read_audio`` sees the step's input at the pace
it would arrive live) and then asks :meth:`~reactor_anyio.models.Model.produce_audio`.
Audio produced beyond the span waits for the next step, so a tone stays continuous across
steps.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from .base import Model, TrackSpec

#: produce_audio calls per slot at most before the slot is padded with silence
MAX_CALLS_PER_SLOT = 4


@attrs.frozen(kw_only=True)
class StepInput:
    """One input frame of a step (docs/protocol §15.4), decoded: video RGB ``uint8 (h, w, 3)``;
    audio (``audio`` True) ``int16`` samples in the track's declared format: ``(samples,)``
    on a mono track (more channels mixed down), ``(samples, 2)`` on a stereo one;
    ``metadata`` and ``capture_time_us`` as the client sent them."""

    track: str
    frame: npt.NDArray[Any]
    metadata: bytes | None = None
    capture_time_us: int | None = None
    audio: bool = False


@attrs.frozen(kw_only=True)
class StepOutput:
    """What one step produced: per output track, its frames (video: RGB ``uint8 (h, w, 3)``,
    a list of them or one ``(n, h, w, 3)`` batch; audio: ``int16`` samples, ``(samples,)``
    or ``(channels, samples)``, with the track's rate in ``sample_rates``); ``error`` when
    the model failed (the step still counts); ``files`` the model keeps (name -> (content
    type, bytes)), served over HTTP (§15.7); ``elapsed`` overrides the measured time."""

    frames: Mapping[str, Any] = attrs.field(factory=dict)
    sample_rates: Mapping[str, float] = attrs.field(factory=dict)
    error: str | None = None
    files: Mapping[str, tuple[str, bytes]] = attrs.field(factory=dict)
    elapsed: float | None = None


@runtime_checkable
class _Feedable(Protocol):
    """A context that takes received PCM (the runtime's, and ``RecordingContext``)."""

    def push_audio(self, track: str, pcm: Any) -> None: ...


Pcm = npt.NDArray[np.int16]

#: audio produced past a step's span, per model and output track, for the next step
_CARRIED: weakref.WeakKeyDictionary[Any, dict[str, Pcm]] = weakref.WeakKeyDictionary()


def step_seconds(model: Model, inputs: Sequence[StepInput]) -> float:
    """The span of audio a default step produces: one video frame's time, or the longest
    audio input of the step."""
    rates = {t.name: t.sample_rate for t in type(model).inputs if t.kind == "audio"}
    carried: dict[str, int] = {}
    for item in inputs:
        if item.audio and item.track in rates:
            carried[item.track] = carried.get(item.track, 0) + len(item.frame)
    longest = max((count / rates[name] for name, count in carried.items()), default=0.0)
    return longest or 1.0 / float(model.frame_rate)


def as_pcm(chunk: Any, channels: int, track: str) -> Pcm:
    """What ``produce_audio`` returned as int16 ``(samples, channels)``: floats in [-1, 1]
    are scaled; another dtype, a wrong layout or NaN raise ValueError (the step fails)."""
    array = np.asarray(chunk)
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise ValueError(f"produce_audio({track!r}) returned NaN or infinite samples")
        array = np.clip(np.rint(array * 32767.0), -32768, 32767).astype(np.int16)
    if array.dtype != np.int16:
        raise ValueError(f"produce_audio({track!r}) returned {array.dtype}, not int16")
    if array.ndim == 1 and channels == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] != channels:
        raise ValueError(f"produce_audio({track!r}) returned shape {array.shape}, not "
                         f"(samples, {channels})")
    return array


def _feed(model: Model, held: Mapping[str, Pcm], slot: int, slot_seconds: float) -> None:
    ctx = model.ctx
    if not isinstance(ctx, _Feedable):
        return
    for spec in type(model).inputs:
        pcm = held.get(spec.name)
        if pcm is None or not len(pcm):
            continue
        size = round(spec.sample_rate * slot_seconds)
        part = pcm[slot * size:(slot + 1) * size]
        if len(part):
            ctx.push_audio(spec.name, part)


def step_audio(model: Model, seconds: float, now: float) -> dict[str, Pcm]:
    """Every audio output track's next ``seconds`` of audio, as ``(samples, channels)``."""
    outputs: list[TrackSpec] = [t for t in model.output_tracks if t.kind == "audio"]
    carried = _CARRIED.setdefault(model, {})
    ctx = model.ctx
    # the step's audio input, taken back so that it can be handed over slot by slot
    held = ({t.name: ctx.read_audio(t.name) for t in type(model).inputs if t.kind == "audio"}
            if isinstance(ctx, _Feedable) else {})
    slot_seconds = min((t.audio_format.frame_ms for t in outputs), default=20) / 1000
    wanted = {t.name: round(seconds * t.sample_rate) for t in outputs}
    parts: dict[str, list[Pcm]] = {t.name: [carried.pop(t.name)] if t.name in carried else []
                                   for t in outputs}
    made = {name: sum(len(p) for p in chunks) for name, chunks in parts.items()}
    rates = {t.name: t.sample_rate for t in type(model).inputs}
    slots = max([math.ceil(wanted[t.name] / (t.sample_rate * slot_seconds)) for t in outputs]
                + [math.ceil(len(pcm) / (rates[name] * slot_seconds))
                   for name, pcm in held.items()], default=0)
    for slot in range(slots):
        _feed(model, held, slot, slot_seconds)
        for spec in outputs:
            name = spec.name
            goal = min(wanted[name], round((slot + 1) * slot_seconds * spec.sample_rate))
            calls = 0
            while made[name] < goal and calls < MAX_CALLS_PER_SLOT:
                calls += 1
                chunk = as_pcm(model.produce_audio(name, now + slot * slot_seconds),
                               spec.channels, name)
                parts[name].append(chunk)
                made[name] += len(chunk)
            if made[name] < goal:  # a model that gave too little: silence, as a stream would
                parts[name].append(np.zeros((goal - made[name], spec.channels), np.int16))
                made[name] = goal
    out: dict[str, Pcm] = {}
    for spec in outputs:
        joined = (np.concatenate(parts[spec.name]) if parts[spec.name]
                  else np.zeros((0, spec.channels), np.int16))
        count = wanted[spec.name]
        if len(joined) > count:
            carried[spec.name] = joined[count:]
        out[spec.name] = joined[:count]
    return out


def default_step(model: Model, inputs: Sequence[StepInput], now: float) -> StepOutput:
    """What :meth:`Model.step` does unless a model overrides it (see the module docstring)."""
    frames: dict[str, Any] = {spec.name: [model.produce_frame(spec.name, now)]
                              for spec in model.output_tracks if spec.kind == "video"}
    rates: dict[str, float] = {}
    if any(spec.kind == "audio" for spec in model.output_tracks):
        for name, pcm in step_audio(model, step_seconds(model, inputs), now).items():
            frames[name] = np.ascontiguousarray(pcm.T)  # (channels, samples) on the wire
            rates[name] = float(model.output_track(name).sample_rate)
    return StepOutput(frames=frames, sample_rates=rates)
