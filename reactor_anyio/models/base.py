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
* Messages to clients go through :meth:`Model.send` (checked against the declared
  :attr:`Model.messages`, which are published as OpenAPI webhooks).  ``ctx.send`` only
  queues, so it is safe to call while holding the lock, which keeps messages in state order.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, overload

import attrs
import numpy as np
import numpy.typing as npt

from reactor_proto.errors import CommandValidationError, LocalProtocolError

from .signature import (
    UPLOAD_REFERENCE_REF,
    DerivedParam,
    ModelDefinitionError,
    UploadedFile,
    coerce_argument,
    derive_parameters,
    json_schema_for,
)
from .stepping import StepInput, StepOutput

if TYPE_CHECKING:
    from reactor_proto.schema import ModelSchema

Frame = npt.NDArray[np.uint8]
"""An RGB video frame: ``uint8``, shape ``(height, width, 3)``."""

F = TypeVar("F", bound=Callable[..., Any])

_COMMAND_MARK = "__reactor_command__"


class ModelOptionError(LocalProtocolError):
    """A model was given an unknown option or an option value out of range."""


@attrs.frozen(kw_only=True)
class TrackSpec:
    """A media track of the model, seen from the model (inputs are published by clients)."""

    name: str
    kind: str = attrs.field(default="video", validator=attrs.validators.in_(("video", "audio")))
    width: int = 640
    height: int = 360


def _frozen_names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(names)


@attrs.frozen(kw_only=True)
class MessageType:
    """An outbound message type: its ``data`` object's fields as type hints.

    Every field is required unless listed in ``optional`` (a field typed ``T | None`` is still
    required, as in the official ``state`` message, unless listed).

    ``variants`` declares a tagged union (Helios' ``event``): ``data[tag]`` names the kind and
    each kind's own fields are a :class:`MessageType` of their own.  The published schema
    keeps the flat ``properties`` above and adds standard OpenAPI 3.1 ``oneOf`` branches (one
    per kind, the tag pinned with ``const``) and a ``discriminator``; clients that do not read
    them see the same object as before, and ``reactor typegen`` makes one record per kind.
    """

    description: str = ""
    fields: Mapping[str, Any] = attrs.field(factory=dict)
    optional: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen_names)
    tag: str = "type"
    variants: Mapping[str, MessageType] = attrs.field(factory=dict)

    def json_schema(self, *, where: str = "message") -> dict[str, Any]:
        unknown = sorted(self.optional - set(self.fields))
        if unknown:
            raise ModelDefinitionError(f"{where}.optional: unknown fields {unknown}")
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {name: json_schema_for(hint, where=f"{where}.{name}")
                           for name, hint in self.fields.items()},
            "required": [name for name in self.fields if name not in self.optional],
        }
        if self.variants:
            schema["oneOf"] = [self._variant_schema(kind, variant, where=f"{where}.{kind}")
                               for kind, variant in self.variants.items()]
            schema["discriminator"] = {"propertyName": self.tag}
        return schema

    def _variant_schema(self, kind: str, variant: MessageType, *, where: str) -> dict[str, Any]:
        if self.tag in variant.fields:
            raise ModelDefinitionError(f"{where}: the tag {self.tag!r} is set by the kind")
        body = variant.json_schema(where=where)
        branch: dict[str, Any] = {"type": "object"}
        if variant.description:
            branch["description"] = variant.description
        branch["properties"] = {self.tag: {"const": kind}, **body["properties"]}
        branch["required"] = [self.tag, *body["required"]]
        return branch


@attrs.frozen(kw_only=True)
class CommandInfo:
    """A command as collected from a model class."""

    name: str
    description: str
    attribute: str
    params: tuple[DerivedParam, ...]


@attrs.frozen(kw_only=True)
class _CommandMark:
    name: str | None
    description: str | None


@overload
def command(fn: F, /) -> F: ...


@overload
def command(*, name: str | None = None, description: str | None = None) -> Callable[[F], F]: ...


def command(fn: Any = None, /, *, name: str | None = None,
            description: str | None = None) -> Any:
    """Mark a model method as a command; bare (``@command``) or with arguments.

    ``name`` defaults to the method name; ``description`` to the first line of the docstring,
    else ``"Trigger <name>"`` (what the official runtime publishes).
    """

    def mark(target: F) -> F:
        setattr(target, _COMMAND_MARK, _CommandMark(name=name, description=description))
        return target

    return mark if fn is None else mark(fn)


def _first_doc_line(fn: Callable[..., Any]) -> str:
    doc = inspect.getdoc(fn) or ""
    return next((line.strip() for line in doc.splitlines() if line.strip()), "")


