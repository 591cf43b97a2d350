"""Stepped generation, the client's side (§15): what may be sent when, and what comes back.

A stepped session (``ClientConfig.generation == "stepped"``) does not stream: the caller
asks for one step at a time.  Everything a step decides lives here, so both adapters behave
the same and the rules are property-tested:

* **Starting.**  The mode travels in the session request's extra bag (``generation``), which
  our runtime reads from ``/start_session`` and the coordinator from ``POST /sessions``
  (``extra_configs``).  At connect the descriptor must report the same mode
  (:class:`GenerationModeMismatchError`, with its own wording for a runtime that reports no
  mode at all: one that cannot step), and the connection must speak v1 with chunking
  (:class:`DataChannelChunkingRequiredError`): a step's frames outgrow one SCTP message.
* **Sending.**  ``step()`` is allowed only in a ready stepped session
  (:class:`InvalidStateError` otherwise).  The request is checked and encoded *before*
  the frames pushed since the previous step are taken: a call refused here leaves that
  buffer as it was.  Once encoded, the frames belong to the step whatever its outcome.
* **Correlation and time.**  A step is a v1 request on ``data`` with its own id; its
  deadline is ``step_timeout`` (300 s by default, generation included), after which it
  fails with :class:`RequestTimeoutError`; a lost connection fails it with
  :class:`DisconnectedError`.
* **Outcomes** (§15.6): the result, also when the model reported a failure (``error``
  set); otherwise the typed ``Step*Error`` of the failure code.  Only
  ``COMMAND_FAILED`` leaves something applied (the calls before ``entry``).
* **Buffer.**  Frames pushed on input tracks wait in :class:`StepInputs`, bounded to one
  message's worth of bytes; the oldest go first, across tracks.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..bodies import SessionSnapshot
from ..envelope import FileRef
from ..errors import (
    DataChannelChunkingRequiredError,
    GenerationModeMismatchError,
    InvalidStateError,
    LocalProtocolError,
    ReactorError,
    StepCommandFailedError,
    StepNotReadyError,
    StepRefusedError,
    StepResultTooLargeError,
    StepSessionEndedError,
)
from ..wire_v1 import (
    Command,
    Frame,
    RequestStep,
    StepFailureCode,
    StepResult,
    TrackFrames,
    UploadReference,
)
from ..wire_v1.enums import FrameEncoding, TrackKind, open_enum
from .audio import AudioFormatError
from .wire import CHUNK_RECEIVE_LIMIT, ConnectionWire

STREAMED = "streamed"
STEPPED = "stepped"
GENERATIONS = (STREAMED, STEPPED)
#: §15.8: the official client's default, generation included
DEFAULT_STEP_TIMEOUT = 300.0
#: frames buffered for the next step: one message's worth (what we may send at most)
MAX_BUFFERED_BYTES = CHUNK_RECEIVE_LIMIT


# ---- user-facing inputs (1.13.0's names; positional like theirs) ---------------------------


@attrs.frozen
class StepCommand:
    """One command of a step, run after the state setters, in order."""

    command: str
    data: Mapping[str, Any] | None = None


@attrs.frozen
class EncodedFrame:
    """One H.264 access unit (Annex-B) for a step; give them in decode order from an IDR."""

    data: bytes
    width: int
    height: int
    codec: str = "h264"
    user_data: bytes | None = None
    capture_time_us: int | None = None


# ---- options and connect-time checks -------------------------------------------------------


def check_options(generation: object, step_timeout: object) -> None:
    if generation not in GENERATIONS:
        raise LocalProtocolError(f"generation: expected 'streamed' or 'stepped', got "
                                 f"{generation!r:.40}")
    if step_timeout is None:
        return
    if generation != STEPPED:
        raise LocalProtocolError("step_timeout: only applies to generation='stepped'")
    if (isinstance(step_timeout, bool) or not isinstance(step_timeout, int | float)
            or not 0 < step_timeout < float("inf")):
        raise LocalProtocolError(f"step_timeout: expected a positive number of seconds, got "
                                 f"{step_timeout!r:.40}")


def session_extra(extra_args: Mapping[str, object] | None,
                  generation: str) -> dict[str, object] | None:
    """The extra bag of ``POST /sessions`` (the coordinator reads ``extra_configs``): a
    stepped session says so; a streamed one sends exactly what it sent before."""
    if generation == STREAMED:
        return None if extra_args is None else dict(extra_args)
    return {**(extra_args or {}), "generation": generation}


def start_session_body(body: Mapping[str, Any], generation: str) -> dict[str, Any]:
    """A local ``/start_session`` body: the runtime reads ``generation`` at the top level
    (§15.2); a streamed session sends exactly what it sent before."""
    if generation == STREAMED:
        return dict(body)
    return {**body, "generation": generation}


def check_descriptor(requested: str, snapshot: SessionSnapshot) -> None:
    """The descriptor's mode must be the requested one; a runtime that reports none is
    taken as streaming (every runtime before stepped generation)."""
    reported = snapshot.generation
    if reported is None and requested == STREAMED:
        return
    if reported is None:
        raise GenerationModeMismatchError(
            "generation: asked for a stepped session, but the runtime reports no generation "
            "mode (it predates stepped generation)", component="gpu")
    if reported != requested:
        raise GenerationModeMismatchError(
            f"generation: asked for {requested!r}, the session runs {reported!r:.40}",
            component="gpu")


def check_connection(requested: str, wire: ConnectionWire) -> None:
    """After the answer: a stepped session needs v1 with chunking negotiated."""
    if requested != STEPPED:
        return
    if not wire.is_v1:
        raise DataChannelChunkingRequiredError(
            "a stepped session needs the v1 wire (connect with wire='v1' or 'auto')")
    if wire.send_limit is None:
        raise DataChannelChunkingRequiredError(
            "a stepped session needs data-channel chunking, and the answer did not "
            "declare it")


# ---- frames --------------------------------------------------------------------------------


def raw_frame(data: bytes, shape: Sequence[int], *, dtype: str = "uint8",
              metadata: bytes | None = None, capture_time_us: int | None = None) -> Frame:
    """A raw frame (video ``uint8 [h, w, 3]``, audio ``int16 [channels, samples]``)."""
    dims = tuple(int(d) for d in shape)
    size = {"uint8": 1, "int16": 2}.get(dtype)
    if size is None:
        raise LocalProtocolError(f"frame dtype: expected 'uint8' or 'int16', got {dtype!r:.20}")
    if not dims or any(d <= 0 for d in dims):
        raise LocalProtocolError(f"frame shape: every dimension must be > 0, got {dims}")
    expected = size
    for d in dims:
        expected *= d
    if len(data) != expected:
        raise LocalProtocolError(f"frame data: {dtype} {list(dims)} needs {expected} bytes, "
                                 f"got {len(data)}")
    return Frame(encoding=FrameEncoding.RAW, dtype=dtype, shape=dims, data=bytes(data),
                 metadata=metadata, capture_time_us=capture_time_us)


def encoded_frame(frame: EncodedFrame) -> Frame:
    if frame.codec.lower() != "h264":
        raise LocalProtocolError(f"EncodedFrame.codec: only 'h264' is supported, got "
                                 f"{frame.codec!r:.20}")
    if not frame.data:
        raise LocalProtocolError("EncodedFrame.data: empty")
    if frame.width <= 0 or frame.height <= 0:
        raise LocalProtocolError(f"EncodedFrame: width and height must be > 0, got "
                                 f"{frame.width}x{frame.height}")
    return Frame(encoding=FrameEncoding.H264, shape=(frame.height, frame.width, 3),
                 data=bytes(frame.data), metadata=frame.user_data,
                 capture_time_us=frame.capture_time_us)


def frame_bytes(frame: Frame) -> int:
    return len(frame.data) + len(frame.metadata or b"")


@attrs.define(kw_only=True, eq=False)
class StepInputs:
    """Frames pushed on input tracks since the previous step, oldest first, bounded by
    ``max_bytes`` (the oldest go first, across tracks).  An audio push carries its sample
    rate: one track's buffered audio shares one rate (the request has one per track)."""

    max_bytes: int = MAX_BUFFERED_BYTES
    _frames: deque[tuple[str, Frame, int | None]] = attrs.field(factory=deque, init=False)
    _bytes: int = attrs.field(default=0, init=False)
    dropped: int = attrs.field(default=0, init=False)

    @property
    def size(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._frames)

    def push(self, track: str, frame: Frame, *, rate: int | None = None) -> None:
        cost = frame_bytes(frame)
        if cost > self.max_bytes:
            raise LocalProtocolError(f"push_frame({track!r}): a frame of {cost} bytes exceeds "
                                     f"the step limit of {self.max_bytes} bytes")
        held = self.rates().get(track)
        if rate is not None and held is not None and held != rate:
            raise AudioFormatError(f"push_frame({track!r}): sample_rate={rate} but this "
                                   f"step's audio on the track is at {held} Hz (one rate per "
                                   "track and step; step() or clear_step_inputs() first)",
                                   field="sample_rate")
        self._frames.append((track, frame, rate))
        self._bytes += cost
        while self._bytes > self.max_bytes:
            _, old, _ = self._frames.popleft()
            self._bytes -= frame_bytes(old)
            self.dropped += 1

    def clear(self) -> None:
        self._frames.clear()
        self._bytes = 0

    def peek(self) -> list[tuple[str, Frame]]:
        return [(track, frame) for track, frame, _ in self._frames]

    def rates(self) -> dict[str, int]:
        """The sample rate of each track's buffered audio."""
        return {track: rate for track, _, rate in self._frames if rate is not None}


