"""Unit tests of the generator's pieces: annotations, notes, aliases, text helpers, variants
and the error paths a whole-schema test reaches only rarely."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.typegen import TypegenError, generate_sdk, load_schema
from reactor_proto.typegen.messages import find_variants
from reactor_proto.typegen.names import map_classes
from reactor_proto.typegen.text import all_block, docstring, escape_doc, import_block
from reactor_proto.typegen.types import Annotator, Context, notes, py_literal

from .support import UPLOAD, command, document


def annotate(schema: Any, context: Context | None = None) -> str:
    return Annotator(context or Context()).annotate(schema, owner="c", where="p", hint="CP")


@pytest.mark.parametrize(("schema", "expected"), [
    (True, "Any"), ({}, "Any"), ({"properties": {}}, "dict[str, Any]"),
    ({"items": {"type": "integer"}}, "list[int]"), ({"minimum": 1}, "Any"),
    ({"enum": [None]}, "None"), ({"enum": [{"a": 1}]}, "Any"),
    ({"type": "array", "enum": [[1]]}, "list[Any]"),
    ({"type": "object", "additionalProperties": {"type": "boolean"}}, "dict[str, bool]"),
    ({"type": ["string", "null"]}, "str | None"), ({"type": "weird"}, "Any"),
    ({"anyOf": [{}, {"type": "string"}]}, "Any"), (7, "Any"),
    ({"anyOf": [UPLOAD, {"type": "null"}]}, "Any"),
    ({"format": "reactor-upload-reference"}, "FileRef"),
    ({"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
     "list[list[float]]"),
])
def test_annotations(schema: Any, expected: str) -> None:
    assert annotate(schema) == expected


def test_long_literals_become_one_alias_per_distinct_member_list() -> None:
    context = Context(reserved={"CP"})
    members = [f"value_number_{i}" for i in range(8)]
    first = annotate({"enum": members}, context)
    again = annotate({"enum": members}, context)
    other = annotate({"enum": [*members, "x"]}, context)
    assert (first, again, other) == ("CP2", "CP2", "CP3")
    short = Context()
    short.alias("Short", ['"a"'])
    assert short.alias_source() == ['Short: TypeAlias = Literal["a"]']
    assert context.alias_source()[0] == "CP2: TypeAlias = Literal["


def test_notes_name_bounds_lengths_patterns_and_formats() -> None:
    assert notes({"minLength": 1, "maxItems": 3, "pattern": "^a", "format": "uuid",
                  "exclusiveMaximum": 2, "default": [1]}) == [
        "< 2", "at least 1 characters", "at most 3 items", "matches '^a'", "format uuid",
        "default [1]"]
    assert notes(True) == []


def test_literals_and_text_helpers() -> None:
    assert [py_literal(v) for v in (None, True, "a\"b", 3, 0.5)] == [
        "None", "True", '"a\\"b"', "3", "0.5"]
    with pytest.raises(TypeError):
        py_literal([1])
    assert escape_doc('x""') == 'x\\"\\"'
    assert docstring("", indent="") == ['"""No description."""']
    assert import_block([("typing", "A" * 60), ("typing", "B" * 60)])[0] == "from typing import ("
    assert import_block([("reactor_anyio", "Reactor")]) == ["from reactor_anyio import Reactor"]
    assert all_block([f"Name{i}" for i in range(20)])[0] == "__all__ = ["


def test_variant_detection_edge_cases() -> None:
    branch = {"type": "object", "properties": {"k": {"enum": ["a"]}, "v": {"type": "string"}}}
    assert find_variants({"oneOf": [branch]}) == ("k", [("a", branch)])
    assert find_variants({"oneOf": [{"type": "object", "properties": {"k": True}}]}) is None
    assert find_variants({"oneOf": [{"type": "object", "properties": {"k": {"enum": [1]}}}]}) \
        is None
    assert find_variants("x") is None
    assert find_variants({"oneOf": []}) is None


def test_class_name_errors_and_reserved_class_names() -> None:
    with pytest.raises(TypegenError, match="has no letters"):
        map_classes(["--"], kind="message", reserved=())
    with pytest.raises(TypegenError, match="both map to the class name"):
        map_classes(["a-b", "a_b"], kind="message", reserved=())
    assert map_classes(["toy"], kind="message", reserved={"ToyMessage"},
                       suffix="Message") == {"toy": "ToyMessage_"}


def test_error_culprits_in_bundles_and_descriptors() -> None:
    bad = document({"go": command({"x": {"$ref": "#/nowhere"}})})
    for wrapped in ({"openapi": bad}, {"schema": bad}):
        with pytest.raises(TypegenError) as info:
            load_schema(wrapped)
        assert info.value.command == "go"
    with pytest.raises(TypegenError) as info:
        load_schema({"openapi": "2.0", "info": {"title": "t", "version": "1"}})
    assert info.value.command is None


def test_non_finite_and_structured_defaults_are_not_used() -> None:
    from reactor_proto.schema import CommandSpec, ModelSchema, ParamSpec

    params = (ParamSpec(name="f", schema={"type": "number", "default": float("inf")},
                        required=False),
              ParamSpec(name="g", schema={"type": "object", "default": {"a": 1}},
                        required=False))
    schema = ModelSchema(title="t", version="v1", description="", messages={}, tracks=(),
                         commands={"go": CommandSpec(name="go", description="", params=params)})
    source = generate_sdk(schema, class_name="T")
    assert "f: float | None = None," in source
    assert "g: dict[str, Any] | None = None," in source


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["type", "enum", "const", "anyOf", "oneOf", "allOf", "items",
                         "properties", "required", "additionalProperties", "default",
                         "description", "format", "$ref", "not", "minimum", "x"]),
        inner, max_size=4),
    max_leaves=12)
KEYS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)


@given(commands=st.dictionaries(KEYS, st.dictionaries(KEYS, JSON, max_size=3), max_size=3),
       messages=st.dictionaries(KEYS, JSON, max_size=2))
def test_any_schema_generates_valid_python_or_fails_with_typegen_error(
        commands: dict[str, dict[str, Any]], messages: dict[str, Any]) -> None:
    """The fuzz oracle: accepted (and then the module compiles) or one documented error."""
    doc = document({name: command(params) for name, params in commands.items()},
                   webhooks=messages)
    try:
        source = generate_sdk(doc, class_name="Fuzzed")
    except TypegenError:
        return
    compile(source, "<fuzzed>", "exec")
    assert source.isascii()
