"""The programming interface for a model served by the local runtime.

A model is a plain class::

    class Greeter(Model):
        name = "greeter"
        description = "Says hello on a video track"
        messages = {"greeting": MessageType(description="A greeting.", fields={"text": str})}

        def __init__(self, ctx: ModelContext, **options: Any) -> None:
            super().__init__(ctx, **options)
            self.text = "hello"

        @command
        def set_text(self, text: Annotated[str, Field(max_length=40)], loud: bool = False) -> None:
            '''Change the greeting'''
            self.text = text.upper() if loud else text
            self.send("greeting", {"text": self.text})

        def produce_frame(self, track: str, now: float) -> Frame:
            with self.lock:
                text = self.text
            return render(text)          # RGB uint8, shape (height, width, 3)

Contract with the runtime (which owns every socket, thread and clock):

* The runtime builds one instance per served model with ``Model(ctx, **options)``; unknown
  options raise :class:`ModelOptionError`.  It calls :meth:`Model.on_session_start` when a
  session begins and :meth:`Model.on_session_end` when it ends (a model resets its state
  there), and :meth:`Model.on_connected` / :meth:`Model.on_disconnected` for every client
  connection with the number of connected users afterwards.
* Commands are methods decorated with :func:`command`.  Their JSON schema is derived from
  the signature (see :mod:`.signature`); the runtime validates every payload against
  :meth:`Model.schema` and then calls :meth:`Model.dispatch`, which converts enum values,
  takes :attr:`Model.lock` and calls the method.  Upload parameters arrive as
  :class:`UploadedFile` objects.  A command may return a :class:`CommandReply`, the model
  message that answers its sender, or raise :class:`CommandError` to fail with its own
  code; returning ``None`` acknowledges it (v1 clients get exactly one of the three).
* :meth:`Model.produce_frame` is called from a worker thread, ``frame_rate`` times a second
  per output track, with the runtime's clock reading ``now``.  It must be thread-safe against
  the command methods: hold :attr:`Model.lock` while reading or advancing state, and render
  outside it.  It returns RGB ``uint8`` frames shaped ``(height, width, 3)`` matching the
  track's :class:`TrackSpec` in :attr:`Model.output_tracks`.
* Audio: a model lists audio tracks in :attr:`Model.outputs` / :attr:`Model.inputs` with
  ``kind="audio"`` and their ``sample_rate`` and ``channels``.  The runtime calls
  :meth:`Model.produce_audio` on an audio thread (never the video one) every 20 ms per
  output track while someone listens; it returns ``int16`` PCM shaped ``(samples,
  channels)`` for the next 10-20 ms (floats in [-1, 1] are accepted and scaled).  Too few
  samples are asked for again, then padded with silence; too many are kept up to 100 ms;
  a wrong dtype or shape or NaN is refused; all of it is counted, and video never waits
  (:mod:`reactor_proto.runtime.audio`).  A published audio input's PCM (in the declared
  format) waits in a bounded buffer read with ``ctx.read_audio(track, samples)``.
* Messages to clients go through :meth:`Model.send` (checked against the declared
  :attr:`Model.messages`, which are published as OpenAPI webhooks).  ``ctx.send`` only
  queues, so it is safe to call while holding the lock, which keeps messages in state order.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from reactor_proto.errors import CommandValidationError, LocalProtocolError
from reactor_proto.runtime.audio import AudioFormat

from .commands import (
    CommandError,
    CommandInfo,
    CommandReply,
    collect_commands,
    command,
    with_upload_component,
)
from .context import Frame, ModelContext, Pcm, RecordingContext, SentMessage
from .messages import MessageType
from .signature import (
    DerivedParam,
    ModelDefinitionError,
    UploadedFile,
    coerce_argument,
)
from .stepping import StepInput, StepOutput, default_step

if TYPE_CHECKING:
    from reactor_proto.schema import ModelSchema

__all__ = [
    "CommandError",
    "CommandInfo",
    "CommandReply",
    "Frame",
    "MessageType",
    "Model",
    "ModelContext",
    "ModelOptionError",
    "Pcm",
    "RecordingContext",
    "SentMessage",
    "StepInput",
    "StepOutput",
    "TrackSpec",
    "command",
]


class ModelOptionError(LocalProtocolError):
    """A model was given an unknown option or an option value out of range."""


@attrs.frozen(kw_only=True)
class TrackSpec:
    """A media track of the model, seen from the model (inputs are published by clients)."""

    name: str
    kind: str = attrs.field(default="video", validator=attrs.validators.in_(("video", "audio")))
    width: int = 640
    height: int = 360
    #: audio only: the rate and channel count of the PCM the model produces or receives
    sample_rate: int = 48_000
    channels: int = 1
    #: audio only: the frame (and Opus packet) duration, 20 ms unless set (10, 40, 60)
    frame_ms: int = 20

    def __attrs_post_init__(self) -> None:
        if self.kind == "audio":
            self.audio_format  # noqa: B018 - checks the rate and the channels

    @property
    def audio_format(self) -> AudioFormat:
        """The PCM format of an audio track (raises for an unsupported rate or layout)."""
        return AudioFormat(sample_rate=self.sample_rate, channels=self.channels,
                           frame_ms=self.frame_ms)


class Model:
    """Base class of every model; see the module docstring for the contract."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    version: ClassVar[str] = "0.1.0"
    fps: ClassVar[float] = 30.0
    inputs: ClassVar[tuple[TrackSpec, ...]] = ()
    outputs: ClassVar[tuple[TrackSpec, ...]] = (TrackSpec(name="main_video"),)
    messages: ClassVar[Mapping[str, MessageType]] = {}
    commands: ClassVar[Mapping[str, CommandInfo]] = {}
    #: keep each step's result and the files :meth:`step` returns for
    #: ``GET /sessions/{sid}/steps`` (docs/protocol §15.7); off by default
    keep_step_results: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.commands = collect_commands(cls)
        for message_name, message in cls.messages.items():
            message.json_schema(where=f"{cls.__name__}.messages.{message_name}")
        names = [t.name for t in (*cls.inputs, *cls.outputs)]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ModelDefinitionError(f"{cls.__name__}: duplicate track names {duplicates}")

    def __init__(self, ctx: ModelContext, **options: Any) -> None:
        if options:
            raise ModelOptionError(
                f"{type(self).__name__}: unknown options {sorted(options)}")
        self.ctx = ctx
        self.lock = threading.RLock()
        self.frame_rate: float = float(type(self).fps)
        self.output_tracks: tuple[TrackSpec, ...] = type(self).outputs

    # ---- lifecycle hooks (no-ops by default) -------------------------------------------

    def on_connected(self, client_id: str, connected_users: int) -> None:
        """A client connection was installed; ``connected_users`` counts it."""

    def on_disconnected(self, client_id: str, connected_users: int) -> None:
        """A client connection went away; ``connected_users`` is the remaining count."""

    def on_session_start(self) -> None:
        """A session began."""

    def on_session_end(self) -> None:
        """The session ended; a model resets its state here."""

    def on_file_uploaded(self, upload: UploadedFile) -> None:
        """A client uploaded a file (runtime message ``fileUploaded``)."""

    def produce_frame(self, track: str, now: float) -> Frame:
        """The next frame of output track ``track``; called from a worker thread."""
        raise NotImplementedError(f"{type(self).__name__} does not produce frames")

    def produce_audio(self, track: str, now: float) -> Pcm:
        """The next 10-20 ms of audio output track ``track`` from ``now``: ``int16`` PCM
        shaped ``(samples, channels)`` in the track's format; called from an audio thread."""
        raise NotImplementedError(f"{type(self).__name__} does not produce audio")

    def step(self, inputs: Sequence[StepInput], now: float) -> StepOutput:
        """One step of a stepped session (docs/protocol §15), on the model's worker thread,
        after the step's state setters and commands ran.  ``inputs`` are the step's frames
        in request order; the runtime has already made each track's last frame its
        :meth:`ModelContext.latest_input`.

        The default generates one frame per video output track with :meth:`produce_frame`
        and the step's span of every audio output track with :meth:`produce_audio`
        (:func:`~reactor_anyio.models.stepping.default_step`), so every streaming model can
        be stepped unchanged.  Override it to consume every input frame, return several
        frames, keep files or report a failure."""
        return default_step(self, inputs, now)

    # ---- helpers ------------------------------------------------------------------------

    def send(self, type: str, data: Mapping[str, Any], *, to: str | None = None) -> None:
        """Send a declared message (see :attr:`messages`) to one client or all of them."""
        if type not in self.messages:
            raise LocalProtocolError(
                f"{self.__class__.__name__}.send: message type {type!r} is not declared; "
                f"declared: {sorted(self.messages)}")
        self.ctx.send(type, data, to=to)

    def output_track(self, name: str) -> TrackSpec:
        """The spec of an output track of this instance (sizes may come from options)."""
        for spec in self.output_tracks:
            if spec.name == name:
                return spec
        raise LocalProtocolError(
            f"{type(self).__name__}: unknown output track {name!r}; "
            f"known: {[t.name for t in self.output_tracks]}")

    def dispatch(self, command: str, args: Mapping[str, Any]) -> CommandReply | None:
        """Call the command ``command`` with validated ``args`` while holding :attr:`lock`;
        returns its :class:`CommandReply`, or ``None``."""
        info = self.commands.get(command)
        if info is None:
            raise CommandValidationError(
                command, None, f"unknown command; known: {', '.join(sorted(self.commands))}")
        declared = {p.name: p for p in info.params}
        for key in args:
            if key not in declared:
                raise CommandValidationError(
                    command, key, f"undeclared parameter {key!r}; declared: {sorted(declared)}")
        kwargs: dict[str, Any] = {}
        for param in info.params:
            if param.name in args:
                kwargs[param.name] = coerce_argument(param.hint, args[param.name],
                                                     command=command, path=param.name)
            elif param.required:
                raise CommandValidationError(command, param.name, "required parameter is missing")
        with self.lock:
            result = getattr(self, info.attribute)(**kwargs)
        if result is not None and not isinstance(result, CommandReply):
            raise LocalProtocolError(f"command {command!r} returned {type(result).__name__}; "
                                     "a command returns a CommandReply or None")
        return result

    @classmethod
    def schema(cls) -> ModelSchema:
        """The model's schema (commands, messages, tracks) derived from the class."""
        from reactor_proto.capabilities import TrackCapability
        from reactor_proto.schema import (
            UPLOAD_REFERENCE_SCHEMA,
            CommandSpec,
            MessageSpec,
            ModelSchema,
            ParamSpec,
        )

        if not isinstance(getattr(cls, "name", None), str) or not cls.name:
            raise ModelDefinitionError(f"{cls.__name__}: a model needs a class attribute `name`")
        tracks = (
            *(TrackCapability(name=t.name, kind=t.kind, direction="sendonly")
              for t in cls.inputs),
            *(TrackCapability(name=t.name, kind=t.kind, direction="recvonly")
              for t in cls.outputs),
        )
        def param_spec(param: DerivedParam) -> ParamSpec:
            schema = with_upload_component(param.schema, UPLOAD_REFERENCE_SCHEMA)
            # ModelSchema's invariant: a parameter's description is its schema's.
            description = schema.get("description")
            return ParamSpec(name=param.name, schema=schema, required=param.required,
                             is_upload=param.is_upload,
                             description=description if isinstance(description, str) else "")

        commands = {
            info.name: CommandSpec(name=info.name, description=info.description,
                                   params=tuple(param_spec(p) for p in info.params))
            for info in cls.commands.values()
        }
        messages = {
            name: MessageSpec(name=name, description=message.description,
                              schema=message.json_schema(where=f"{cls.__name__}.{name}"))
            for name, message in cls.messages.items()
        }
        # The official runtime publishes the version with a "v" prefix (docs/protocol §7.3).
        version = cls.version if cls.version.startswith("v") else f"v{cls.version}"
        return ModelSchema(title=cls.name, version=version, description=cls.description,
                           commands=commands, messages=messages, tracks=tracks)

    @staticmethod
    def take_option(options: dict[str, Any], key: str, default: float, *,
                    minimum: float, maximum: float) -> float:
        """Pop a numeric option (strings from a command line are converted) within bounds."""
        raw = options.pop(key, default)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ModelOptionError(f"option {key}: expected a number, got {raw!r}") from None
        if not minimum <= value <= maximum:
            raise ModelOptionError(
                f"option {key}: {raw!r} is outside the range {minimum}..{maximum}")
        return value
