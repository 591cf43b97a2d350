"""The legacy per-command schema map (docs/protocol §7.2) in both directions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reactor_proto.capabilities import (
    Capabilities,
    CommandCapability,
    TrackCapability,
    parse_capabilities,
)
from reactor_proto.errors import CommandValidationError, DecodeError
from reactor_proto.schema import (
    UPLOAD_REFERENCE_SCHEMA,
    CommandSpec,
    ModelSchema,
    ParamSpec,
    parse_legacy_commands,
    parse_openapi,
    schema_from_capabilities,
    to_legacy_commands,
)

HELIOS_DOC = json.loads(
    (Path(__file__).parents[1] / "data" / "helios_schema.json").read_text())["openapi"]
VIDEO = TrackCapability(name="main_video", kind="video", direction="recvonly")


def test_helios_legacy_list_matches_the_protocol_example() -> None:
    legacy = to_legacy_commands(parse_openapi(HELIOS_DOC))
    by_name = {item["name"]: item for item in legacy}
    assert by_name["schedule_prompt"] == {
        "name": "schedule_prompt", "description": "Schedule a prompt at a chunk index",
        "schema": {"prompt": {"type": "string", "required": True},
                   "chunk": {"type": "integer", "minimum": 0, "required": True}}}
    assert by_name["set_image"]["schema"]["transition"] == {
        "type": "string", "enum": ["cut", "blend"], "default": "cut", "required": False}
    assert by_name["start"]["schema"] == {}
    assert [item["name"] for item in legacy] == list(parse_openapi(HELIOS_DOC).commands)


def test_schema_from_capabilities() -> None:
    caps = parse_capabilities({
        "protocol_version": "1.0.0",
        "tracks": [{"name": "main_video", "kind": "video", "direction": "recvonly"}],
        "commands": [
            {"name": "set_seed", "description": "Set the RNG seed",
             "schema": {"seed": {"type": "integer", "description": "Seed", "required": True}}},
            {"name": "start", "description": "Start"},
        ]})
    schema = schema_from_capabilities(caps)
    assert schema is not None
    assert schema.tracks == (VIDEO,)
    assert schema.commands["set_seed"].params == (ParamSpec(
        name="seed", schema={"type": "integer", "description": "Seed"},
        required=True, description="Seed"),)
    assert schema.commands["start"].params == ()
    assert schema.validate("set_seed", {"seed": 4.0}) == {"seed": 4}
    with pytest.raises(CommandValidationError, match="required parameter is missing"):
        schema.validate("set_seed", {})
    assert schema_from_capabilities(Capabilities(protocol_version="0.0.0", tracks=())) is None


def test_required_defaults_to_false() -> None:
    schema = parse_legacy_commands([CommandCapability(name="c", description="",
                                                      schema={"x": {"type": "number"}})])
    assert schema.commands["c"].params[0].required is False
    assert (schema.title, schema.version, schema.messages, schema.tracks) == ("", "", {}, ())


@pytest.mark.parametrize(
    ("commands", "field", "fragment"),
    [
        ([CommandCapability(name="a", description="", schema=None)] * 2,
         "commands[1].name", "duplicate command 'a'"),
        ([CommandCapability(name="a", description="", schema={"x": 1})],
         "commands[0].schema.x", "expected an object, got number 1"),
        ([CommandCapability(name="a", description="", schema={"x": {"required": 1}})],
         "commands[0].schema.x.required", "expected a boolean"),
        ([CommandCapability(name="a", description="", schema={"x": {"$ref": "#/a"}})],
         "commands[0].schema.x.$ref", "does not resolve"),
        ([CommandCapability(name="a", description="", schema={"x": {"maximum": "9"}})],
         "commands[0].schema.x.maximum", '"9"'),
    ],
)
def test_legacy_errors(commands: list[CommandCapability], field: str, fragment: str) -> None:
    with pytest.raises(DecodeError) as info:
        parse_legacy_commands(commands)
    assert info.value.field == field
    assert fragment in info.value.message


def test_non_mapping_schema_map() -> None:
    bad: Any = ["x"]
    with pytest.raises(DecodeError, match="expected an object, got array"):
        parse_legacy_commands([CommandCapability(name="a", description="", schema=bad)])


def test_lossy_conversion_of_rich_parameters() -> None:
    params = (
        ParamSpec(name="maybe", schema={"anyOf": [{"type": "integer", "minimum": 1},
                                                  {"type": "null"}], "default": None},
                  required=False),
        ParamSpec(name="multi", schema={"type": ["null", "string"], "maxLength": 3},
                  required=True, description="Multi"),
        ParamSpec(name="file", schema=UPLOAD_REFERENCE_SCHEMA, required=True, is_upload=True,
                  description="Image"),
        ParamSpec(name="union", schema={"oneOf": [{"type": "string"}, {"type": "integer"}]},
                  required=True),
        ParamSpec(name="typeless", schema={}, required=False),
    )
    schema = ModelSchema(title="t", version="v", description="", messages={}, tracks=(),
                         commands={"c": CommandSpec(name="c", description="C", params=params)})
    fragments = to_legacy_commands(schema)[0]["schema"]
    assert fragments == {
        "maybe": {"type": "integer", "minimum": 1, "default": None, "required": False},
        "multi": {"type": "string", "description": "Multi", "required": True},
        "file": {"type": "object", "description": "Image", "required": True},
        "union": {"required": True},
        "typeless": {"required": False},
    }
