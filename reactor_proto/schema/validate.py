"""Validation of command arguments against resolved JSON-schema fragments.

Mirrors what the official runtime does before dispatching a command (docs/protocol §6.2), but
reports the first violation as a :class:`~reactor_proto.errors.CommandValidationError`
instead of dropping the command silently (F24).

Supported keywords: ``type`` (one name or a list), ``enum``, ``const``, ``minimum``,
``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``, ``minLength``, ``maxLength``,
``pattern`` (``re.search``, unanchored as in JSON Schema), ``items``, ``minItems``,
``maxItems``, ``properties``, ``required``, ``additionalProperties``, ``anyOf``, ``oneOf``
(checked with *anyOf* semantics: the first matching branch wins, as the runtime's generated
schemas never rely on exclusivity), ``allOf``, ``not`` and boolean schemas.  ``format``,
annotations and every other keyword are ignored.

Value rules: booleans are never numbers; an integral float (``3.0``) is an integer and is
returned as ``int``; non-finite floats are not numbers; defaults are *not* injected (the
model applies them).  A tuple is accepted as an array and returned as a list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ..errors import CommandValidationError
from .refs import Schema, show


class Invalid(Exception):
    """A violation at ``path`` (internal; converted to CommandValidationError)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def validate_value(schema: Schema, value: Any, *, command: str, path: str) -> Any:
    """Check ``value`` against ``schema``; return it normalised (integral floats -> int)."""
    try:
        return check(schema, value, path)
    except Invalid as exc:
        raise CommandValidationError(command, exc.path or None, exc.reason) from None


def validate_arguments(command: str, params: Mapping[str, tuple[Schema, bool]],
                       data: Any) -> dict[str, Any]:
    """Validate a whole argument object: ``params`` maps name -> (schema, required)."""
    if not isinstance(data, Mapping):
        raise CommandValidationError(
            command, None, f"arguments must be a JSON object, got {kind_of(data)} {show(data)}")
    result: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise CommandValidationError(
                command, None, f"argument names must be strings, got {show(key)}")
        if key not in params:
            declared = ", ".join(params) or "none"
            raise CommandValidationError(
                command, key, f"undeclared parameter {show(key)} (declared: {declared})")
        result[key] = validate_value(params[key][0], value, command=command, path=key)
    for name, (_, required) in params.items():
        if required and name not in data:
            raise CommandValidationError(command, name, "required parameter is missing")
    return result


def kind_of(value: Any) -> str:
    """JSON type name of a value as the validator sees it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and _is_integral(value)):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _is_integral(value: float) -> bool:
    return math.isfinite(value) and value.is_integer()


def _is_type(value: Any, name: str) -> bool:
    kind = kind_of(value)
    if name == "number":
        return kind in ("integer", "number")
    return kind == name


def json_equal(left: Any, right: Any) -> bool:
    """Equality in the JSON data model: ``1 == 1.0`` but ``true != 1``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return (left.keys() == right.keys()
                and all(json_equal(left[key], right[key]) for key in left))
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(map(json_equal, left, right))
    if _is_num(left) and _is_num(right):
        return bool(left == right)
    return type(left) is type(right) and bool(left == right)


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def check(schema: Schema, value: Any, path: str) -> Any:
    """Validate and normalise; raise :class:`Invalid` on the first violation."""
    if schema is True:
        return _copy(value)
    if schema is False:
        raise Invalid(path, f"{show(value)} is not allowed here (the schema is false)")
    assert isinstance(schema, Mapping)
    value = _check_type(schema, value, path)
    _check_enum_const(schema, value, path)
    if isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(schema, value, path)
    elif isinstance(value, str):
        _check_string(schema, value, path)
    elif isinstance(value, list | tuple):
        value = _check_array(schema, value, path)
    elif isinstance(value, Mapping):
        value = _check_object(schema, value, path)
    return _check_combinators(schema, value, path)


