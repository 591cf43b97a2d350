"""Reading a step request into a plan, or refusing it (docs/protocol §15.3, §15.4).

:func:`plan_step` is pure: it turns a ``RequestStep`` into the ordered list of model calls
(the ``state`` keys sorted, each as its ``set_<key>`` command, then ``commands`` in order)
and the checked input frames, or into a :class:`StepRefusal` naming the part at fault.  A
refused request changes nothing: the plan is only handed to the model once every check
passed (§15.3 step 7).  H.264 frames are checked for shape here; whether they decode is
the adapter's business (it decodes them before any call runs, so a failure still leaves
nothing applied).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from ..envelope import Envelope, FileRef, Scope, merge_uploads
from ..errors import ReactorError
from ..schema import ModelSchema
from ..wire_v1 import FrameEncoding, RequestStep, TrackKind
from .audio import AudioFormat
from .uploads import UploadedFile
from .wire import integral

_KINDS = {"video": TrackKind.VIDEO, "audio": TrackKind.AUDIO}


@attrs.frozen(kw_only=True)
class StepCall:
    """One model call of a step: ``entry`` names where it came from (``state.prompt``,
    ``commands[1]``), ``args`` are validated, ``uploads`` the referenced files."""

    entry: str
    command: str
    args: Mapping[str, Any]
    uploads: Mapping[str, UploadedFile] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class StepFrame:
    """One checked input frame: ``RAW`` RGB ``uint8 [h, w, 3]`` / ``int16 [channels,
    samples]``, or one H.264 access unit (decoded by the adapter)."""

    entry: str
    encoding: FrameEncoding
    shape: tuple[int, ...]
    data: bytes
    metadata: bytes | None = None
    capture_time_us: int | None = None


@attrs.frozen(kw_only=True)
class StepMedia:
    """The frames of one input track, in request order."""

    track: str
    kind: str
    frames: tuple[StepFrame, ...]
    #: where the track sits in the request (``media_input[i]``)
    entry: str = ""
    #: the request's ``rate`` for the track (0: not given; audio: samples per second)
    rate: float = 0.0


@attrs.frozen(kw_only=True)
class StepPlan:
    calls: tuple[StepCall, ...] = ()
    media: tuple[StepMedia, ...] = ()


@attrs.frozen(kw_only=True)
class StepRefusal:
    """Why a request is refused (``REFUSED``); ``entry`` is the part at fault, if known."""

    error: str
    entry: str | None = None


def _refused(entry: str, reason: str) -> StepRefusal:
    return StepRefusal(entry=entry, error=f"{entry} is refused: {reason}"[:1000])


Lookup = Callable[[str], UploadedFile | None]


def plan_calls(items: list[tuple[str, str, Mapping[str, Any], Mapping[str, FileRef]]], *,
               schema: ModelSchema, completed: Lookup) -> tuple[StepCall, ...] | StepRefusal:
    """Validate ``(entry, command, data, uploads)`` items against the model's contract."""
    calls: list[StepCall] = []
    for entry, command, data, refs in items:
        for name, ref in sorted(refs.items()):
            if completed(ref.upload_id) is None:
                return StepRefusal(entry=entry, error=f"{entry} references an unresolved "
                                                      f"upload ({name})")
        envelope = Envelope(scope=Scope.APPLICATION, type=command, data=dict(data),
                            uploads=dict(refs) or None)
        try:
            args = schema.validate(command, merge_uploads(envelope))
        except ReactorError as exc:
            return _refused(entry, exc.message)
        files: dict[str, UploadedFile] = {}
        spec = schema.commands.get(command)
        for param in spec.params if spec is not None else ():
            value = args.get(param.name)
            if not param.is_upload or not isinstance(value, Mapping):
                continue
            upload_id = value.get("upload_id")
            found = completed(upload_id) if isinstance(upload_id, str) else None
            if found is None:
                return StepRefusal(entry=entry, error=f"{entry} references an unresolved "
                                                      f"upload ({param.name})")
            files[param.name] = found
        calls.append(StepCall(entry=entry, command=command, args=args, uploads=files))
    return tuple(calls)


def _raw_size(shape: tuple[int, ...], kind: str) -> int | str:
    if kind == "video":
        if len(shape) != 3 or shape[2] != 3:
            return f"a raw video frame is shaped [height, width, 3], got {list(shape)}"
    elif len(shape) != 2:
        return f"a raw audio frame is shaped [channels, samples], got {list(shape)}"
    if any(dim <= 0 for dim in shape):
        return f"shape {list(shape)} has a zero dimension"
    size = 2 if kind == "audio" else 1
    for dim in shape:
        size *= dim
    return size


