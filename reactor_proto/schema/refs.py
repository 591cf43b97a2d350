"""Local ``$ref`` resolution and keyword checking for JSON-schema fragments.

Every schema fragment the library keeps (a command parameter, a message body, a legacy
per-parameter map entry) passes through :func:`resolve_schema` once, at parse time.  The
result is a self-contained fragment: every ``$ref`` in a schema position is replaced by its
target, and every keyword the validator reads has the shape the validator expects, so that
:mod:`.validate` can never fail with anything but a
:class:`~reactor_proto.errors.CommandValidationError`.

Policies (all failures are :class:`~reactor_proto.errors.DecodeError` naming the field):

* only local references (``#/...``, JSON-pointer escapes ``~0``/``~1``) are followed;
* a reference that leads back to itself is reported as cyclic (recursive schemas are not
  supported) instead of overflowing the stack;
* nesting is bounded by ``constants.MAX_JSON_DEPTH`` levels *after* expansion, and the total
  number of expanded schema nodes by :data:`MAX_SCHEMA_NODES`, so a document whose
  references fan out exponentially cannot exhaust memory;
* ``$ref`` siblings are merged over the resolved target (sibling keys win), which is what
  OpenAPI 3.1 documents use them for (a ``description`` or a ``default`` next to a ``$ref``);
* ``pattern`` is limited to :data:`MAX_PATTERN_LENGTH` characters and must compile with
  :mod:`re` (Python's dialect, close to the ECMA-262 subset real schemas use).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ..constants import MAX_JSON_DEPTH
from ..errors import DecodeError
from ..jsonfields import is_json_number, type_name

MAX_PATTERN_LENGTH = 256
"""Longest ``pattern`` accepted; longer ones are refused to limit regex cost."""

MAX_SCHEMA_NODES = 20_000
"""Most schema objects one document may expand to once its references are inlined."""

JSON_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})

# Keywords whose value is a schema, a list of schemas, or a map of name -> schema.  Only
# these positions are resolved; the values of other keywords (enum, const, default,
# examples, vendor extensions) are data and are kept verbatim.
SCHEMA_KEYWORDS = frozenset({"items", "additionalProperties", "not", "contains",
                              "propertyNames", "if", "then", "else", "unevaluatedItems",
                              "unevaluatedProperties"})
SCHEMA_LIST_KEYWORDS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
SCHEMA_MAP_KEYWORDS = frozenset({"properties", "patternProperties", "dependentSchemas",
                                  "$defs", "definitions"})
_NUMBER_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_COUNT_KEYWORDS = ("minLength", "maxLength", "minItems", "maxItems")

Schema = Mapping[str, Any] | bool


def show(value: Any, limit: int = 80) -> str:
    """A short JSON-ish rendering of a value for error messages."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, str):
        text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fail(path: str, message: str, value: Any) -> DecodeError:
    return DecodeError(f"{path}: {message}", field=path, value=value)


def unescape_pointer_token(token: str) -> str:
    """Undo JSON-pointer escaping (RFC 6901): ``~1`` is ``/``, ``~0`` is ``~``."""
    return token.replace("~1", "/").replace("~0", "~")


def pointer_path(ref: str) -> str:
    """The dotted field path of a local reference, for error messages."""
    tokens = [unescape_pointer_token(token) for token in ref[1:].split("/")[1:]]
    return ".".join(tokens) or "#"


def follow_pointer(document: Any, ref: str, path: str) -> Any:
    """The value a local reference ``#/a/b`` points to inside ``document``."""
    if not ref.startswith("#"):
        raise _fail(path, f"non-local $ref {show(ref)} is not supported "
                          "(only '#/...' references inside the document)", ref)
    pointer = ref[1:]
    if pointer and not pointer.startswith("/"):
        raise _fail(path, f"$ref {show(ref)} is not a JSON pointer", ref)
    node = document
    for raw_token in pointer.split("/")[1:]:
        token = unescape_pointer_token(raw_token)
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise _fail(path, f"$ref {show(ref)} does not resolve (no {show(token)})", ref)
    return node


