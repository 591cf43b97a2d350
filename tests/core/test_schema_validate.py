"""Command validation (docs/protocol §6.2, F24): every keyword, every error path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.errors import CommandValidationError, ErrorCode
from reactor_proto.schema import (
    UPLOAD_REFERENCE_REF,
    UPLOAD_REFERENCE_SCHEMA,
    ModelSchema,
    is_upload_schema,
    parse_openapi,
    validate_value,
)
from reactor_proto.schema.validate import json_equal, kind_of

HELIOS = parse_openapi(json.loads(
    (Path(__file__).parents[1] / "data" / "helios_schema.json").read_text())["openapi"])


def one_param(schema: Any, *, required: bool = True) -> ModelSchema:
    doc = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
           "paths": {"/events/cmd": {"post": {"requestBody": {"content": {"application/json": {
               "schema": {"type": "object", "properties": {"p": schema},
                          "required": ["p"] if required else []}}}}}}},
           "components": {"schemas": {"ReactorUploadReference": UPLOAD_REFERENCE_SCHEMA}}}
    return parse_openapi(doc)


def rejects(schema: Any, value: Any) -> CommandValidationError:
    with pytest.raises(CommandValidationError) as info:
        one_param(schema).validate("cmd", {"p": value})
    assert info.value.code == ErrorCode.INVALID_COMMAND
    assert info.value.command == "cmd"
    return info.value


def accepts(schema: Any, value: Any) -> Any:
    return one_param(schema).validate("cmd", {"p": value})["p"]


def test_helios_commands() -> None:
    assert HELIOS.validate("set_seed", {"seed": 42}) == {"seed": 42}
    assert HELIOS.validate("start", {}) == {}
    assert HELIOS.validate("set_image", {"image_b64": "AAAA"}) == {"image_b64": "AAAA"}
    result = HELIOS.validate("schedule_prompt", {"prompt": "p", "chunk": 10.0})
    assert result == {"prompt": "p", "chunk": 10}
    assert type(result["chunk"]) is int


def test_unknown_command() -> None:
    with pytest.raises(CommandValidationError) as info:
        HELIOS.validate("explode", {})
    assert info.value.parameter is None
    assert info.value.reason.startswith("unknown command; known: set_prompt, schedule_prompt")
    empty = ModelSchema(title="", version="", description="", commands={}, messages={},
                        tracks=())
    with pytest.raises(CommandValidationError, match="known: none"):
        empty.validate("x", {})


@pytest.mark.parametrize("data", [[], "x", None, 3])
def test_arguments_must_be_an_object(data: Any) -> None:
    with pytest.raises(CommandValidationError, match="must be a JSON object") as info:
        HELIOS.validate("start", data)
    assert info.value.parameter is None


def test_required_undeclared_and_non_string_keys() -> None:
    with pytest.raises(CommandValidationError) as info:
        HELIOS.validate("schedule_prompt", {"prompt": "p"})
    assert (info.value.parameter, info.value.reason) == ("chunk", "required parameter is missing")
    with pytest.raises(CommandValidationError) as info:
        HELIOS.validate("set_seed", {"seed": 1, "extra": 2})
    assert info.value.parameter == "extra"
    assert "undeclared parameter" in info.value.reason
    assert "declared: seed" in info.value.reason
    bad_keys: dict[Any, Any] = {1: 2}
    with pytest.raises(CommandValidationError, match="must be strings"):
        HELIOS.validate("start", bad_keys)


@pytest.mark.parametrize(
    ("type_", "good", "bad"),
    [
        ("string", ["", "x"], [1, None, True, [], {}]),
        ("integer", [0, -5, 3.0, 10**30], [1.5, True, "1", None, float("inf")]),
        ("number", [0, 1.5, -2], [True, "1", None, float("nan"), float("inf")]),
        ("boolean", [True, False], [0, 1, "true", None]),
        ("array", [[], [1, "a"], (1, 2)], [{}, "[]", None]),
        ("object", [{}, {"a": 1}], [[], "{}", None]),
        ("null", [None], [0, "", False, []]),
    ],
)
def test_each_type(type_: str, good: list[Any], bad: list[Any]) -> None:
    for value in good:
        accepts({"type": type_}, value)
    for value in bad:
        error = rejects({"type": type_}, value)
        assert error.parameter == "p"
        assert ("is not of type" in error.reason) or ("not a finite number" in error.reason)


def test_type_messages_name_value_and_types() -> None:
    assert rejects({"type": "integer"}, "x").reason == '"x" is not of type integer'
    assert rejects({"type": ["integer", "null"]}, True).reason == (
        "true is not of type integer or null")
    assert accepts({"type": ["integer", "null"]}, None) is None
    assert accepts({"type": ["integer", "string"]}, 2.0) == 2
    assert type(accepts({"type": "number"}, 2.0)) is float
    assert accepts({"type": "array"}, (1, 2)) == [1, 2]


def test_non_json_python_value() -> None:
    assert "is not of type string" in rejects({"type": "string"}, object()).reason
    assert kind_of(b"x") == "bytes"


def test_enum_and_const() -> None:
    assert accepts({"enum": ["cut", "blend", 1, None]}, "blend") == "blend"
    assert accepts({"enum": [1]}, 1.0) == 1.0
    assert rejects({"enum": ["cut", "blend"]}, "fade").reason == (
        '"fade" is not one of ["cut", "blend"]')
    assert "is not one of" in rejects({"enum": [1]}, True).reason
    assert "is not one of" in rejects({"enum": [True]}, 1).reason
    assert accepts({"enum": [[1, {"a": 2}]]}, [1, {"a": 2}]) == [1, {"a": 2}]
    assert "is not one of" in rejects({"enum": [[1, 2]]}, [1, 3]).reason
    assert "is not one of" in rejects({"enum": [{"a": 1}]}, {"a": 1, "b": 2}).reason
    assert "is not one of" in rejects({"enum": [[1]]}, {"0": 1}).reason
    assert "is not one of" in rejects({"enum": ["1"]}, 1).reason
    assert accepts({"const": "x"}, "x") == "x"
    assert rejects({"const": "x"}, "y").reason == '"y" is not the constant "x"'


def test_json_equal() -> None:
    assert json_equal(1, 1.0)
    assert not json_equal(True, 1)
    assert not json_equal(0, False)
    assert json_equal(False, False)
    assert json_equal((1, 2), [1, 2])
    assert not json_equal([1], 1)
    assert not json_equal("a", 1)
    assert json_equal(None, None)


def test_numeric_bounds() -> None:
    assert rejects({"type": "integer", "minimum": 0}, -1).reason == (
        "-1 is less than the minimum 0")
    assert accepts({"minimum": 0}, 0) == 0
    assert rejects({"maximum": 4}, 5).reason == "5 is greater than the maximum 4"
    assert accepts({"maximum": 4}, 4) == 4
    assert rejects({"exclusiveMinimum": 0}, 0).reason == (
        "0 is not greater than the exclusive minimum 0")
    assert accepts({"exclusiveMinimum": 0}, 0.5) == 0.5
    assert rejects({"exclusiveMaximum": 1}, 1).reason == (
        "1 is not less than the exclusive maximum 1")
    assert accepts({"exclusiveMaximum": 1}, 0) == 0
    # Bounds do not apply to other types.
    assert accepts({"minimum": 5}, "abc") == "abc"


def test_string_keywords() -> None:
    assert rejects({"minLength": 3}, "ab").reason == '"ab" is shorter than 3 characters'
    assert rejects({"maxLength": 2}, "abc").reason == '"abc" is longer than 2 characters'
    assert accepts({"minLength": 1, "maxLength": 1}, "é") == "é"
    assert accepts({"pattern": "b+"}, "abbc") == "abbc"  # unanchored
    assert rejects({"pattern": "^a"}, "ba").reason == '"ba" does not match the pattern "^a"'
    long_value = rejects({"maxLength": 1}, "x" * 500).reason
    assert "..." in long_value
    assert len(long_value) < 120


def test_array_keywords_and_nested_paths() -> None:
    schema = {"type": "array", "items": {"type": "integer", "minimum": 0},
              "minItems": 1, "maxItems": 3}
    assert accepts(schema, [1, 2.0]) == [1, 2]
    assert rejects(schema, []).reason == "[] has fewer than 1 items"
    assert rejects(schema, [1, 2, 3, 4]).reason == "[1, 2, 3, 4] has more than 3 items"
    error = rejects(schema, [1, 2, -1])
    assert error.parameter == "p[2]"
    assert error.reason == "-1 is less than the minimum 0"
    assert str(error).startswith("[local:INVALID_COMMAND] invalid command cmd.p[2]: -1")


def test_object_keywords_and_nested_paths() -> None:
    schema = {"type": "object",
              "properties": {"size": {"type": "array", "items": {"type": "integer"}},
                             "name": {"type": "string"}},
              "required": ["size"], "additionalProperties": False}
    assert accepts(schema, {"size": [1.0, 2]}) == {"size": [1, 2]}
    error = rejects(schema, {"size": [1, 2, "x"]})
    assert error.parameter == "p.size[2]"
    error = rejects(schema, {"name": "a"})
    assert (error.parameter, error.reason) == ("p.size", "required property is missing")
    error = rejects(schema, {"size": [], "other": 1})
    assert error.parameter == "p.other"
    assert "undeclared property" in error.reason
    assert "object keys must be strings" in rejects(schema, {1: 2}).reason
    mapping = {"type": "object", "additionalProperties": {"type": "string"}}
    assert accepts(mapping, {"0": "a"}) == {"0": "a"}
    assert rejects(mapping, {"0": 1}).parameter == "p.0"
    assert accepts({"type": "object"}, {"k": 1.0}) == {"k": 1.0}
    closed = {"type": "object", "additionalProperties": False}
    assert "declared: none" in rejects(closed, {"k": 1}).reason


def test_any_of_one_of_all_of_not() -> None:
    optional = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert accepts(optional, None) is None
    assert accepts(optional, 3.0) == 3
    error = rejects(optional, "x")
    assert error.reason.startswith('"x" matches none of the anyOf alternatives')
    assert "is not of type integer" in error.reason
    one = {"oneOf": [{"type": "string"}, {"type": "object", "properties": {
        "a": {"type": "integer"}}}]}
    assert "p.a: " in rejects(one, {"a": "x"}).reason
    assert accepts(one, "s") == "s"
    both = {"allOf": [{"type": "integer"}, {"minimum": 2}]}
    assert accepts(both, 2.0) == 2
    assert "minimum" in rejects(both, 1).reason
    assert rejects({"not": {"type": "string"}}, "x").reason == (
        '"x" matches a schema it must not match')
    assert accepts({"not": {"type": "string"}}, 1) == 1
    assert "the schema is false" in rejects({"items": False}, [1]).reason
    assert accepts({"items": True}, [1]) == [1]


def test_boolean_param_schemas() -> None:
    assert accepts(True, {"x": [1]}) == {"x": [1]}
    assert "must not match" in rejects(False, 1).reason


def test_upload_parameter_accepts_a_file_reference() -> None:
    schema = one_param({"$ref": UPLOAD_REFERENCE_REF})
    assert schema.commands["cmd"].params[0].is_upload
    ref = {"upload_id": "3f0c", "name": "a.jpg", "mime_type": "image/jpeg", "size": 10}
    assert schema.validate("cmd", {"p": ref}) == {"p": ref}
    with pytest.raises(CommandValidationError) as info:
        schema.validate("cmd", {"p": {**ref, "size": "10"}})
    assert info.value.parameter == "p.size"
    with pytest.raises(CommandValidationError) as info:
        schema.validate("cmd", {"p": {"name": "a"}})
    assert info.value.parameter == "p.upload_id"
    with pytest.raises(CommandValidationError, match="is not of type object"):
        schema.validate("cmd", {"p": "3f0c"})


def test_defaults_are_not_injected() -> None:
    assert HELIOS.validate("set_image", {"image_b64": "x"}) == {"image_b64": "x"}
    assert "transition" not in one_param({"default": 1}, required=False).validate("cmd", {})


def test_validate_value_directly() -> None:
    assert validate_value(True, (1, 2), command="c", path="x") == [1, 2]
    assert is_upload_schema({"anyOf": [True, UPLOAD_REFERENCE_SCHEMA]})
    assert not is_upload_schema(True)
    assert validate_value({"type": "integer"}, 4.0, command="c", path="x") == 4
    with pytest.raises(CommandValidationError) as info:
        validate_value({"type": "integer"}, "4", command="c", path="")
    assert info.value.parameter is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=3),
    max_leaves=10,
)


@given(json_values)
def test_permissive_schema_accepts_every_json_value(value: Any) -> None:
    assert json_equal(accepts({}, value), value)


@given(json_values)
def test_validation_never_raises_anything_else(value: Any) -> None:
    for name in HELIOS.command_names():
        try:
            result = HELIOS.validate(name, {"x": value} if name != "set_seed" else {"seed": value})
        except CommandValidationError:
            continue
        assert name == "set_seed"
        assert type(result["seed"]) is int