def plan_media(request: RequestStep, *, inputs: Mapping[str, str],
               max_frames: int) -> tuple[StepMedia, ...] | StepRefusal:
    """Check ``media_input`` (§15.4): input tracks only, each once, kind and frames right."""
    seen: set[str] = set()
    media: list[StepMedia] = []
    for index, track_frames in enumerate(request.media_input):
        entry = f"media_input[{index}]"
        name = track_frames.track
        kind = inputs.get(name)
        if kind is None:
            return StepRefusal(entry=entry, error=f"{entry}: {name[:80]!r} is not an input "
                                                  f"track of the model")
        if name in seen:
            return StepRefusal(entry=entry, error=f"{entry}: track {name[:80]!r} appears "
                                                  "more than once")
        seen.add(name)
        if track_frames.kind not in (TrackKind.UNSPECIFIED, _KINDS[kind]):
            return StepRefusal(entry=entry, error=f"{entry}: track {name[:80]!r} is {kind}")
        if len(track_frames.frames) > max_frames:
            return StepRefusal(entry=entry, error=f"{entry}: {len(track_frames.frames)} "
                                                  f"frames, at most {max_frames} per track")
        frames: list[StepFrame] = []
        for position, frame in enumerate(track_frames.frames):
            where = f"{entry}.frames[{position}]"
            shape = tuple(frame.shape)
            if frame.encoding == FrameEncoding.RAW:
                wanted = "int16" if kind == "audio" else "uint8"
                size = _raw_size(shape, kind)
                if frame.dtype != wanted:
                    return StepRefusal(entry=where, error=f"{where}: dtype {frame.dtype[:20]!r}"
                                                          f", expected {wanted!r}")
                if isinstance(size, str):
                    return StepRefusal(entry=where, error=f"{where}: {size}")
                if len(frame.data) != size:
                    return StepRefusal(entry=where, error=f"{where}: {len(frame.data)} bytes, "
                                                          f"shape {list(shape)} needs {size}")
            elif frame.encoding == FrameEncoding.H264 and kind == "video":
                if not frame.data:
                    return StepRefusal(entry=where, error=f"{where}: an empty H.264 frame")
                if shape and (len(shape) != 3 or shape[2] != 3 or min(shape) <= 0):
                    return StepRefusal(entry=where, error=f"{where}: shape {list(shape)} is "
                                                          "not [height, width, 3]")
            else:
                return StepRefusal(entry=where, error=f"{where}: frame encoding "
                                                      f"{int(frame.encoding)} is not supported")
            frames.append(StepFrame(entry=where, encoding=FrameEncoding(frame.encoding),
                                    shape=shape, data=frame.data, metadata=frame.metadata,
                                    capture_time_us=frame.capture_time_us))
        media.append(StepMedia(track=name, kind=kind, frames=tuple(frames), entry=entry,
                               rate=float(track_frames.rate)))
    return tuple(media)


def check_step_audio(media: Sequence[StepMedia], *, formats: Mapping[str, AudioFormat],
                     max_seconds: float) -> StepRefusal | None:
    """The audio of a planned request against each input track's declared format (§15.4),
    or the first reason to refuse it.  A track's ``rate``, when given, must be the declared
    one (the runtime does not resample); every frame has the declared channel count, or two
    for a mono track (mixed down); a track carries at most ``max_seconds`` of samples, what
    the model's input buffer holds.  ``int16`` and the byte counts are checked by
    :func:`plan_media` already."""
    for track in media:
        fmt = formats.get(track.track)
        if track.kind != "audio" or fmt is None:
            continue
        where = track.entry or track.track
        if track.rate and track.rate != fmt.sample_rate:
            return StepRefusal(entry=where, error=f"{where}: audio at {track.rate:g} Hz, "
                                                  f"track {track.track[:80]!r} takes "
                                                  f"{fmt.sample_rate} Hz")
        samples = 0
        for frame in track.frames:
            channels = frame.shape[0] if frame.shape else 0
            if channels != fmt.channels and not (fmt.channels == 1 and channels == 2):
                return StepRefusal(entry=frame.entry, error=f"{frame.entry}: {channels} "
                                   f"channels, track {track.track[:80]!r} takes "
                                   f"{fmt.channels}")
            samples += frame.shape[1]
        limit = int(fmt.sample_rate * max_seconds)
        if samples > limit:
            return StepRefusal(entry=where, error=f"{where}: {samples} samples, at most "
                                                  f"{limit} ({max_seconds:g} s) per step")
    return None


def plan_step(request: RequestStep, *, schema: ModelSchema, inputs: Mapping[str, str],
              max_frames: int, completed: Lookup) -> StepPlan | StepRefusal:
    """The whole plan of a request, or the first reason to refuse it (state, commands and
    uploads first, then media, as §15.3 orders the checks)."""
    items: list[tuple[str, str, Mapping[str, Any], Mapping[str, FileRef]]] = [
        (f"state.{key}", f"set_{key}", {key: integral(request.state[key])}, {})
        for key in sorted(request.state)]
    for index, command in enumerate(request.commands):
        try:
            refs = {name: FileRef(upload_id=ref.upload_id, name=ref.name,
                                  mime_type=ref.mime_type, size=max(int(ref.size), 0))
                    for name, ref in command.uploads.items()}
        except ReactorError as exc:
            return _refused(f"commands[{index}]", exc.message)
        items.append((f"commands[{index}]", command.type, integral(command.data), refs))
    calls = plan_calls(items, schema=schema, completed=completed)
    if isinstance(calls, StepRefusal):
        return calls
    media = plan_media(request, inputs=inputs, max_frames=max_frames)
    if isinstance(media, StepRefusal):
        return media
    return StepPlan(calls=calls, media=media)
