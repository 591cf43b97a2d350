"""Derive the JSON schema of a command's parameters from its Python signature.

A model author writes an ordinary method with type hints; this module turns each parameter
into a JSON-schema fragment in the shape the official runtime publishes (docs/protocol §7.3):

=====================================  =============================================
hint                                   JSON schema
=====================================  =============================================
``int`` / ``float`` / ``str`` / ``bool``  ``integer`` / ``number`` / ``string`` / ``boolean``
``Literal["a", "b"]``                  ``{"enum": [...]}`` (+ ``type`` when all share one)
``T | None`` (``Optional[T]``)          ``{"anyOf": [T, {"type": "null"}]}``
``A | B``                              ``{"anyOf": [A, B]}``
``list[T]`` / ``list``                 ``{"type": "array", "items": T}``
``dict[str, V]`` / ``dict``            ``{"type": "object", "additionalProperties": V}``
an ``enum.Enum`` subclass              ``{"enum": [member values]}`` (+ ``type``)
``Annotated[T, Field(...)]``           T plus the constraints of :class:`Field`
:class:`UploadedFile`                  a reference to ``ReactorUploadReference``
``typing.Any``                         ``{}`` (anything)
=====================================  =============================================

A parameter is required iff it has no default; a default is published as ``default``
(enum members unwrapped to their values).  Anything else is refused when the class is
defined, with a :class:`ModelDefinitionError` naming ``Model.command.parameter``, so a model
never starts with a schema the runtime cannot validate.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from reactor_proto.errors import CommandValidationError, LocalProtocolError
from reactor_proto.jsonfields import is_json_number

UPLOAD_REFERENCE_REF = "#/components/schemas/ReactorUploadReference"

# Marker for "this parameter has no default" (None is a legitimate default).
NO_DEFAULT: Any = inspect.Parameter.empty


class ModelDefinitionError(LocalProtocolError):
    """A model class is malformed (bad type hint, duplicate command, unknown option...)."""


@attrs.frozen(kw_only=True)
class Field:
    """Constraints for one parameter, attached with ``Annotated[T, Field(...)]``.

    ``ge``/``le``/``gt``/``lt`` become ``minimum``/``maximum``/``exclusiveMinimum``/
    ``exclusiveMaximum``; ``min_length``/``max_length`` become ``minLength``/``maxLength`` on
    strings and ``minItems``/``maxItems`` on arrays; ``choices`` becomes ``enum``;
    ``moderate=False`` publishes ``x-reactor-moderate: false`` (opt-out of moderation).
    """

    description: str = ""
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    lt: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    choices: tuple[Any, ...] | None = None
    moderate: bool = True


@attrs.frozen(kw_only=True)
class UploadedFile:
    """A file the client uploaded (§9), handed to a command or ``on_file_uploaded``."""

    upload_id: str
    name: str
    mime_type: str
    size: int
    data: bytes = attrs.field(repr=False, default=b"")


@attrs.frozen(kw_only=True)
class DerivedParam:
    """One parameter of a command as derived from its signature."""

    name: str
    schema: Mapping[str, Any]
    required: bool
    description: str = ""
    is_upload: bool = False
    hint: Any = None
    default: Any = NO_DEFAULT


_SCALARS: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}


def _json_type_of(value: Any) -> str | None:
    if value is None:
        return "null"
    for python_type in (bool, int, float, str):  # bool first: it is a subclass of int
        if isinstance(value, python_type):
            return _SCALARS[python_type]
    return None


def _enum_schema(values: list[Any], where: str) -> dict[str, Any]:
    kinds = {_json_type_of(v) for v in values}
    if None in kinds:
        bad = next(v for v in values if _json_type_of(v) is None)
        raise ModelDefinitionError(f"{where}: enum value {bad!r} is not a JSON scalar")
    schema: dict[str, Any] = {"enum": values}
    if len(kinds) == 1:
        schema = {"type": kinds.pop(), "enum": values}
    return schema


def _is_union(origin: Any) -> bool:
    return origin is typing.Union or origin is types.UnionType


def json_schema_for(hint: Any, *, where: str) -> dict[str, Any]:
    """The JSON-schema fragment for a type hint; ``where`` names it in errors."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is typing.Any:
        return {}
    if hint is type(None):
        return {"type": "null"}
    if isinstance(hint, type) and hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    if hint is UploadedFile:
        return {"$ref": UPLOAD_REFERENCE_REF}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum_schema([member.value for member in hint], where)
    if origin is typing.Literal:
        return _enum_schema(list(args), where)
    if origin is typing.Annotated:
        return _annotated_schema(args[0], args[1:], where)
    if _is_union(origin):
        members = [a for a in args if a is not type(None)]
        schemas = [json_schema_for(a, where=where) for a in members]
        if len(members) < len(args):
            schemas.append({"type": "null"})
        return {"anyOf": schemas}
    if hint is list or origin is list:
        if not args:
            return {"type": "array"}
        return {"type": "array", "items": json_schema_for(args[0], where=f"{where}[]")}
    if hint is dict or origin is dict:
        if not args:
            return {"type": "object"}
        if args[0] is not str:
            raise ModelDefinitionError(
                f"{where}: dict keys must be str (JSON object keys), got {args[0]!r}")
        return {"type": "object",
                "additionalProperties": json_schema_for(args[1], where=f"{where}{{}}")}
    raise ModelDefinitionError(f"{where}: unsupported type hint {hint!r}")


