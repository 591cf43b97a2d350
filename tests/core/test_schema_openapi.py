"""OpenAPI 3.1 model documents (docs/protocol §7.3): parsing, $ref resolution, serialising."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from reactor_proto.capabilities import TrackCapability
from reactor_proto.constants import MAX_JSON_DEPTH, MAX_SCHEMA_BYTES
from reactor_proto.errors import DecodeError
from reactor_proto.jsonfields import dumps, loads_bounded
from reactor_proto.schema import (
    MAX_PATTERN_LENGTH,
    MAX_SCHEMA_NODES,
    UPLOAD_REFERENCE_REF,
    UPLOAD_REFERENCE_SCHEMA,
    CommandSpec,
    MessageSpec,
    ModelSchema,
    ParamSpec,
    parse_openapi,
    to_openapi,
)

HELIOS = json.loads((Path(__file__).parents[1] / "data" / "helios_schema.json").read_text())
HELIOS_DOC: dict[str, Any] = HELIOS["openapi"]


def doc_with(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(HELIOS_DOC)
    doc.update(changes)
    return doc


def command_doc(body_schema: Any, components: dict[str, Any] | None = None) -> dict[str, Any]:
    """A one-command document whose `cmd` request body schema is `body_schema`."""
    return {
        "openapi": "3.1.0", "info": {"title": "t", "version": "v1"},
        "paths": {"/events/cmd": {"post": {"requestBody": {"content": {
            "application/json": {"schema": body_schema}}}}}},
        "components": {"schemas": components or {}},
    }


def test_helios_document() -> None:
    schema = parse_openapi(HELIOS_DOC)
    assert (schema.title, schema.version, schema.description) == ("helios", "v1.0.0", "")
    assert schema.command_names() == ("set_prompt", "schedule_prompt", "set_image",
                                      "clear_image", "set_seed", "start", "pause", "resume",
                                      "reset")
    assert schema.tracks == (TrackCapability(name="main_video", kind="video",
                                             direction="recvonly"),)
    chunk = schema.commands["schedule_prompt"].param("chunk")
    assert chunk == ParamSpec(name="chunk", schema={"type": "integer", "minimum": 0},
                              required=True)
    transition = schema.commands["set_image"].param("transition")
    assert transition is not None
    assert not transition.required
    assert transition.schema["default"] == "cut"
    assert schema.commands["set_image"].param("nope") is None
    assert schema.commands["start"].params == ()
    assert schema.commands["schedule_prompt"].description == "Schedule a prompt at a chunk index"
    state = schema.messages["state"]
    assert state.description == "Generation state snapshot."
    assert state.schema["properties"]["current_prompt"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}]}


def test_helios_text_whole_and_with_trailing_garbage() -> None:
    text = json.dumps(HELIOS_DOC)
    parsed = parse_openapi(loads_bounded(text, what="schema", max_bytes=MAX_SCHEMA_BYTES))
    assert parsed == parse_openapi(HELIOS_DOC)
    for garbage in ("x", "{}", " ]"):
        with pytest.raises(DecodeError):
            loads_bounded(text + garbage, what="schema", max_bytes=MAX_SCHEMA_BYTES)


def test_helios_round_trip_through_to_openapi() -> None:
    schema = parse_openapi(HELIOS_DOC)
    doc = to_openapi(schema)
    assert parse_openapi(doc) == schema
    assert parse_openapi(json.loads(dumps(doc))) == schema
    # The shape of §7.3.
    post = doc["paths"]["/events/schedule_prompt"]["post"]
    assert post["operationId"] == "schedule_prompt"
    assert post["summary"] == "Schedule a prompt at a chunk index"
    assert post["responses"] == {"202": {"description": "Event accepted"}}
    assert post["requestBody"]["content"]["application/json"]["schema"] == (
        HELIOS_DOC["paths"]["/events/schedule_prompt"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"])
    assert doc["x-reactor"] == HELIOS_DOC["x-reactor"]
    assert doc["components"] == HELIOS_DOC["components"]
    assert doc["webhooks"]["state"]["post"]["requestBody"] == (
        HELIOS_DOC["webhooks"]["state"]["post"]["requestBody"])
    assert doc["openapi"] == "3.1.0"


def test_local_descriptor_schema_field_is_accepted() -> None:
    descriptor = {"session_id": "local", "capabilities": HELIOS["legacy"], "schema": HELIOS_DOC}
    assert parse_openapi(descriptor) == parse_openapi(HELIOS_DOC)
    with pytest.raises(DecodeError) as info:
        parse_openapi({"schema": {"info": {}}})
    assert info.value.field == "schema.openapi"


def test_r3_variant_with_refs_and_200_responses() -> None:
    state_schema = HELIOS_DOC["webhooks"]["state"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    doc = doc_with(
        webhooks={"state": {"post": {"description": "State.", "requestBody": {"content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/State"}}}}}}},
        components={"schemas": {"State": state_schema,
                                "ReactorUploadReference": UPLOAD_REFERENCE_SCHEMA}},
    )
    doc["paths"]["/events/start"]["post"]["responses"] = {
        "200": {"content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/State"}}}}}
    schema = parse_openapi(doc)
    assert schema.messages["state"] == MessageSpec(name="state", description="State.",
                                                   schema=state_schema)


def test_upload_parameter_is_resolved_and_flagged() -> None:
    doc = command_doc(
        {"type": "object", "properties": {
            "image": {"$ref": UPLOAD_REFERENCE_REF},
            "mask": {"anyOf": [{"$ref": UPLOAD_REFERENCE_REF}, {"type": "null"}],
                     "default": None},
            "note": {"$ref": UPLOAD_REFERENCE_REF, "description": "a note"}},
         "required": ["image"]},
        {"ReactorUploadReference": UPLOAD_REFERENCE_SCHEMA})
    spec = parse_openapi(doc).commands["cmd"]
    image, mask, note = spec.params
    assert image.is_upload
    assert image.required
    assert image.schema == UPLOAD_REFERENCE_SCHEMA
    assert mask.is_upload
    assert not mask.required
    assert mask.schema["anyOf"][0] == UPLOAD_REFERENCE_SCHEMA
    assert note.schema == {**UPLOAD_REFERENCE_SCHEMA, "description": "a note"}
    assert note.description == "a note"
    written = to_openapi(parse_openapi(doc))
    props = written["paths"]["/events/cmd"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["properties"]
    assert props["image"] == {"$ref": UPLOAD_REFERENCE_REF}
    assert props["mask"]["anyOf"][0] == {"$ref": UPLOAD_REFERENCE_REF}
    assert props["note"] == {"$ref": UPLOAD_REFERENCE_REF, "description": "a note"}
    assert parse_openapi(written) == parse_openapi(doc)


def test_upload_schema_missing_component_keys_is_written_inline() -> None:
    partial = {"type": "object", "format": "reactor-upload-reference"}
    schema = ModelSchema(title="t", version="v", description="", messages={}, tracks=(),
                         commands={"c": CommandSpec(name="c", description="", params=(
                             ParamSpec(name="f", schema=partial, required=True,
                                       is_upload=True),))})
    doc = to_openapi(schema)
    assert doc["paths"]["/events/c"]["post"]["requestBody"]["content"]["application/json"][
        "schema"]["properties"]["f"] == partial
    assert parse_openapi(doc) == schema


def test_description_added_when_only_on_the_param() -> None:
    schema = ModelSchema(title="t", version="v", description="d", messages={}, tracks=(),
                         commands={"c": CommandSpec(name="c", description="", params=(
                             ParamSpec(name="f", schema=UPLOAD_REFERENCE_SCHEMA, required=True,
                                       description="the file", is_upload=True),))})
    back = parse_openapi(to_openapi(schema)).commands["c"].params[0]
    assert back.description == "the file"
    assert back.schema == {**UPLOAD_REFERENCE_SCHEMA, "description": "the file"}


def test_commands_named_by_path_when_no_operation_id_and_other_paths_ignored() -> None:
    doc = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {
        "/events/go": {"post": {"description": "Go!"}},
        "/events/get_only": {"get": {}},
        "/health": {"get": {}},
        "/events/via_ref": {"$ref": "#/x-items/shared"},
        "/events/other": {"post": {"operationId": "renamed", "requestBody": {"content": {
            "text/plain": {"schema": {"type": "string"}}}}}},
        "/events/no_schema": {"post": {"requestBody": {"content": {"application/json": {}}}}},
    }, "x-items": {"shared": {"post": {"summary": "shared", "requestBody": {
        "$ref": "#/x-bodies/b"}}}},
        "x-bodies": {"b": {"content": {"application/json": {"schema": {
            "properties": {"n": {"type": "integer"}}}}}}}}
    schema = parse_openapi(doc)
    assert schema.command_names() == ("go", "via_ref", "renamed", "no_schema")
    assert schema.commands["go"].description == "Go!"
    assert schema.commands["via_ref"].params[0].name == "n"
    assert schema.commands["renamed"].params == ()
    assert schema.messages == {}
    assert schema.tracks == ()
    assert schema.description == ""


def test_webhook_without_post_or_body() -> None:
    doc = doc_with(webhooks={"a": {"get": {}}, "b": {"post": {"summary": "B"}}})
    assert parse_openapi(doc).messages == {"b": MessageSpec(name="b", description="B",
                                                            schema={})}


def test_track_directions_model_to_client() -> None:
    tracks = [{"name": "cam", "kind": "video", "direction": "in"},
              {"name": "out", "kind": "video", "direction": "out"},
              {"name": "mic", "kind": "audio", "direction": "in"}]
    schema = parse_openapi(doc_with(**{"x-reactor": {"tracks": tracks}}))
    assert [(t.name, t.direction) for t in schema.tracks] == [
        ("cam", "sendonly"), ("out", "recvonly"), ("mic", "sendonly")]
    assert to_openapi(schema)["x-reactor"]["tracks"] == tracks
    assert parse_openapi(doc_with(**{"x-reactor": {}})).tracks == ()


def test_json_pointer_escapes() -> None:
    doc = command_doc({"properties": {"a": {"$ref": "#/components/schemas/a~1b~0c"},
                                      "b": {"$ref": "#/components/schemas/list/1"}}},
                      {"a/b~c": {"type": "string"}, "list": [{}, {"type": "boolean"}]})
    params = parse_openapi(doc).commands["cmd"].params
    assert [p.schema for p in params] == [{"type": "string"}, {"type": "boolean"}]


def test_ref_siblings_merge_and_chains() -> None:
    doc = command_doc({"properties": {"n": {"$ref": "#/components/schemas/A", "maximum": 9}}},
                      {"A": {"$ref": "#/components/schemas/B", "minimum": 1},
                       "B": {"type": "integer", "maximum": 100}})
    param = parse_openapi(doc).commands["cmd"].params[0]
    assert param.schema == {"type": "integer", "maximum": 9, "minimum": 1}


def test_boolean_schemas() -> None:
    doc = command_doc({"properties": {"any": True, "never": False,
                                      "ref_false": {"$ref": "#/components/schemas/F",
                                                    "description": "x"},
                                      "ref_true": {"$ref": "#/components/schemas/T",
                                                   "description": "y"}}},
                      {"F": False, "T": True})
    params = {p.name: p.schema for p in parse_openapi(doc).commands["cmd"].params}
    assert params == {"any": {}, "never": {"not": {}}, "ref_false": {"not": {}},
                      "ref_true": {"description": "y"}}


def test_cyclic_ref_is_a_decode_error_not_recursion() -> None:
    doc = command_doc({"properties": {"n": {"$ref": "#/components/schemas/A"}}},
                      {"A": {"type": "object", "properties": {
                          "next": {"$ref": "#/components/schemas/B"}}},
                       "B": {"anyOf": [{"$ref": "#/components/schemas/A"}]}})
    with pytest.raises(DecodeError, match="cyclic") as info:
        parse_openapi(doc)
    assert info.value.value == "#/components/schemas/A"
    self_ref = command_doc({"properties": {"n": {"$ref": "#/components/schemas/S"}}},
                           {"S": {"$ref": "#/components/schemas/S"}})
    with pytest.raises(DecodeError, match="cyclic"):
        parse_openapi(self_ref)


def test_cyclic_path_item_ref() -> None:
    doc = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
           "paths": {"/events/a": {"$ref": "#/x/a"}}, "x": {"a": {"$ref": "#/x/a"}}}
    with pytest.raises(DecodeError, match="cyclic"):
        parse_openapi(doc)


def test_deep_nesting_is_bounded() -> None:
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_JSON_DEPTH + 1):
        deep = {"type": "array", "items": deep}
    with pytest.raises(DecodeError, match="deeper than"):
        parse_openapi(command_doc({"properties": {"d": deep}}))
    # Depth through references counts too.
    chain = {f"S{i}": {"type": "array", "items": {"$ref": f"#/components/schemas/S{i + 1}"}}
             for i in range(MAX_JSON_DEPTH + 1)}
    chain[f"S{MAX_JSON_DEPTH + 1}"] = {"type": "string"}
    with pytest.raises(DecodeError, match="deeper than"):
        parse_openapi(command_doc({"properties": {"d": {"$ref": "#/components/schemas/S0"}}},
                                  chain))


def test_exponential_ref_fan_out_is_bounded() -> None:
    layers: dict[str, Any] = {f"L{i}": {"anyOf": [{"$ref": f"#/components/schemas/L{i + 1}"}] * 4}
              for i in range(20)}
    layers["L20"] = {"type": "string"}
    with pytest.raises(DecodeError, match=str(MAX_SCHEMA_NODES)):
        parse_openapi(command_doc({"properties": {"x": {"$ref": "#/components/schemas/L0"}}},
                                  layers))


@pytest.mark.parametrize(
    ("doc", "field", "fragment"),
    [
        ([], "openapi", "expected a JSON object"),
        ({"info": {"title": "t", "version": "1"}}, "openapi.openapi", "missing"),
        ({"openapi": 3.1, "info": {}}, "openapi.openapi", "got number"),
        ({"openapi": "2.0", "info": {}}, "openapi.openapi", "unsupported OpenAPI version"),
        ({"openapi": "3.1.0"}, "openapi.info", "missing"),
        ({"openapi": "3.1.0", "info": {"version": "1"}}, "openapi.info.title", "missing"),
        ({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": []},
         "openapi.paths", "expected an object"),
        ({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
          "paths": {"/events/a": 5}}, "openapi.paths./events/a", "got number 5"),
        ({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
          "paths": {"/events/a": {"post": []}}}, "openapi.paths./events/a.post", "got array"),
        ({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
          "paths": {"/events/": {"post": {}}}}, "openapi.paths./events/.post", "no name"),
        ({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
          "paths": {"/events/a": {"post": {"operationId": "b"}}, "/events/b": {"post": {}}}},
         "openapi.paths./events/b.post", "duplicate command 'b'"),
        ({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
          "paths": {"/events/a": {"$ref": 7}}}, "openapi.paths./events/a.$ref", "got number"),
        ({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
          "webhooks": {"m": {"post": {"requestBody": {"content": 3}}}}},
         "openapi.webhooks.m.post.requestBody.content", "expected an object"),
        ({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
          "x-reactor": {"tracks": [{"name": "v", "kind": "video", "direction": "recvonly"}]}},
         "openapi.x-reactor.tracks[0].direction", "'recvonly'"),
        ({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
          "x-reactor": {"tracks": [{"name": "v", "kind": "text", "direction": "out"}]}},
         "openapi.x-reactor.tracks[0].kind", "'text'"),
    ],
)
def test_document_errors(doc: Any, field: str, fragment: str) -> None:
    with pytest.raises(DecodeError) as info:
        parse_openapi(doc)
    assert info.value.field == field
    assert fragment in info.value.message


BODY = "openapi.paths./events/cmd.post.requestBody.content.application/json.schema"


@pytest.mark.parametrize(
    ("body", "components", "field", "fragment"),
    [
        ({"type": "array"}, {}, f"{BODY}.type", "must be an object"),
        ({"properties": {}, "required": ["x"]}, {}, f"{BODY}.required[0]", "'x'"),
        ({"required": "x"}, {}, f"{BODY}.required", "array of property names"),
        ([], {}, BODY, "expected a schema"),
        ({"properties": []}, {}, f"{BODY}.properties", "expected an object of schemas"),
        ({"properties": {"a": 1}}, {}, f"{BODY}.properties.a", "got number 1"),
        ({"properties": {"a": {"anyOf": []}}}, {}, f"{BODY}.properties.a.anyOf", "non-empty"),
        ({"properties": {"a": {"type": "text"}}}, {}, f"{BODY}.properties.a.type", '"text"'),
        ({"properties": {"a": {"type": []}}}, {}, f"{BODY}.properties.a.type", "non-empty"),
        ({"properties": {"a": {"type": ["string", 1]}}}, {}, f"{BODY}.properties.a.type", "1"),
        ({"properties": {"a": {"enum": "x"}}}, {}, f"{BODY}.properties.a.enum", "array"),
        ({"properties": {"a": {"minimum": "0"}}}, {}, f"{BODY}.properties.a.minimum", '"0"'),
        ({"properties": {"a": {"maximum": True}}}, {}, f"{BODY}.properties.a.maximum", "true"),
        ({"properties": {"a": {"minLength": -1}}}, {}, f"{BODY}.properties.a.minLength", "-1"),
        ({"properties": {"a": {"maxItems": 1.5}}}, {}, f"{BODY}.properties.a.maxItems", "1.5"),
        ({"properties": {"a": {"pattern": 5}}}, {}, f"{BODY}.properties.a.pattern", "5"),
        ({"properties": {"a": {"pattern": "("}}}, {}, f"{BODY}.properties.a.pattern",
         "does not compile"),
        ({"properties": {"a": {"pattern": "a" * (MAX_PATTERN_LENGTH + 1)}}}, {},
         f"{BODY}.properties.a.pattern", "exceeds the limit"),
        ({"properties": {"a": {"$ref": 1}}}, {}, f"{BODY}.properties.a.$ref", "got number"),
        ({"properties": {"a": {"$ref": "other.json#/x"}}}, {}, f"{BODY}.properties.a.$ref",
         "non-local"),
        ({"properties": {"a": {"$ref": "#components"}}}, {}, f"{BODY}.properties.a.$ref",
         "not a JSON pointer"),
        ({"properties": {"a": {"$ref": "#/components/schemas/Nope"}}}, {},
         f"{BODY}.properties.a.$ref", "does not resolve"),
        ({"properties": {"a": {"$ref": "#/components/schemas/L/5"}}}, {"L": [1]},
         f"{BODY}.properties.a.$ref", "does not resolve"),
        ({"properties": {"a": {"$ref": "#/components/schemas/A"}}}, {"A": {"minimum": "x"}},
         "components.schemas.A.minimum", '"x"'),
    ],
)
def test_schema_fragment_errors(body: Any, components: dict[str, Any], field: str,
                                fragment: str) -> None:
    with pytest.raises(DecodeError) as info:
        parse_openapi(command_doc(body, components))
    assert info.value.field == field
    assert fragment in info.value.message


def test_whole_document_ref_and_unknown_keywords_kept() -> None:
    doc = command_doc({"properties": {
        "a": {"type": "integer", "multipleOf": 2, "x-reactor-moderate": False,
              "examples": [{"$ref": "not-resolved"}]},
        "b": {"prefixItems": [{"$ref": "#/components/schemas/S"}]}}},
        {"S": {"type": "string"}})
    params = parse_openapi(doc).commands["cmd"].params
    assert params[0].schema == {"type": "integer", "multipleOf": 2,
                                "x-reactor-moderate": False,
                                "examples": [{"$ref": "not-resolved"}]}
    assert params[1].schema == {"prefixItems": [{"type": "string"}]}
