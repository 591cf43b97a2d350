"""The generator on hand-written hard schemas: names, types, defaults, uploads, messages,
``$ref`` chains and cycles, legacy input, and the errors that name the command."""

from __future__ import annotations

import inspect
import typing
from typing import Any

import anyio
import pytest

from reactor_anyio import FileRef
from reactor_proto.schema import to_legacy_commands
from reactor_proto.typegen import (
    REACTOR_ATTRIBUTES,
    TypegenError,
    generate_sdk,
    js_name,
    load_schema,
    name_table,
)
from reactor_proto.typegen.names import map_names, pascal_name, snake_name

from .support import UPLOAD, client_of, command, document, generate_and_load


def run(coro_fn: Any, *args: Any, **kwargs: Any) -> None:
    anyio.run(lambda: coro_fn(*args, **kwargs))


# ---- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("wire", "python"), [
    ("set_prompt", "set_prompt"), ("setPrompt", "set_prompt"), ("SetPrompt", "set_prompt"),
    ("HTTPMode", "http_mode"), ("set-prompt", "set_prompt"), ("a..b", "a_b"),
    ("__private__", "private"), ("2fast", "cmd_2fast"), ("v2Mode", "v2_mode"),
    ("caf\u00e9", "caf"),
])
def test_command_names_map_to_snake_case(wire: str, python: str) -> None:
    assert map_names([wire], kind="command", prefix="cmd_")[wire] == python


@pytest.mark.parametrize(("wire", "python"), [
    ("class", "class_"), ("from", "from_"), ("connect", "connect_"),
    ("send_command", "send_command_"), ("on_message", "on_message_"), ("type", "type"),
    ("match", "match"),
])
def test_keywords_and_reactor_names_get_a_trailing_underscore(wire: str, python: str) -> None:
    mapped = map_names([wire], kind="command", prefix="cmd_", reserved=REACTOR_ATTRIBUTES)
    assert mapped[wire] == python


def test_js_names_are_lower_camel_case() -> None:
    assert [js_name(n) for n in ("set_prompt", "start", "image_b64", "--")] == [
        "setPrompt", "start", "imageB64", "--"]
    assert pascal_name("prompt_switched") == "PromptSwitched"
    assert pascal_name("3d") == "Message3d"
    assert snake_name("3d", prefix="arg_") == "arg_3d"


def test_reserved_names_cover_every_public_reactor_attribute() -> None:
    from reactor_anyio import Reactor

    public = {name for name in dir(Reactor) if not name.startswith("_")}
    assert public <= REACTOR_ATTRIBUTES, (
        f"add {sorted(public - REACTOR_ATTRIBUTES)} to reactor_proto.typegen.names."
        "REACTOR_ATTRIBUTES (a command with that name would shadow the method)")


def test_collisions_fail_naming_both_commands() -> None:
    doc = document({"setPrompt": command(), "set_prompt": command()})
    with pytest.raises(TypegenError) as info:
        generate_sdk(doc, class_name="Toy")
    assert "'setPrompt' and 'set_prompt'" in str(info.value)
    assert info.value.command == "set_prompt"


def test_parameter_collisions_and_empty_names_fail_naming_the_command() -> None:
    doc = document({"go": command({"aB": {"type": "string"}, "a_b": {"type": "string"}})})
    with pytest.raises(TypegenError, match=r"'go'.*parameters 'aB' and 'a_b'"):
        generate_sdk(doc, class_name="Toy")
    with pytest.raises(TypegenError, match=r"'go'.*parameter '\?\?' has no letters"):
        generate_sdk(document({"go": command({"??": {"type": "string"}})}), class_name="Toy")
    with pytest.raises(TypegenError, match=r"command '--' has no letters"):
        generate_sdk(document({"--": command()}), class_name="Toy")


def test_bad_class_name_and_untitled_legacy_schema_fail() -> None:
    with pytest.raises(TypegenError, match="CapWords"):
        generate_sdk(document({}), class_name="lower")
    with pytest.raises(TypegenError, match="used by the generated module"):
        generate_sdk(document({}), class_name="Reactor")
    legacy = {"protocol_version": "1", "tracks": [],
              "commands": [{"name": "go", "description": "Go", "schema": {}}]}
    with pytest.raises(TypegenError, match="does not name its model"):
        generate_sdk(legacy, class_name="Toy")
    assert "MODEL_NAME = \"toy\"" in generate_sdk(legacy, class_name="Toy", model_name="toy")


def test_no_schema_found_is_an_error() -> None:
    with pytest.raises(TypegenError, match="no command schema found"):
        load_schema({"protocol_version": "1", "tracks": [], "commands": []})
    with pytest.raises(TypegenError, match="expected a JSON object"):
        load_schema([1, 2])


# ---- $ref chains and cycles ----------------------------------------------------------------