def group(frames: Iterable[tuple[str, Frame]],
          rates: Mapping[str, int] | None = None) -> tuple[TrackFrames, ...]:
    """Frames per track, tracks in order of first appearance, frames in order; a track
    with a known audio ``rate`` is marked audio at that rate (the runtime checks it)."""
    tracks: dict[str, list[Frame]] = {}
    for name, frame in frames:
        tracks.setdefault(name, []).append(frame)
    rates = rates or {}
    return tuple(TrackFrames(track=name, frames=tuple(items),
                             kind=TrackKind.AUDIO if name in rates else TrackKind.UNSPECIFIED,
                             rate=float(rates.get(name, 0)))
                 for name, items in tracks.items())


# ---- the request ---------------------------------------------------------------------------


def _command(index: int, entry: object) -> Command:
    where = f"commands[{index}]"
    name: object
    data: object
    if isinstance(entry, StepCommand):
        name, data = entry.command, entry.data
    elif isinstance(entry, Mapping):
        unknown = set(entry) - {"command", "data"}
        if unknown:
            raise LocalProtocolError(f"{where}: unknown keys {sorted(map(str, unknown))}")
        name, data = entry.get("command"), entry.get("data")
    else:
        raise LocalProtocolError(f"{where}: expected a StepCommand or a mapping, got "
                                 f"{type(entry).__name__}")
    if not isinstance(name, str) or not name:
        raise LocalProtocolError(f"{where}.command: expected a non-empty string, got "
                                 f"{name!r:.40}")
    if data is not None and not isinstance(data, Mapping):
        raise LocalProtocolError(f"{where}.data: expected a mapping or None, got "
                                 f"{type(data).__name__}")
    return command_body(name, data or {})


