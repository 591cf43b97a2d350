"""Round-trip properties: OpenAPI and legacy forms of generated model schemas."""

from __future__ import annotations

from typing import Any

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
from reactor_proto.jsonfields import dumps, loads_bounded
from reactor_proto.schema import (
    UPLOAD_REFERENCE_SCHEMA,
    CommandSpec,
    MessageSpec,
    ModelSchema,
    ParamSpec,
    is_upload_schema,
    parse_legacy_commands,
    parse_openapi,
    schema_from_capabilities,
    to_legacy_commands,
    to_openapi,
)

names = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True)
texts = st.text(max_size=12)
scalars = st.none() | st.booleans() | st.integers(-100, 100) | st.text(max_size=4)

leaf_schemas = st.fixed_dictionaries(
    {"type": st.sampled_from(["string", "integer", "number", "boolean", "null"])},
    optional={"description": texts, "minimum": st.integers(-10, 0),
              "maximum": st.integers(0, 10), "enum": st.lists(scalars, min_size=1, max_size=3),
              "default": scalars, "pattern": st.sampled_from(["^a", "b+", "[0-9]{2}"]),
              "minLength": st.integers(0, 3), "x-reactor-moderate": st.booleans()},
)
upload_schemas = st.sampled_from([UPLOAD_REFERENCE_SCHEMA]) | texts.map(
    lambda d: {**UPLOAD_REFERENCE_SCHEMA, "description": d})


def _compound(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    arrays = st.builds(lambda items, n: {"type": "array", "items": items, "maxItems": n},
                       inner, st.integers(0, 5))
    objects = st.dictionaries(names, inner, max_size=3).flatmap(
        lambda props: st.builds(
            lambda required, closed: {"type": "object", "properties": props,
                                      "required": required, "additionalProperties": not closed},
            st.lists(st.sampled_from(sorted(props)), unique=True) if props else st.just([]),
            st.booleans()))
    optional = inner.map(lambda s: {"anyOf": [s, {"type": "null"}]})
    return arrays | objects | optional


schemas = st.recursive(leaf_schemas | upload_schemas, _compound, max_leaves=6)


def make_param(name: str, schema: dict[str, Any], required: bool) -> ParamSpec:
    description = schema.get("description", "")
    return ParamSpec(name=name, schema=schema, required=required, description=description,
                     is_upload=is_upload_schema(schema))


params = st.dictionaries(names, st.tuples(schemas, st.booleans()), max_size=4).map(
    lambda d: tuple(make_param(n, s, r) for n, (s, r) in d.items()))
commands = st.dictionaries(names, st.tuples(texts, params), max_size=4).map(
    lambda d: {n: CommandSpec(name=n, description=desc, params=p) for n, (desc, p) in d.items()})
messages = st.dictionaries(names, st.tuples(texts, schemas), max_size=3).map(
    lambda d: {n: MessageSpec(name=n, description=desc, schema=s) for n, (desc, s) in d.items()})
tracks = st.lists(
    st.builds(TrackCapability, name=names, kind=st.sampled_from(["video", "audio"]),
              direction=st.sampled_from(["recvonly", "sendonly"])),
    max_size=3, unique_by=lambda t: t.name).map(tuple)
model_schemas = st.builds(ModelSchema, title=texts, version=texts, description=texts,
                          commands=commands, messages=messages, tracks=tracks)


@given(model_schemas)
def test_openapi_round_trip(schema: ModelSchema) -> None:
    doc = to_openapi(schema)
    assert parse_openapi(doc) == schema
    text = dumps(doc)
    assert parse_openapi(loads_bounded(text, what="schema", max_bytes=MAX_SCHEMA_BYTES)) == schema


@given(model_schemas)
def test_generated_documents_are_self_validating(schema: ModelSchema) -> None:
    # Every command accepts its own minimal valid example: no arguments when none required.
    parsed = parse_openapi(to_openapi(schema))
    for name, spec in parsed.commands.items():
        if not any(param.required for param in spec.params):
            assert parsed.validate(name, {}) == {}


legacy_leaf = st.fixed_dictionaries(
    {"type": st.sampled_from(["string", "integer", "number", "boolean"])},
    optional={"description": texts.filter(bool), "minimum": st.integers(-10, 0),
              "maximum": st.integers(0, 10), "enum": st.lists(scalars, min_size=1, max_size=3),
              "default": scalars},
)
legacy_params = st.dictionaries(names, st.tuples(legacy_leaf, st.booleans()), max_size=4).map(
    lambda d: tuple(make_param(n, s, r) for n, (s, r) in d.items()))
legacy_commands = st.dictionaries(names, st.tuples(texts, legacy_params), max_size=4).map(
    lambda d: {n: CommandSpec(name=n, description=desc, params=p) for n, (desc, p) in d.items()})


@given(legacy_commands, tracks)
def test_legacy_round_trip_preserves_what_it_can_express(
        specs: dict[str, CommandSpec], track_list: tuple[TrackCapability, ...]) -> None:
    schema = ModelSchema(title="", version="", description="", commands=specs, messages={},
                         tracks=track_list)
    wire = to_legacy_commands(schema)
    capabilities = tuple(CommandCapability(**item) for item in wire)
    assert parse_legacy_commands(capabilities, tracks=track_list) == schema
    caps = Capabilities(protocol_version="1.0.0", tracks=track_list, commands=capabilities)
    reparsed = parse_capabilities(capabilities_to_json(caps))
    assert reparsed == caps
    assert schema_from_capabilities(reparsed) == (schema if specs else None)


@given(model_schemas)
def test_legacy_form_of_any_schema_parses(schema: ModelSchema) -> None:
    # Lossy for rich schemas, but always well-formed and keeps names and required flags.
    legacy = parse_legacy_commands(
        [CommandCapability(**item) for item in to_legacy_commands(schema)])
    assert legacy.command_names() == schema.command_names()
    for name, spec in schema.commands.items():
        assert [(p.name, p.required) for p in legacy.commands[name].params] == [
            (p.name, p.required) for p in spec.params]