def test_ref_chains_are_followed() -> None:
    doc = document({"go": command({"size": {"$ref": "#/components/schemas/A"}}, ("size",))},
                   schemas={"A": {"$ref": "#/components/schemas/B"},
                            "B": {"type": "integer", "minimum": 1, "description": "Size"}})
    source = generate_sdk(doc, class_name="Toy")
    assert "size: int," in source
    assert ":param size: Size; >= 1." in source


def test_ref_cycles_fail_naming_the_command() -> None:
    doc = document({"loop": command({"node": {"$ref": "#/components/schemas/Node"}})},
                   schemas={"Node": {"type": "object", "properties": {
                       "next": {"$ref": "#/components/schemas/Node"}}}})
    with pytest.raises(TypegenError) as info:
        generate_sdk(doc, class_name="Toy")
    assert info.value.command == "loop"
    assert "cyclic $ref" in info.value.reason


# ---- types ---------------------------------------------------------------------------------


HARD = document({
    "configure": command({
        "mode": {"enum": ["fast", "slow"]},
        "level": {"type": "integer", "enum": [1, 2, 3], "default": 2},
        "ratio": {"type": "number", "default": 0.5, "maximum": 1},
        "label": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "either": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "weights": {"type": "object", "additionalProperties": {"type": "number"}},
        "nested": {"type": "object", "properties": {"x": {"type": "integer"}}},
        "anything": {},
        "pinned": {"const": "yes"},
        "floats": {"type": "number", "enum": [0.5, 1.5]},
        "merged": {"allOf": [{"type": "integer"}, {"minimum": 0}]},
        "multi": {"type": ["string", "integer"]},
        "maybe_kind": {"enum": ["a", None]},
        "class": {"type": "boolean"},
        "self": {"type": "string"},
        "long_choice": {"enum": [f"choice_number_{i}" for i in range(12)]},
    }, ("mode", "class")),
    "connect": command(summary="Shadows Reactor.connect"),
    "upload": command({"image": UPLOAD, "mask": UPLOAD, "note": {"type": "string"}},
                      ("image",)),
})


def test_every_type_maps_as_documented() -> None:
    source = generate_sdk(HARD, class_name="Toy")
    expected = [
        'mode: Literal["fast", "slow"],', "class_: bool,",
        "level: Literal[1, 2, 3] = 2,", "ratio: float = 0.5,", "label: str | None = None,",
        "either: int | str | None = None,", "tags: list[str] | None = None,",
        "weights: dict[str, float] | None = None,", "nested: dict[str, Any] | None = None,",
        "anything: Any = None,", 'pinned: Literal["yes"] | None = None,',
        "floats: float | None = None,", "merged: int | None = None,",
        "multi: str | int | None = None,", 'maybe_kind: Literal["a"] | None = None,',
        "self_: str | None = None,", "long_choice: ConfigureLongChoice | None = None,",
        "ConfigureLongChoice: TypeAlias = Literal[",
        "async def connect_(self) -> None:",
        "image: FileRef | bytes | str | PathLike[str],",
        "mask: FileRef | bytes | str | PathLike[str] | None = None,",
    ]
    for line in expected:
        assert line in source, line


def test_generated_methods_send_the_wire_names() -> None:
    module = generate_and_load(HARD)
    client, recorder = client_of(module)
    run(client.configure, mode="fast", class_=True, self_="s", label=None)
    run(client.connect_)
    assert recorder.sent == [
        ("configure", {"mode": "fast", "class": True, "level": 2, "ratio": 0.5, "self": "s"}),
        ("connect", {}),
    ]
    sig = inspect.signature(module.ToyModel.configure)
    assert all(p.kind is p.KEYWORD_ONLY for name, p in sig.parameters.items() if name != "self")


def test_upload_parameters_upload_bytes_and_paths_first() -> None:
    module = generate_and_load(HARD)
    client, recorder = client_of(module)
    ref = FileRef(upload_id="given", name="a", mime_type="x/y", size=3)
    run(client.upload, image=b"raw", mask=ref, note="n")
    run(client.upload, image="photo.png")
    assert recorder.uploads == [b"raw", "photo.png"]
    first, second = recorder.sent
    assert first[1]["image"].upload_id == "u1" and first[1]["mask"] is ref
    assert second == ("upload", {"image": recorder.sent[1][1]["image"]})
    assert "mask" not in second[1]


def test_name_table_rows() -> None:
    rows = {row.command: (row.method, row.js) for row in name_table(load_schema(HARD))}
    assert rows == {"configure": ("configure", "configure"),
                    "connect": ("connect_", "connect"), "upload": ("upload", "upload")}


def test_false_schema_parameter_fails_naming_the_command() -> None:
    doc = document({"never": command({"x": False})})
    with pytest.raises(TypegenError, match=r"'never'.*parameter 'x' accepts no value"):
        generate_sdk(doc, class_name="Toy")


def test_defaults_that_do_not_validate_fall_back_to_none() -> None:
    doc = document({"go": command({
        "bad": {"type": "integer", "default": "x"},
        "listy": {"type": "array", "default": [1]},
        "whole": {"type": "integer", "default": 3.0},
    })})
    source = generate_sdk(doc, class_name="Toy")
    assert "bad: int | None = None," in source
    assert "listy: list[Any] | None = None," in source
    assert "whole: int = 3," in source


