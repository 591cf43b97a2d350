"""The model programming interface: command collection, dispatch, messages, options."""

from __future__ import annotations

import enum
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import pytest

from reactor_anyio.models import (
    Field,
    Frame,
    MessageType,
    Model,
    ModelContext,
    ModelDefinitionError,
    ModelOptionError,
    RecordingContext,
    TrackSpec,
    UploadedFile,
    command,
)
from reactor_proto.errors import CommandValidationError, LocalProtocolError


class Mode(enum.Enum):
    FAST = "fast"
    SLOW = "slow"


class Demo(Model):
    name = "demo"
    description = "A demo model"
    version = "1.2.3"
    inputs = (TrackSpec(name="cam"),)
    outputs = (TrackSpec(name="main_video", width=32, height=16),
               TrackSpec(name="voice", kind="audio"))
    messages = {"note": MessageType(description="A note.", fields={"text": str, "n": int | None},
                                    optional={"n"})}

    def __init__(self, ctx: ModelContext, **options: Any) -> None:
        super().__init__(ctx, **options)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @command
    def plain(self, text: str, count: int = 1) -> None:
        """Do the plain thing

        More details that are not part of the summary.
        """
        self.calls.append(("plain", {"text": text, "count": count}))

    @command(name="renamed", description="Explicit description")
    def _renamed_impl(self, mode: Mode, ratio: float = 1.0) -> None:
        assert self.lock._is_owned()  # type: ignore[attr-defined]
        self.calls.append(("renamed", {"mode": mode, "ratio": ratio}))

    @command()
    def undocumented(self) -> None:
        self.calls.append(("undocumented", {}))

    @command
    def with_upload(self, file: UploadedFile,
                    label: Annotated[str, Field(description="Label", max_length=8)] = "") -> None:
        self.calls.append(("with_upload", {"file": file, "label": label}))

    def produce_frame(self, track: str, now: float) -> Frame:
        spec = self.output_track(track)
        return np.zeros((spec.height, spec.width, 3), dtype=np.uint8)


def test_commands_are_collected_with_names_and_descriptions() -> None:
    assert set(Demo.commands) == {"plain", "renamed", "undocumented", "with_upload"}
    assert Demo.commands["plain"].description == "Do the plain thing"
    assert Demo.commands["renamed"].description == "Explicit description"
    assert Demo.commands["renamed"].attribute == "_renamed_impl"
    assert Demo.commands["undocumented"].description == "Trigger undocumented"
    assert [p.name for p in Demo.commands["plain"].params] == ["text", "count"]


def test_dispatch_calls_the_method_with_converted_arguments() -> None:
    model = Demo(RecordingContext())
    model.dispatch("plain", {"text": "hi"})
    model.dispatch("renamed", {"mode": "slow", "ratio": 2})
    model.dispatch("undocumented", {})
    upload = UploadedFile(upload_id="u1", name="a.png", mime_type="image/png", size=3, data=b"abc")
    model.dispatch("with_upload", {"file": upload, "label": "x"})
    assert model.calls == [
        ("plain", {"text": "hi", "count": 1}),
        ("renamed", {"mode": Mode.SLOW, "ratio": 2.0}),
        ("undocumented", {}),
        ("with_upload", {"file": upload, "label": "x"}),
    ]
    assert isinstance(model.calls[1][1]["ratio"], float)


@pytest.mark.parametrize(
    ("name", "args", "parameter", "reason"),
    [
        ("nope", {}, None, "unknown command; known: plain, renamed, undocumented, with_upload"),
        ("plain", {"text": "a", "extra": 1}, "extra", "undeclared parameter 'extra'"),
        ("plain", {}, "text", "required parameter is missing"),
        ("renamed", {"mode": "medium"}, "mode", "'medium' is not one of"),
        ("with_upload", {"file": {"upload_id": "x"}}, "file", "expected an uploaded file"),
    ],
)
def test_dispatch_errors_name_command_and_parameter(
        name: str, args: dict[str, Any], parameter: str | None, reason: str) -> None:
    model = Demo(RecordingContext())
    with pytest.raises(CommandValidationError) as info:
        model.dispatch(name, args)
    assert info.value.command == name
    assert info.value.parameter == parameter
    assert reason in info.value.reason
    assert model.calls == []


def test_send_checks_declared_message_types() -> None:
    ctx = RecordingContext()
    model = Demo(ctx)
    model.send("note", {"text": "hello"})
    model.send("note", {"text": "just you", "n": 1}, to="client-7")
    assert [(m.type, dict(m.data), m.to) for m in ctx.sent()] == [
        ("note", {"text": "hello"}, None), ("note", {"text": "just you", "n": 1}, "client-7")]
    with pytest.raises(LocalProtocolError, match="'other' is not declared; declared: \\['note'\\]"):
        model.send("other", {})
    assert ctx.sent("other") == []
    ctx.clear()
    assert ctx.sent() == []