def command_body(name: str, payload: Mapping[str, Any]) -> Command:
    """A v1 ``Command``: file arguments travel in ``uploads``, the rest in ``data``."""
    uploads = {key: UploadReference(upload_id=v.upload_id, name=v.name,
                                    mime_type=v.mime_type, size=v.size)
               for key, v in payload.items() if isinstance(v, FileRef)}
    data = {key: v for key, v in payload.items() if not isinstance(v, FileRef)}
    return Command(type=name, data=data, uploads=uploads)


def _state(state: object) -> dict[str, Any]:
    if state is None:
        return {}
    if not isinstance(state, Mapping):
        raise LocalProtocolError(f"state: expected a mapping or None, got {type(state).__name__}")
    for key in state:
        if not isinstance(key, str) or not key:
            raise LocalProtocolError(f"state: keys must be non-empty strings, got {key!r:.40}")
    # a FileRef travels as its JSON form: the runtime resolves it like a command's upload
    return {k: (v.to_json() if isinstance(v, FileRef) else v) for k, v in state.items()}


def build_request(state: object, commands: object, media: Sequence[tuple[str, Frame]],
                  rates: Mapping[str, int] | None = None) -> RequestStep:
    """Check and build the request; raises LocalProtocolError (nothing taken) when bad."""
    if commands is None:
        commands = ()
    if isinstance(commands, str | bytes | Mapping) or not isinstance(commands, Sequence):
        raise LocalProtocolError(f"commands: expected a sequence, got "
                                 f"{type(commands).__name__}")
    return RequestStep(state=_state(state),
                       commands=tuple(_command(i, c) for i, c in enumerate(commands)),
                       media_input=group(media, rates))


def check_ready_to_step(generation: str, ready: bool, status: str) -> None:
    if generation != STEPPED:
        raise InvalidStateError("step(): needs a stepped session: create the client with "
                                "generation='stepped'")
    if not ready:
        raise InvalidStateError(f"step(): the connection is {status}, not ready")


# ---- the result ----------------------------------------------------------------------------


def outcome(result: StepResult) -> ReactorError | None:
    """None when the caller gets the result (it ran, maybe with ``error``), else the error."""
    code = open_enum(StepFailureCode, int(result.failure_code))  # a bare int compares too
    if code in (StepFailureCode.UNSPECIFIED, StepFailureCode.FAILED):
        return None
    text = result.error or f"step failed (failure code {int(code)})"
    common: dict[str, Any] = {"entry": result.entry, "step": result.step}
    if code is StepFailureCode.REFUSED:
        return StepRefusedError(text, **common)
    if code is StepFailureCode.NOT_READY:
        return StepNotReadyError(text, **common)
    if code is StepFailureCode.COMMAND_FAILED:
        return StepCommandFailedError(text, command_code=result.code, **common)
    if code is StepFailureCode.RESULT_TOO_LARGE:
        return StepResultTooLargeError(text, **common)
    if code is StepFailureCode.SESSION_ENDED:
        return StepSessionEndedError(text, **common)
    # a failure code from a newer runtime: still a failed step, never a silent success
    return StepRefusedError(f"{text} (unknown failure code {int(code)})", **common)