def _copy(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


def _check_type(schema: Mapping[str, Any], value: Any, path: str) -> Any:
    if "type" not in schema:
        return value
    types = schema["type"]
    names = types if isinstance(types, list) else [types]
    if not any(_is_type(value, name) for name in names):
        wanted = " or ".join(names)
        raise Invalid(path, f"{show(value)} is not of type {wanted}")
    if "integer" in names and isinstance(value, float):
        return int(value)
    return value


def _check_enum_const(schema: Mapping[str, Any], value: Any, path: str) -> None:
    if "enum" in schema and not any(json_equal(value, option) for option in schema["enum"]):
        options = ", ".join(show(option, 40) for option in schema["enum"])
        raise Invalid(path, f"{show(value)} is not one of [{options}]")
    if "const" in schema and not json_equal(value, schema["const"]):
        raise Invalid(path, f"{show(value)} is not the constant {show(schema['const'])}")


def _check_number(schema: Mapping[str, Any], value: float, path: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid(path, f"{show(value)} is not a finite number")
    if "minimum" in schema and value < schema["minimum"]:
        raise Invalid(path, f"{show(value)} is less than the minimum {show(schema['minimum'])}")
    if "maximum" in schema and value > schema["maximum"]:
        raise Invalid(path,
                      f"{show(value)} is greater than the maximum {show(schema['maximum'])}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        raise Invalid(path, f"{show(value)} is not greater than the exclusive minimum "
                            f"{show(schema['exclusiveMinimum'])}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        raise Invalid(path, f"{show(value)} is not less than the exclusive maximum "
                            f"{show(schema['exclusiveMaximum'])}")


def _check_string(schema: Mapping[str, Any], value: str, path: str) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        raise Invalid(path, f"{show(value)} is shorter than {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise Invalid(path, f"{show(value)} is longer than {schema['maxLength']} characters")
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        raise Invalid(path, f"{show(value)} does not match the pattern {show(schema['pattern'])}")


def _check_array(schema: Mapping[str, Any], value: list[Any] | tuple[Any, ...],
                 path: str) -> list[Any]:
    if "minItems" in schema and len(value) < schema["minItems"]:
        raise Invalid(path, f"{show(value)} has fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        raise Invalid(path, f"{show(value)} has more than {schema['maxItems']} items")
    items = schema.get("items", True)
    return [check(items, item, f"{path}[{index}]") for index, item in enumerate(value)]


def _check_object(schema: Mapping[str, Any], value: Mapping[Any, Any],
                  path: str) -> dict[str, Any]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    additional = schema.get("additionalProperties", True)
    result: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise Invalid(path, f"object keys must be strings, got {show(key)}")
        where = _child(path, key)
        if key in properties:
            result[key] = check(properties[key], item, where)
        elif additional is False:
            declared = ", ".join(properties) or "none"
            raise Invalid(where, f"undeclared property {show(key)} (declared: {declared})")
        else:
            result[key] = check(additional, item, where)
    for name in schema.get("required", ()):
        if name not in value:
            raise Invalid(_child(path, name), "required property is missing")
    return result


def _check_combinators(schema: Mapping[str, Any], value: Any, path: str) -> Any:
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            value = _first_match(schema[keyword], value, path, keyword)
    for branch in schema.get("allOf", ()):
        value = check(branch, value, path)
    if "not" in schema:
        try:
            check(schema["not"], value, path)
        except Invalid:
            pass
        else:
            raise Invalid(path, f"{show(value)} matches a schema it must not match")
    return value


def _first_match(branches: list[Schema], value: Any, path: str, keyword: str) -> Any:
    failures: list[str] = []
    for branch in branches:
        try:
            return check(branch, value, path)
        except Invalid as exc:
            where = f"{exc.path}: " if exc.path != path else ""
            failures.append(where + exc.reason)
    raise Invalid(path, f"{show(value)} matches none of the {keyword} alternatives "
                        f"({'; '.join(failures[:3])})")
