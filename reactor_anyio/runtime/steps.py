"""Running one step on the model's worker thread (docs/protocol §15.3-§15.5).

The machine has already decided that the request is acceptable and in which order its
calls run (:class:`~reactor_proto.runtime.StepPlan`); this module only does the work it
cannot: decode the frames (H.264 with PyAV, a fresh decoder per track and request), call
the model, and turn its numpy output into RAW ``TrackFrames``.  The outcome goes back to
the machine (``step_finished``), which numbers the step and answers the client.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import av
import numpy as np

from reactor_anyio.models import Model
from reactor_anyio.models.base import CommandError
from reactor_anyio.models.stepping import StepInput, StepOutput
from reactor_proto.errors import CommandValidationError
from reactor_proto.runtime import INTERNAL_ERROR, INVALID_COMMAND
from reactor_proto.runtime.audio import AudioFormat
from reactor_proto.runtime.step_plan import StepCall, StepFrame, StepMedia, check_step_audio
from reactor_proto.runtime.stepping import StepOutcome
from reactor_proto.wire_v1 import Frame, FrameEncoding, StepFileRef, TrackFrames, TrackKind

logger = logging.getLogger(__name__)

#: audio one step may carry per input track: what the model's input buffer holds
#: (:data:`~reactor_anyio.runtime.model_host.MAX_QUEUED_AUDIO`)
MAX_STEP_AUDIO_SECONDS = 1.0


class MediaRefused(Exception):
    def __init__(self, entry: str, error: str) -> None:
        super().__init__(error)
        self.entry = entry
        self.error = error


def _raw(frame: StepFrame, kind: str, channels: int) -> np.ndarray[Any, Any]:
    if kind == "audio":
        planar = np.frombuffer(frame.data, dtype="<i2").reshape(frame.shape)
        if channels == 2:  # a stereo track: interleaved (samples, 2), as read_audio serves it
            return np.ascontiguousarray(planar.T, dtype=np.int16)
        # more than one channel is mixed down to mono, rounded mean (§15.4)
        mono: np.ndarray[Any, Any] = (planar[0].astype(np.int16) if planar.shape[0] == 1
                                      else np.round(planar.astype(np.float64).mean(axis=0))
                                      .astype(np.int16))
        return mono
    return np.frombuffer(frame.data, dtype=np.uint8).reshape(frame.shape)


def _decode_h264(frames: Sequence[StepFrame]) -> list[np.ndarray[Any, Any]]:
    """One stream in decode order through a fresh decoder: one picture per access unit."""
    codec = av.CodecContext.create("h264", "r")
    pictures: list[np.ndarray[Any, Any]] = []
    for index, frame in enumerate(frames):
        try:
            decoded = codec.decode(av.Packet(frame.data))
        except av.error.FFmpegError as exc:
            raise MediaRefused(frame.entry, f"{frame.entry}: the H.264 frame does not "
                                            f"decode ({exc})") from None
        if index == 0 and not any(p.key_frame for p in decoded):
            raise MediaRefused(frame.entry, f"{frame.entry}: the first H.264 frame of a "
                                            "track must be a keyframe (IDR, SPS/PPS in-band)")
        if len(decoded) != 1:
            raise MediaRefused(frame.entry, f"{frame.entry}: the H.264 frame decoded to "
                                            f"{len(decoded)} pictures, expected 1")
        picture = decoded[0].to_ndarray(format="rgb24")
        if frame.shape and tuple(picture.shape) != frame.shape:
            raise MediaRefused(frame.entry, f"{frame.entry}: shape {list(frame.shape)} but "
                                            f"the frame decodes to {list(picture.shape)}")
        pictures.append(picture)
    return pictures


def decode_media(media: Sequence[StepMedia],
                 formats: Mapping[str, AudioFormat] | None = None) -> list[StepInput]:
    """Every input frame decoded, in request order: MediaRefused on a bad H.264 frame or
    audio that does not fit its track's declared ``formats`` (rate, channels, at most
    :data:`MAX_STEP_AUDIO_SECONDS`)."""
    formats = formats or {}
    refused = check_step_audio(media, formats=formats, max_seconds=MAX_STEP_AUDIO_SECONDS)
    if refused is not None:
        raise MediaRefused(refused.entry or "media_input", refused.error)
    inputs: list[StepInput] = []
    for track in media:
        encoded = [f for f in track.frames if f.encoding == FrameEncoding.H264]
        pictures = iter(_decode_h264(encoded)) if encoded else iter(())
        fmt = formats.get(track.track)
        channels = 1 if fmt is None else fmt.channels
        for frame in track.frames:
            array = next(pictures) if frame.encoding == FrameEncoding.H264 \
                else _raw(frame, track.kind, channels)
            inputs.append(StepInput(track=track.track, frame=array, metadata=frame.metadata,
                                    capture_time_us=frame.capture_time_us,
                                    audio=track.kind == "audio"))
    return inputs


def _video_frames(value: Any) -> list[Frame]:
    array = np.asarray(value)
    if array.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {array.dtype}")
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[3] != 3 or 0 in array.shape:
        raise ValueError(f"frames must be (h, w, 3) or (n, h, w, 3), got {array.shape}")
    return [Frame(encoding=FrameEncoding.RAW, dtype="uint8", shape=tuple(one.shape),
                  data=np.ascontiguousarray(one).tobytes()) for one in array]


def _audio_track(name: str, value: Any, rate: float | None) -> TrackFrames:
    """One step of audio: one ``int16 [channels, samples]`` frame (none without samples)."""
    samples = np.asarray(value)
    if samples.dtype != np.int16 or samples.ndim not in (1, 2):
        raise ValueError(f"audio must be int16 (samples,) or (channels, samples), got "
                         f"{samples.dtype} {samples.shape}")
    if samples.ndim == 1:
        samples = samples[None]
    frames = () if samples.shape[1] == 0 else (Frame(
        encoding=FrameEncoding.RAW, dtype="int16", shape=tuple(samples.shape),
        data=np.ascontiguousarray(samples, dtype="<i2").tobytes()),)
    return TrackFrames(track=name, kind=TrackKind.AUDIO, frames=frames,
                       rate=float(rate or 0.0))


def output_tracks(model: Model, output: StepOutput) -> tuple[TrackFrames, ...]:
    """The step's frames per output track, in the model's output order (ValueError when
    the output cannot be expressed as frames)."""
    tracks: list[TrackFrames] = []
    for spec in model.output_tracks:
        if spec.name not in output.frames:
            continue
        value = output.frames[spec.name]
        if spec.kind == "audio":
            tracks.append(_audio_track(spec.name, value, output.sample_rates.get(spec.name)))
            continue
        frames: list[Frame] = []
        for item in (value if isinstance(value, list | tuple) else [value]):
            frames.extend(_video_frames(item))
        tracks.append(TrackFrames(track=spec.name, kind=TrackKind.VIDEO, frames=tuple(frames),
                                  rate=float(model.frame_rate)))
    unknown = sorted(set(output.frames) - {spec.name for spec in model.output_tracks})
    if unknown:
        raise ValueError(f"unknown output tracks {unknown}")
    return tuple(tracks)


def _call_failure(call: StepCall, exc: Exception) -> StepOutcome:
    if isinstance(exc, CommandError):
        code, message = exc.code, exc.message
    elif isinstance(exc, CommandValidationError):
        code, message = INVALID_COMMAND, exc.message
    else:
        code, message = INTERNAL_ERROR, "the command handler failed"
    return StepOutcome(command_code=code, entry=call.entry,
                       error=f"{call.command} failed ({code}): {message}")


def run_calls(model: Model, calls: Sequence[StepCall],
              reply: Callable[[str, Mapping[str, Any]], None]) -> StepOutcome | None:
    """Run the calls in order; the failure outcome at the first that fails, else None.
    A call's reply message goes to ``reply`` (the requester, uncorrelated)."""
    from .model_host import to_model_upload

    for call in calls:
        arguments = dict(call.args)
        for param, stored in call.uploads.items():
            arguments[param] = to_model_upload(stored)
        try:
            answer = model.dispatch(call.command, arguments)
        except Exception as exc:
            if not isinstance(exc, CommandError | CommandValidationError):
                logger.exception("step call %s failed", call.entry)
            return _call_failure(call, exc)
        if answer is not None:
            reply(answer.type, answer.data)
    return None