def test_message_type_schema() -> None:
    schema = Demo.messages["note"].json_schema()
    assert schema == {
        "type": "object",
        "properties": {"text": {"type": "string"},
                       "n": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
        "required": ["text"],
    }
    with pytest.raises(ModelDefinitionError, match=r"m\.optional: unknown fields \['zz'\]"):
        MessageType(fields={"a": int}, optional={"zz"}).json_schema(where="m")


def test_options_and_instance_defaults() -> None:
    model = Demo(RecordingContext())
    assert model.frame_rate == 30.0
    assert model.output_tracks == Demo.outputs
    assert model.output_track("voice").kind == "audio"
    with pytest.raises(LocalProtocolError, match="unknown output track 'cam'"):
        model.output_track("cam")
    with pytest.raises(ModelOptionError, match=r"unknown options \['colour'\]"):
        Demo(RecordingContext(), colour="red")
    frame = model.produce_frame("main_video", 0.0)
    assert frame.shape == (16, 32, 3)
    assert frame.dtype == np.uint8


def test_take_option_converts_and_bounds() -> None:
    options: dict[str, Any] = {"fps": "25", "width": "wide", "height": 99999}
    assert Model.take_option(options, "fps", 30, minimum=1, maximum=60) == 25.0
    assert "fps" not in options
    assert Model.take_option(options, "missing", 7, minimum=1, maximum=60) == 7.0
    with pytest.raises(ModelOptionError, match="option width: expected a number, got 'wide'"):
        Model.take_option(options, "width", 640, minimum=16, maximum=4096)
    with pytest.raises(ModelOptionError, match=r"option height: 99999 is outside the range"):
        Model.take_option(options, "height", 360, minimum=16, maximum=4096)


def test_base_hooks_are_noops_and_base_produces_no_frames() -> None:
    class Bare(Model):
        name = "bare"

    ctx = RecordingContext()
    model = Bare(ctx)
    model.on_session_start()
    model.on_connected("c1", 1)
    model.on_disconnected("c1", 0)
    model.on_file_uploaded(UploadedFile(upload_id="u", name="n", mime_type="m", size=0))
    model.on_session_end()
    assert ctx.sent() == []
    assert Bare.commands == {}
    with pytest.raises(NotImplementedError, match="Bare does not produce frames"):
        model.produce_frame("main_video", 0.0)


def test_subclass_inherits_and_overrides_commands() -> None:
    class Child(Demo):
        name = "child"

        @command
        def plain(self, text: str, count: int = 1) -> None:
            """Overridden plain"""

        def undocumented(self) -> None:  # no longer a command
            pass

        @command
        def extra(self, flag: bool) -> None:
            """Extra"""

    assert set(Child.commands) == {"plain", "renamed", "with_upload", "extra"}
    assert Child.commands["plain"].description == "Overridden plain"
    assert set(Demo.commands) == {"plain", "renamed", "undocumented", "with_upload"}


def test_malformed_model_classes_are_refused_at_definition() -> None:
    with pytest.raises(ModelDefinitionError, match="used by both"):
        class Duplicate(Model):
            name = "dup"

            @command(name="go")
            def first(self) -> None: ...

            @command(name="go")
            def second(self) -> None: ...

    with pytest.raises(ModelDefinitionError, match="is not an identifier"):
        class BadName(Model):
            name = "bad"

            @command(name="not valid")
            def go(self) -> None: ...

    with pytest.raises(ModelDefinitionError, match=r"Hinted\.go\.value: unsupported type hint"):
        class Hinted(Model):
            name = "hinted"

            @command
            def go(self, value: bytes) -> None: ...

    with pytest.raises(ModelDefinitionError, match=r"duplicate track names \['main_video'\]"):
        class Tracks(Model):
            name = "tracks"
            inputs = (TrackSpec(name="main_video"),)

    with pytest.raises(ModelDefinitionError, match=r"Msgs\.messages\.m\.x"):
        class Msgs(Model):
            name = "msgs"
            messages: ClassVar[Any] = {"m": MessageType(fields={"x": bytes})}

    with pytest.raises(ValueError, match="kind"):
        TrackSpec(name="t", kind="text")


def test_recording_context_inputs() -> None:
    ctx = RecordingContext()
    assert ctx.latest_input("cam") is None
    frame = np.ones((2, 2, 3), dtype=np.uint8)
    ctx.set_input("cam", frame)
    assert ctx.latest_input("cam") is frame
    ctx.set_input("cam", None)
    assert ctx.latest_input("cam") is None


# ---- schema (needs reactor_proto.schema, written by another engineer) -------------------


def test_schema_from_signatures() -> None:
    schema_mod = pytest.importorskip("reactor_proto.schema")
    schema = Demo.schema()
    assert schema.title == "demo"
    assert schema.version == "v1.2.3"
    assert schema.description == "A demo model"
    assert [(t.name, t.kind, t.direction) for t in schema.tracks] == [
        ("cam", "video", "sendonly"), ("main_video", "video", "recvonly"),
        ("voice", "audio", "recvonly")]
    assert schema.command_names() == ("plain", "renamed", "undocumented", "with_upload")
    plain = schema.commands["plain"]
    assert plain.description == "Do the plain thing"
    assert [(p.name, p.required) for p in plain.params] == [("text", True), ("count", False)]
    upload, label = schema.commands["with_upload"].params
    assert upload.is_upload
    assert upload.schema == schema_mod.UPLOAD_REFERENCE_SCHEMA
    assert upload.description == schema_mod.UPLOAD_REFERENCE_SCHEMA["description"]
    assert label.description == "Label"
    assert schema.messages["note"].description == "A note."
    assert schema.validate("plain", {"text": "x"}) == {"text": "x"}
    with pytest.raises(CommandValidationError):
        schema.validate("renamed", {"mode": "medium"})
    doc = schema_mod.to_openapi(schema)
    assert doc["paths"]["/events/with_upload"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["properties"]["file"] == {
        "$ref": "#/components/schemas/ReactorUploadReference"}
    assert schema_mod.parse_openapi(doc) == schema


def test_schema_requires_a_name() -> None:
    pytest.importorskip("reactor_proto.schema")

    class Nameless(Model):
        @command
        def go(self, speed: Literal["a", "b"]) -> None: ...

    with pytest.raises(ModelDefinitionError, match="needs a class attribute `name`"):
        Nameless.schema()