class Resolver:
    """Expands the schemas of one document; keeps the node budget across calls."""

    def __init__(self, document: Any) -> None:
        self.document = document
        self.nodes = 0

    def schema(self, node: Any, path: str) -> Schema:
        """Resolve and check the schema ``node`` found at ``path``."""
        return self._schema(node, path, 1, ())

    def deref(self, node: Any, path: str) -> Any:
        """Follow ``$ref`` chains on a non-schema object (path item, request body, ...)."""
        seen: list[str] = []
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str):
                raise _fail(f"{path}.$ref", f"expected a string, got {type_name(ref)} "
                                            f"{show(ref)}", ref)
            if ref in seen:
                raise _fail(path, f"cyclic $ref {show(ref)}", ref)
            seen.append(ref)
            node = follow_pointer(self.document, ref, f"{path}.$ref")
        return node

    def _schema(self, node: Any, path: str, depth: int, refs: tuple[str, ...]) -> Schema:
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            raise _fail(path, f"expected a schema (object or boolean), got {type_name(node)} "
                              f"{show(node)}", node)
        if depth > MAX_JSON_DEPTH:
            raise _fail(path, f"schema nested deeper than {MAX_JSON_DEPTH} levels", None)
        self.nodes += 1
        if self.nodes > MAX_SCHEMA_NODES:
            raise _fail(path, f"schema expands to more than {MAX_SCHEMA_NODES} nodes", None)
        if "$ref" in node:
            return self._reference(node, path, depth, refs)
        result: dict[str, Any] = {}
        for key, value in node.items():
            where = f"{path}.{key}"
            if key in SCHEMA_KEYWORDS:
                result[key] = self._schema(value, where, depth + 1, refs)
            elif key in SCHEMA_LIST_KEYWORDS:
                if not isinstance(value, list) or not value:
                    raise _fail(where, f"expected a non-empty array of schemas, got "
                                       f"{type_name(value)} {show(value)}", value)
                result[key] = [self._schema(item, f"{where}[{index}]", depth + 1, refs)
                               for index, item in enumerate(value)]
            elif key in SCHEMA_MAP_KEYWORDS:
                if not isinstance(value, dict):
                    raise _fail(where, f"expected an object of schemas, got {type_name(value)} "
                                       f"{show(value)}", value)
                result[key] = {name: self._schema(item, f"{where}.{name}", depth + 1, refs)
                               for name, item in value.items()}
            else:
                _check_keyword(key, value, where)
                result[key] = value
        return result

    def _reference(self, node: dict[str, Any], path: str, depth: int,
                   refs: tuple[str, ...]) -> Schema:
        ref = node["$ref"]
        where = f"{path}.$ref"
        if not isinstance(ref, str):
            raise _fail(where, f"expected a string, got {type_name(ref)} {show(ref)}", ref)
        if ref in refs:
            raise _fail(where, f"cyclic $ref {show(ref)} (via {' -> '.join(refs)})", ref)
        target = self._schema(follow_pointer(self.document, ref, where), pointer_path(ref),
                              depth, (*refs, ref))
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        if not siblings:
            return target
        merged = self._schema(siblings, path, depth, refs)
        if isinstance(target, bool):
            # Siblings of a boolean target: `false` still forbids everything.
            return merged if target else {"not": {}}
        assert isinstance(merged, Mapping)
        return {**target, **merged}


def _check_keyword(key: str, value: Any, where: str) -> None:
    check = _KEYWORD_CHECKS.get(key)
    if check is not None:
        check(value, where)


def _check_type(value: Any, where: str) -> None:
    names = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        raise _fail(where, "expected a type name or a non-empty array of type names, "
                           "got []", value)
    for name in names:
        if not isinstance(name, str) or name not in JSON_TYPES:
            raise _fail(where, f"unknown type {show(name)}; expected one of "
                               f"{', '.join(sorted(JSON_TYPES))}", value)


def _check_enum(value: Any, where: str) -> None:
    if not isinstance(value, list):
        raise _fail(where, f"expected an array, got {type_name(value)} {show(value)}", value)


def _check_number(value: Any, where: str) -> None:
    if not is_json_number(value):
        raise _fail(where, f"expected a number, got {type_name(value)} {show(value)}", value)


def _check_count(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(where, f"expected a non-negative integer, got {type_name(value)} "
                           f"{show(value)}", value)


def _check_pattern(value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise _fail(where, f"expected a string, got {type_name(value)} {show(value)}", value)
    if len(value) > MAX_PATTERN_LENGTH:
        raise _fail(where, f"pattern of {len(value)} characters exceeds the limit of "
                           f"{MAX_PATTERN_LENGTH}", value)
    try:
        re.compile(value)
    except (re.error, RecursionError, OverflowError) as exc:
        raise _fail(where, f"pattern {show(value)} does not compile ({exc})", value) from None


def _check_required(value: Any, where: str) -> None:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise _fail(where, f"expected an array of property names, got {type_name(value)} "
                           f"{show(value)}", value)


_KEYWORD_CHECKS: dict[str, Callable[[Any, str], None]] = {
    "type": _check_type,
    "enum": _check_enum,
    "pattern": _check_pattern,
    "required": _check_required,
    **dict.fromkeys(_NUMBER_KEYWORDS, _check_number),
    **dict.fromkeys(_COUNT_KEYWORDS, _check_count),
}