class StepContext(Protocol):
    """What :func:`generate` writes the inputs into (the runtime's model context)."""

    def set_input(self, track: str, frame: Any) -> None: ...
    def push_audio(self, track: str, pcm: Any) -> None: ...


def apply_inputs(inputs: Sequence[StepInput], context: StepContext,
                 audio_tracks: Sequence[str]) -> None:
    """Before the generation: each video track's last frame becomes its latest input, and
    every audio input holds exactly this step's PCM (what was left or arrived live is
    dropped: a step sees only what its request carries, §15.1)."""
    for track in audio_tracks:
        context.push_audio(track, None)
    for item in inputs:
        if item.audio:
            pcm = item.frame.reshape(len(item.frame), -1)  # (samples, channels)
            if len(pcm):
                context.push_audio(item.track, pcm)
        else:
            context.set_input(item.track, item.frame)


def generate(model: Model, inputs: Sequence[StepInput], context: StepContext, *,
             keep_files: bool) -> tuple[StepOutcome, Mapping[str, tuple[str, bytes]]]:
    """Write the inputs, generate once; the outcome and the files the model kept."""
    apply_inputs(inputs, context, [t.name for t in type(model).inputs if t.kind == "audio"])
    started = time.perf_counter()
    try:
        output = model.step(inputs, time.monotonic())
        elapsed = time.perf_counter() - started
        tracks = output_tracks(model, output)
    except Exception as exc:
        logger.exception("step of %s failed", model.name)
        return StepOutcome(error=f"the step failed: {exc!r}"[:1000],
                           elapsed=time.perf_counter() - started), {}
    files = dict(output.files) if keep_files else {}
    refs = tuple(StepFileRef(name=name, content_type=kind, size=len(data))
                 for name, (kind, data) in files.items())
    return StepOutcome(tracks=tracks, error=output.error, files=refs,
                       elapsed=elapsed if output.elapsed is None else output.elapsed), files