def test_docstrings_are_escaped_and_ascii() -> None:
    doc = document({"go": command({"p": {"type": "string",
                                         "description": 'Say """hi""" \\ caf\u00e9 \U0001f600'}},
                                  summary='Ends with a quote "')})
    source = generate_sdk(doc, class_name="Toy")
    assert source.isascii()
    module = generate_and_load(doc)
    assert 'Ends with a quote "' in (module.ToyModel.go.__doc__ or "")
    assert '"""hi"""' in (module.ToyModel.go.__doc__ or "")
    assert "caf\u00e9 \U0001f600" in (module.ToyModel.go.__doc__ or "")


# ---- messages ------------------------------------------------------------------------------


MESSAGES = document({"go": command()}, webhooks={
    "status": {"type": "object", "properties": {"ok": {"type": "boolean"},
                                               "from": {"type": "string"}},
               "required": ["ok"]},
    "raw": {"type": "string"},
    "change": {"oneOf": [
        {"type": "object", "properties": {"kind": {"const": "moved"}, "x": {"type": "integer"}},
         "required": ["kind", "x"]},
        {"type": "object", "properties": {"kind": {"enum": ["gone"]}}, "required": ["kind"]},
    ]},
})


def test_message_records_and_decorators() -> None:
    module = generate_and_load(MESSAGES)
    client, _ = client_of(module)
    got: list[Any] = []
    keep = got.append
    assert client.on_status_(keep) is keep  # on_status is Reactor's: rule 3 applies
    client.on_raw(keep)
    client.on_change(keep)
    emit = client._emitter.emit
    emit("message", {"type": "status", "data": {"ok": True, "from": "me"}})
    emit("message", {"type": "raw", "data": "text"})
    emit("message", {"type": "change", "data": {"kind": "moved", "x": 3}})
    emit("message", {"type": "change", "data": {"kind": "gone"}})
    emit("message", {"type": "change", "data": {"kind": "unknown"}})
    emit("message", {"type": "other", "data": {}})
    emit("message", "not an envelope")
    assert got[0] == module.StatusMessage(ok=True, from_="me")
    assert got[1] == "text"
    assert got[2] == module.MovedChange(x=3) and got[2].kind == "moved"
    assert got[3] == module.GoneChange()
    assert len(got) == 4
    assert typing.get_args(module.ChangeMessage) == (module.MovedChange, module.GoneChange)


def test_unions_of_non_objects_are_not_variants() -> None:
    doc = document({}, webhooks={"v": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                                 "w": {"oneOf": [
                                     {"type": "object", "properties": {"k": {"const": "a"}}},
                                     {"type": "object", "properties": {"k": {"const": "a"}}}]}})
    module = generate_and_load(doc)
    # Neither is a tagged union (w's tags repeat) nor an object: delivered as received.
    assert not hasattr(module, "VMessage") and not hasattr(module, "WMessage")
    assert callable(module.ToyModel.on_v) and callable(module.ToyModel.on_w)


def test_legacy_commands_generate_the_same_methods() -> None:
    from reactor_anyio.models import Helios

    legacy = {"model": {"name": "helios"}, "capabilities": {
        "protocol_version": "1.0.0", "tracks": [],
        "commands": to_legacy_commands(Helios.schema())}}
    source = generate_sdk(legacy, class_name="HeliosModel")
    assert 'transition: Literal["cut", "blend"] = "cut",' in source
    assert 'MODEL_NAME = "helios"' in source
    assert "def on_state" not in source  # the legacy block carries no messages


def test_bundle_with_openapi_and_legacy_uses_openapi(helios_bundle: dict[str, Any]) -> None:
    source = generate_sdk(helios_bundle, class_name="HeliosModel")
    assert "def on_state" in source


@pytest.fixture
def helios_bundle() -> dict[str, Any]:
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "data" / "helios_schema.json"
    bundle: dict[str, Any] = json.loads(path.read_text())
    return bundle


def test_a_thousand_commands_generate_and_load() -> None:
    doc = document({f"command_{i}": command({"value": {"type": "integer", "minimum": i},
                                             "label": {"type": "string"}}, ("value",))
                    for i in range(1000)})
    module = generate_and_load(doc, "BigModel")
    assert sum(name.startswith("command_") for name in vars(module.BigModel)) == 1000


def test_descriptor_input_and_malformed_commands() -> None:
    descriptor = {"session_id": "local", "schema": document({"go": command()})}
    assert list(load_schema(descriptor).commands) == ["go"]
    bad = document({"go": command({"x": {"type": "nonsense"}})})
    with pytest.raises(TypegenError) as info:
        load_schema(bad)
    assert info.value.command == "go" and "unknown type" in info.value.reason
    bad_message = document({}, webhooks={"m": {"type": "nonsense"}})
    with pytest.raises(TypegenError) as info:
        load_schema(bad_message)
    assert info.value.command == "m"
