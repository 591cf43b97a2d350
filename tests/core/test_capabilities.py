"""Capabilities object (docs/protocol §7.1, §7.2): parse, serialise, round-trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.capabilities import (
    Capabilities,
    CommandCapability,
    TrackCapability,
    capabilities_to_json,
    parse_capabilities,
)
from reactor_proto.constants import MAX_SCHEMA_BYTES
from reactor_proto.errors import DecodeError
from reactor_proto.jsonfields import dumps, loads_bounded

HELIOS = json.loads((Path(__file__).parents[1] / "data" / "helios_schema.json").read_text())

# The populated legacy block of docs/protocol §7.4.
LEGACY_HELIOS: dict[str, Any] = {
    "protocol_version": "1.0.0",
    "tracks": [{"name": "main_video", "kind": "video", "direction": "recvonly"}],
    "commands": [
        {"name": "schedule_prompt", "description": "Schedule a prompt",
         "schema": {"prompt": {"type": "string", "required": True},
                    "chunk": {"type": "integer", "minimum": 0, "required": True}}},
        {"name": "set_image", "description": "Set a reference image",
         "schema": {"image_b64": {"type": "string", "required": True},
                    "transition": {"type": "string", "enum": ["cut", "blend"],
                                   "default": "cut", "required": False}}},
        {"name": "start", "description": "Start generation", "schema": {}},
    ],
    "emission_fps": 24,
}


def test_helios_tracks_only_block() -> None:
    caps = parse_capabilities(HELIOS["legacy"])
    assert caps == Capabilities(
        protocol_version="1.0.0",
        tracks=(TrackCapability(name="main_video", kind="video", direction="recvonly"),),
    )
    assert capabilities_to_json(caps) == HELIOS["legacy"]


def test_populated_legacy_block() -> None:
    caps = parse_capabilities(LEGACY_HELIOS)
    assert caps.emission_fps == 24.0
    assert [c.name for c in caps.commands] == ["schedule_prompt", "set_image", "start"]
    assert caps.commands[0].schema == LEGACY_HELIOS["commands"][0]["schema"]
    assert caps.commands[2].schema == {}
    assert capabilities_to_json(caps) == LEGACY_HELIOS


def test_whole_text_and_trailing_garbage() -> None:
    text = dumps(LEGACY_HELIOS)
    assert parse_capabilities(loads_bounded(text, what="capabilities",
                                            max_bytes=MAX_SCHEMA_BYTES)).commands
    with pytest.raises(DecodeError, match="not valid JSON"):
        loads_bounded(text + "}x", what="capabilities", max_bytes=MAX_SCHEMA_BYTES)
    with pytest.raises(DecodeError, match="not valid JSON"):
        loads_bounded(text[:-1], what="capabilities", max_bytes=MAX_SCHEMA_BYTES)


def test_unknown_fields_kept_in_extra_and_written_back() -> None:
    doc = {**HELIOS["legacy"], "future": {"x": 1},
           "tracks": [{"name": "a", "kind": "audio", "direction": "sendonly", "codec": "opus"}]}
    caps = parse_capabilities(doc)
    assert caps.extra == {"future": {"x": 1}}
    assert caps.tracks == (TrackCapability(name="a", kind="audio", direction="sendonly"),)
    assert capabilities_to_json(caps)["future"] == {"x": 1}


def test_optional_fields_absent_or_null() -> None:
    caps = parse_capabilities({"protocol_version": "v0", "tracks": [], "commands": None,
                               "emission_fps": None})
    assert caps.commands == ()
    assert caps.emission_fps is None
    cmd = parse_capabilities({"protocol_version": "v0", "tracks": [],
                              "commands": [{"name": "go"}]}).commands[0]
    assert cmd == CommandCapability(name="go", description="", schema=None)
    assert capabilities_to_json(Capabilities(protocol_version="v0", tracks=(),
                                             commands=(cmd,)))["commands"] == [
        {"name": "go", "description": ""}]


@pytest.mark.parametrize(
    ("doc", "field", "fragment"),
    [
        ([], "capabilities", "expected a JSON object"),
        ({"tracks": []}, "capabilities.protocol_version", "required field is missing"),
        ({"protocol_version": 1, "tracks": []}, "capabilities.protocol_version", "got number 1"),
        ({"protocol_version": "1"}, "capabilities.tracks", "required field is missing"),
        ({"protocol_version": "1", "tracks": [1]}, "capabilities.tracks[0]", "got number"),
        ({"protocol_version": "1", "tracks": [{"name": "v", "kind": "data",
                                                "direction": "recvonly"}]},
         "capabilities.tracks[0].kind", "'data'"),
        ({"protocol_version": "1", "tracks": [{"name": "v", "kind": "video",
                                                "direction": "in"}]},
         "capabilities.tracks[0].direction", "'in'"),
        ({"protocol_version": "1", "tracks": [{"name": "v", "kind": "video",
                                                "direction": "recvonly"}] * 2},
         "capabilities.tracks[1].name", "duplicate"),
        ({"protocol_version": "1", "tracks": [], "emission_fps": "30"},
         "capabilities.emission_fps", "'30'"),
        ({"protocol_version": "1", "tracks": [], "commands": {}},
         "capabilities.commands", "expected an array"),
        ({"protocol_version": "1", "tracks": [], "commands": [{"description": "x"}]},
         "capabilities.commands[0].name", "missing"),
        ({"protocol_version": "1", "tracks": [], "commands": [{"name": "a"}, {"name": "a"}]},
         "capabilities.commands[1].name", "duplicate"),
        ({"protocol_version": "1", "tracks": [], "commands": [{"name": "a", "schema": []}]},
         "capabilities.commands[0].schema", "expected an object"),
        ({"protocol_version": "1", "tracks": [],
          "commands": [{"name": "a", "schema": {"p": {"required": "yes"}}}]},
         "capabilities.commands[0].schema.p.required", '"yes"'),
        ({"protocol_version": "1", "tracks": [],
          "commands": [{"name": "a", "schema": {"p": {"type": "text"}}}]},
         "capabilities.commands[0].schema.p.type", "unknown type"),
    ],
)
def test_errors_name_field_and_value(doc: Any, field: str, fragment: str) -> None:
    with pytest.raises(DecodeError) as info:
        parse_capabilities(doc)
    assert info.value.field == field
    assert field in info.value.message
    assert fragment in info.value.message


def test_custom_path_prefix() -> None:
    with pytest.raises(DecodeError) as info:
        parse_capabilities({"tracks": []}, path="session.capabilities")
    assert info.value.field == "session.capabilities.protocol_version"


names = st.text(min_size=1, max_size=8)
json_scalars = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=5)
tracks_strategy = st.lists(
    st.builds(TrackCapability, name=names, kind=st.sampled_from(["video", "audio"]),
              direction=st.sampled_from(["recvonly", "sendonly"])),
    max_size=4, unique_by=lambda t: t.name,
).map(tuple)
legacy_fragment = st.fixed_dictionaries(
    {"type": st.sampled_from(["string", "integer", "number", "boolean"]),
     "required": st.booleans()},
    optional={"description": st.text(max_size=10), "minimum": st.integers(-5, 5),
              "maximum": st.integers(5, 10), "default": json_scalars},
)
commands_strategy = st.lists(
    st.builds(CommandCapability, name=names, description=st.text(max_size=10),
              schema=st.none() | st.dictionaries(names, legacy_fragment, max_size=3)),
    max_size=4, unique_by=lambda c: c.name,
).map(tuple)
capabilities_strategy = st.builds(
    Capabilities,
    protocol_version=st.text(max_size=8),
    tracks=tracks_strategy,
    commands=commands_strategy,
    emission_fps=st.none() | st.floats(0, 240),
    extra=st.dictionaries(st.text(max_size=6).filter(
        lambda k: k not in {"protocol_version", "tracks", "commands", "emission_fps"}),
        json_scalars, max_size=3),
)


@given(capabilities_strategy)
def test_round_trip(caps: Capabilities) -> None:
    wire = capabilities_to_json(caps)
    assert parse_capabilities(wire) == caps
    text = dumps(wire)
    assert parse_capabilities(loads_bounded(text, what="c", max_bytes=MAX_SCHEMA_BYTES)) == caps
