"""Parameter schemas derived from type hints (reactor_anyio.models.signature)."""

from __future__ import annotations

import enum
import typing
from typing import Annotated, Any, Literal, Optional, Union

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_anyio.models.signature import (
    NO_DEFAULT,
    UPLOAD_REFERENCE_REF,
    Field,
    ModelDefinitionError,
    UploadedFile,
    coerce_argument,
    derive_parameters,
    json_schema_for,
)
from reactor_proto.errors import CommandValidationError, LocalProtocolError


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Mixed(enum.Enum):
    A = "a"
    B = 2


@pytest.mark.parametrize(
    ("hint", "schema"),
    [
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (str, {"type": "string"}),
        (bool, {"type": "boolean"}),
        (type(None), {"type": "null"}),
        (Any, {}),
        (Literal["cut", "blend"], {"type": "string", "enum": ["cut", "blend"]}),
        (Literal[1, 2], {"type": "integer", "enum": [1, 2]}),
        (Literal[True], {"type": "boolean", "enum": [True]}),
        (Literal["a", 1], {"enum": ["a", 1]}),
        (Literal["a", None], {"enum": ["a", None]}),
        (Optional[int], {"anyOf": [{"type": "integer"}, {"type": "null"}]}),  # noqa: UP045
        (str | None, {"anyOf": [{"type": "string"}, {"type": "null"}]}),
        (Union[int, str], {"anyOf": [{"type": "integer"}, {"type": "string"}]}),  # noqa: UP007
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (list, {"type": "array"}),
        (dict, {"type": "object"}),
        (dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
        (list[dict[str, bool]], {"type": "array", "items": {
            "type": "object", "additionalProperties": {"type": "boolean"}}}),
        (Color, {"type": "string", "enum": ["red", "green"]}),
        (Level, {"type": "integer", "enum": [1, 2]}),
        (Mixed, {"enum": ["a", 2]}),
        (UploadedFile, {"$ref": UPLOAD_REFERENCE_REF}),
    ],
)
def test_type_hint_to_schema(hint: Any, schema: dict[str, Any]) -> None:
    assert json_schema_for(hint, where="m.c.p") == schema


@pytest.mark.parametrize(
    ("hint", "schema"),
    [
        (Annotated[int, Field(ge=0, le=10)], {"type": "integer", "minimum": 0, "maximum": 10}),
        (Annotated[float, Field(gt=0.5, lt=2)],
         {"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 2}),
        (Annotated[str, Field(min_length=1, max_length=5, pattern="^[a-z]+$")],
         {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[a-z]+$"}),
        (Annotated[list[int], Field(min_length=1, max_length=3)],
         {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3}),
        (Annotated[str, Field(description="Text prompt")],
         {"type": "string", "description": "Text prompt"}),
        (Annotated[str, Field(choices=("a", "b"))], {"type": "string", "enum": ["a", "b"]}),
        (Annotated[str, Field(moderate=False)], {"type": "string", "x-reactor-moderate": False}),
        (Annotated[int, "not a Field", Field(ge=1)], {"type": "integer", "minimum": 1}),
        (Annotated[int, Field()], {"type": "integer"}),
        (Optional[Annotated[int, Field(ge=0)]],  # noqa: UP045
         {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]}),
    ],
)
def test_field_constraints(hint: Any, schema: dict[str, Any]) -> None:
    assert json_schema_for(hint, where="m.c.p") == schema


@pytest.mark.parametrize(
    ("hint", "fragment"),
    [
        (bytes, "unsupported type hint"),
        (tuple[int, int], "unsupported type hint"),
        (dict[int, str], "dict keys must be str"),
        (Literal[b"x"], "is not a JSON scalar"),
        (list[set[int]], "m.c.p[]: unsupported"),
        (dict[str, complex], "m.c.p{}: unsupported"),
    ],
)
def test_unsupported_hints_name_the_parameter(hint: Any, fragment: str) -> None:
    with pytest.raises(ModelDefinitionError, match=r"m\.c\.p") as info:
        json_schema_for(hint, where="m.c.p")
    assert fragment in info.value.message
    assert isinstance(info.value, LocalProtocolError)


class _Holder:
    def full(self, a: int, b: str = "x", c: Color = Color.GREEN, d: float | None = None,
             *, e: Annotated[list[str], Field(description="E")] = ("q",),  # type: ignore[assignment]
             f: UploadedFile | None = None,
             g: dict[str, int] = {"k": 1}) -> None:  # noqa: B006
        """Docstring."""

    def upload(self, image: UploadedFile) -> None: ...

    def nothing(self) -> None: ...


def test_derive_parameters_required_iff_no_default() -> None:
    params = derive_parameters(_Holder.full, where="M.full")
    assert [p.name for p in params] == ["a", "b", "c", "d", "e", "f", "g"]
    assert [p.required for p in params] == [True, False, False, False, False, False, False]
    by_name = {p.name: p for p in params}
    assert by_name["a"].schema == {"type": "integer"}
    assert by_name["a"].default is NO_DEFAULT
    assert by_name["b"].schema == {"type": "string", "default": "x"}
    assert by_name["c"].schema == {"type": "string", "enum": ["red", "green"], "default": "green"}
    assert by_name["d"].schema["default"] is None
    assert by_name["e"].schema == {"type": "array", "items": {"type": "string"},
                                   "description": "E", "default": ["q"]}
    assert by_name["e"].description == "E"
    assert by_name["g"].schema["default"] == {"k": 1}
    assert by_name["f"].is_upload
    assert not by_name["a"].is_upload
    assert derive_parameters(_Holder.nothing, where="M.nothing") == ()
    (image,) = derive_parameters(_Holder.upload, where="M.upload")
    assert image.is_upload
    assert image.required
    assert image.schema == {"$ref": UPLOAD_REFERENCE_REF}


def _bad_varargs(self: Any, *args: int) -> None: ...
def _bad_kwargs(self: Any, **kwargs: int) -> None: ...
def _bad_positional(self: Any, a: int, /) -> None: ...
def _bad_unannotated(self: Any, a) -> None: ...  # type: ignore[no-untyped-def]
_NOT_JSON = object()


def _bad_default(self: Any, a: Any = _NOT_JSON) -> None: ...
def _bad_nested_upload(self: Any, a: list[UploadedFile]) -> None: ...
def _bad_forward_ref(self: Any, a: NotDefinedAnywhere) -> None: ...  # type: ignore[name-defined]  # noqa: F821


@pytest.mark.parametrize(
    ("fn", "fragment"),
    [
        (_bad_varargs, "passable by keyword"),
        (_bad_kwargs, "passable by keyword"),
        (_bad_positional, "passable by keyword"),
        (_bad_unannotated, "no type hint"),
        (_bad_default, "is not a JSON value"),
        (_bad_nested_upload, "top-level parameter"),
        (_bad_forward_ref, "cannot resolve type hints"),
    ],
)
def test_derive_parameters_refuses_bad_signatures(fn: Any, fragment: str) -> None:
    with pytest.raises(ModelDefinitionError, match=r"M\.cmd") as info:
        derive_parameters(fn, where="M.cmd")
    assert fragment in info.value.message


def test_coerce_argument_conversions() -> None:
    def coerce(hint: Any, value: Any) -> Any:
        return coerce_argument(hint, value, command="cmd", path="p")

    assert coerce(float, 3) == 3.0
    assert isinstance(coerce(float, 3), float)
    assert coerce(Color, "red") is Color.RED
    assert coerce(Annotated[Level, Field()], 2) is Level.HIGH
    assert coerce(Color | None, None) is None
    assert coerce(Optional[Color], "green") is Color.GREEN  # noqa: UP045
    assert coerce(int | str, "x") == "x"
    assert coerce(list[Color], ["red", "green"]) == [Color.RED, Color.GREEN]
    assert coerce(dict[str, float], {"a": 1}) == {"a": 1.0}
    assert coerce(str, "s") == "s"
    upload = UploadedFile(upload_id="u", name="n", mime_type="image/png", size=1, data=b"x")
    assert coerce(UploadedFile, upload) is upload
    assert "data" not in repr(upload)


def test_coerce_argument_rejects_what_validation_should_have() -> None:
    with pytest.raises(CommandValidationError) as info:
        coerce_argument(Color, "blue", command="paint", path="color")
    assert (info.value.command, info.value.parameter) == ("paint", "color")
    assert "'blue'" in info.value.reason
    with pytest.raises(CommandValidationError) as info:
        coerce_argument(list[Color], ["red", "nope"], command="paint", path="colors")
    assert info.value.parameter == "colors[1]"
    with pytest.raises(CommandValidationError, match=r"'c' is not one of \['a', 'b'\]"):
        coerce_argument(Literal["a", "b"], "c", command="c", path="f")
    with pytest.raises(CommandValidationError, match="uploaded file"):
        coerce_argument(UploadedFile, {"upload_id": "x"}, command="c", path="f")


_SCALAR_HINTS = st.sampled_from([int, float, str, bool])


@st.composite
def _hints(draw: st.DrawFn, depth: int = 0) -> Any:
    if depth >= 2:
        return draw(_SCALAR_HINTS)
    kind = draw(st.sampled_from(["scalar", "list", "dict", "optional", "literal"]))
    if kind == "list":
        return list[draw(_hints(depth + 1))]  # type: ignore[misc]
    if kind == "dict":
        return dict[str, draw(_hints(depth + 1))]  # type: ignore[misc]
    if kind == "optional":
        return typing.Optional[draw(_hints(depth + 1))]  # noqa: UP045
    if kind == "literal":
        values = draw(st.lists(st.text(max_size=4), min_size=1, max_size=4, unique=True))
        return Literal[tuple(values)]
    return draw(_SCALAR_HINTS)


def _schema_accepts(schema: dict[str, Any], value: Any) -> bool:
    """A minimal JSON-schema check covering what the derivation emits."""
    if "anyOf" in schema:
        return any(_schema_accepts(s, value) for s in schema["anyOf"])
    if "enum" in schema and value not in schema["enum"]:
        return False
    kind = schema.get("type")
    checks: dict[str, Any] = {
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
        "array": lambda v: isinstance(v, list) and all(
            _schema_accepts(schema.get("items", {}), i) for i in v),
        "object": lambda v: isinstance(v, dict) and all(
            _schema_accepts(schema.get("additionalProperties", {}), i) for i in v.values()),
    }
    return kind is None or bool(checks[kind](value))


def _value_for(hint: Any) -> st.SearchStrategy[Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return st.sampled_from(args)
    if origin is list:
        return st.lists(_value_for(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(st.text(max_size=3), _value_for(args[1]), max_size=3)
    if origin is Union:
        return st.none() | _value_for(args[0])
    return {int: st.integers(), float: st.floats(allow_nan=False, allow_infinity=False),
            str: st.text(max_size=5), bool: st.booleans()}[hint]


@given(st.data())
def test_property_values_of_a_hint_satisfy_its_schema_and_survive_coercion(
        data: st.DataObject) -> None:
    hint = data.draw(_hints())
    schema = json_schema_for(hint, where="p")
    value = data.draw(_value_for(hint))
    assert _schema_accepts(schema, value)
    assert coerce_argument(hint, value, command="c", path="p") == value