def _collect_commands(cls: type) -> dict[str, CommandInfo]:
    marked: dict[str, tuple[Callable[..., Any], _CommandMark]] = {}
    for klass in reversed(cls.__mro__):
        for attribute, value in vars(klass).items():
            mark = getattr(value, _COMMAND_MARK, None)
            if isinstance(mark, _CommandMark):
                marked[attribute] = (value, mark)
            else:
                marked.pop(attribute, None)  # overridden by an undecorated attribute
    commands: dict[str, CommandInfo] = {}
    for attribute, (fn, mark) in marked.items():
        command_name = mark.name or attribute
        where = f"{cls.__name__}.{command_name}"
        if not command_name.isidentifier():
            raise ModelDefinitionError(f"{where}: command name {command_name!r} is not an "
                                       "identifier")
        if command_name in commands:
            raise ModelDefinitionError(
                f"{where}: command name {command_name!r} is used by both "
                f"{commands[command_name].attribute!r} and {attribute!r}")
        description = mark.description or _first_doc_line(fn) or f"Trigger {command_name}"
        commands[command_name] = CommandInfo(
            name=command_name, description=description, attribute=attribute,
            params=derive_parameters(fn, where=where))
    return commands


def _with_upload_component(schema: Any, component: Mapping[str, Any]) -> Any:
    """Replace the ReactorUploadReference ``$ref`` by the component (ParamSpec is resolved)."""
    if isinstance(schema, Mapping):
        if schema.get("$ref") == UPLOAD_REFERENCE_REF:
            return dict(component)
        return {k: _with_upload_component(v, component) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_with_upload_component(v, component) for v in schema]
    return schema


class ModelContext(Protocol):
    """What the runtime gives a model.  Every method is thread-safe and non-blocking."""

    def send(self, type: str, data: Mapping[str, Any], *, to: str | None = None) -> None:
        """Queue an application message to one client id, or to every client."""

    def latest_input(self, track: str) -> Frame | None:
        """The most recent frame of an input track (RGB uint8), or None before the first."""


@attrs.frozen
class CommandReply:
    """What a command returns to answer its sender: a model message (``type``, ``data``).
    A v1 client receives it as the command's correlated reply; a v0 client as a plain
    application message addressed to it."""

    type: str
    data: Mapping[str, Any] = attrs.field(factory=dict)


class CommandError(Exception):
    """Raised by a command to fail with its own ``code`` and ``message``; a v1 client gets
    them as the command's error reply (any other exception becomes ``internal_error``)."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message


@attrs.frozen(kw_only=True)
class SentMessage:
    type: str
    data: Mapping[str, Any]
    to: str | None = None


class RecordingContext:
    """A :class:`ModelContext` for tests and offline rendering: records what is sent and
    serves whatever input frames were set with :meth:`set_input`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: list[SentMessage] = []
        self._inputs: dict[str, Frame] = {}

    def send(self, type: str, data: Mapping[str, Any], *, to: str | None = None) -> None:
        with self._lock:
            self._sent.append(SentMessage(type=type, data=dict(data), to=to))

    def latest_input(self, track: str) -> Frame | None:
        with self._lock:
            return self._inputs.get(track)

    def set_input(self, track: str, frame: Frame | None) -> None:
        with self._lock:
            if frame is None:
                self._inputs.pop(track, None)
            else:
                self._inputs[track] = frame

    def sent(self, type: str | None = None) -> list[SentMessage]:
        """Messages sent so far, oldest first, optionally only those of one type."""
        with self._lock:
            return [m for m in self._sent if type is None or m.type == type]

    def clear(self) -> None:
        with self._lock:
            self._sent.clear()


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
    #: ``GET /sessions/{sid}/steps`` (PROTOCOL.md §15.7); off by default
    keep_step_results: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.commands = _collect_commands(cls)
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

    def step(self, inputs: Sequence[StepInput], now: float) -> StepOutput:
        """One step of a stepped session (PROTOCOL.md §15), on the model's worker thread,
        after the step's state setters and commands ran.  ``inputs`` are the step's frames
        in request order; the runtime has already made each track's last frame its
        :meth:`ModelContext.latest_input`.

        The default generates one frame per video output track with :meth:`produce_frame`,
        so every streaming model can be stepped unchanged.  Override it to consume every
        input frame, return several frames, keep files or report a failure."""
        return StepOutput(frames={spec.name: [self.produce_frame(spec.name, now)]
                                  for spec in self.output_tracks if spec.kind == "video"})

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
            schema = _with_upload_component(param.schema, UPLOAD_REFERENCE_SCHEMA)
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
        # The official runtime publishes the version with a "v" prefix (PROTOCOL.md §7.3).
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