def _annotated_schema(inner: Any, metadata: tuple[Any, ...], where: str) -> dict[str, Any]:
    schema = json_schema_for(inner, where=where)
    for field in metadata:
        if not isinstance(field, Field):
            continue  # metadata meant for other tools
        is_array = schema.get("type") == "array"
        constraints: dict[str, Any] = {
            "description": field.description or None,
            "minimum": field.ge,
            "maximum": field.le,
            "exclusiveMinimum": field.gt,
            "exclusiveMaximum": field.lt,
            "minItems" if is_array else "minLength": field.min_length,
            "maxItems" if is_array else "maxLength": field.max_length,
            "pattern": field.pattern,
        }
        if field.choices is not None:
            constraints["enum"] = _enum_schema(list(field.choices), where)["enum"]
        if not field.moderate:
            constraints["x-reactor-moderate"] = False
        schema.update({k: v for k, v in constraints.items() if v is not None})
    return schema


def _json_default(value: Any, where: str) -> Any:
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, str | bool) or is_json_number(value):
        return value
    if isinstance(value, tuple | list):
        return [_json_default(v, f"{where}[]") for v in value]
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: _json_default(v, f"{where}.{k}") for k, v in value.items()}
    raise ModelDefinitionError(f"{where}: default {value!r} is not a JSON value")


def _description_of(hint: Any) -> str:
    if typing.get_origin(hint) is typing.Annotated:
        for field in typing.get_args(hint)[1:]:
            if isinstance(field, Field) and field.description:
                return field.description
    return ""


def _mentions_upload(hint: Any) -> bool:
    if hint is UploadedFile:
        return True
    return any(_mentions_upload(arg) for arg in typing.get_args(hint))


def derive_parameters(fn: Callable[..., Any], *, where: str) -> tuple[DerivedParam, ...]:
    """The parameters of a command method (its first parameter, ``self``, is skipped)."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # NameError for unresolvable forward references, and friends
        raise ModelDefinitionError(f"{where}: cannot resolve type hints ({exc})") from None
    params = list(inspect.signature(fn).parameters.values())[1:]
    derived: list[DerivedParam] = []
    for param in params:
        at = f"{where}.{param.name}"
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            raise ModelDefinitionError(
                f"{at}: command parameters must be passable by keyword, got {param.kind}")
        if param.name not in hints:
            raise ModelDefinitionError(f"{at}: parameter has no type hint")
        hint = hints[param.name]
        schema = json_schema_for(hint, where=at)
        is_upload = _mentions_upload(hint)
        if is_upload and hint is not UploadedFile and hint != UploadedFile | None:
            raise ModelDefinitionError(
                f"{at}: UploadedFile is only supported as a top-level parameter type "
                f"(optionally `| None`), got {hint!r}")
        if param.default is not NO_DEFAULT:
            schema["default"] = _json_default(param.default, at)
        derived.append(DerivedParam(
            name=param.name, schema=schema, required=param.default is NO_DEFAULT,
            description=_description_of(hint), is_upload=is_upload, hint=hint,
            default=param.default,
        ))
    return tuple(derived)


def coerce_argument(hint: Any, value: Any, *, command: str, path: str) -> Any:
    """Turn an already-validated JSON value into what the hint promises.

    Only conversions JSON cannot express are done: enum values become members, integers
    become floats for ``float`` parameters, containers are converted element-wise.  Values
    the validator should have refused raise :class:`CommandValidationError`.
    """
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return coerce_argument(typing.get_args(hint)[0], value, command=command, path=path)
    if hint is float and is_json_number(value):
        return float(value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            raise CommandValidationError(
                command, path, f"{value!r} is not one of {[m.value for m in hint]}") from None
    if origin is typing.Literal and value not in typing.get_args(hint):
        raise CommandValidationError(
            command, path, f"{value!r} is not one of {list(typing.get_args(hint))}")
    if hint is UploadedFile and not isinstance(value, UploadedFile):
        raise CommandValidationError(command, path, f"expected an uploaded file, got {value!r}")
    if _is_union(origin):
        if value is None:
            return None
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(members) == 1:
            return coerce_argument(members[0], value, command=command, path=path)
        return value
    if origin is list and isinstance(value, list):
        (item,) = typing.get_args(hint)
        return [coerce_argument(item, v, command=command, path=f"{path}[{i}]")
                for i, v in enumerate(value)]
    if origin is dict and isinstance(value, dict):
        item = typing.get_args(hint)[1]
        return {k: coerce_argument(item, v, command=command, path=f"{path}.{k}")
                for k, v in value.items()}
    return value
