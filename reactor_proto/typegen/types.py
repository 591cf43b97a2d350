"""JSON schema fragment -> Python annotation text, and the docstring notes of a parameter.

The mapping (docs/protocol §7.3 in reverse): ``integer`` -> ``int``, ``number`` -> ``float``
(an ``int`` is accepted too), ``string`` -> ``str``, ``boolean`` -> ``bool``, ``null`` ->
``None``, ``array`` -> ``list[items]``, ``object`` -> ``dict[str, additionalProperties]``
(``dict[str, Any]`` when it declares ``properties``), ``enum``/``const`` -> ``Literal[...]``
(when every value can be a Literal: strings, integers, booleans, null; otherwise the base
type), ``anyOf``/``oneOf``/a list of types -> a union (``None`` last), ``allOf`` -> its
branches merged, an upload reference -> ``FileRef``, anything else (``{}``, ``true``,
``not``) -> ``Any``.  A ``false`` schema (or ``not: {}``: no value allowed) is an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from ..schema import is_upload_schema
from .errors import TypegenError

SIMPLE_TYPES: Final = {"string": "str", "integer": "int", "number": "float", "boolean": "bool",
                       "null": "None"}
INLINE_LITERAL_LIMIT: Final = 48
"""A Literal longer than this becomes a module-level alias (keeps signatures readable)."""

_NOTE_KEYS: Final = (("minimum", ">="), ("maximum", "<="), ("exclusiveMinimum", ">"),
                     ("exclusiveMaximum", "<"))
_COUNT_NOTES: Final = (("minLength", "at least {} characters"),
                       ("maxLength", "at most {} characters"),
                       ("minItems", "at least {} items"), ("maxItems", "at most {} items"))


def py_literal(value: Any) -> str:
    """Python source for a JSON scalar (strings double-quoted, ASCII-only escapes)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=True)
    if isinstance(value, int | float):
        return repr(value)
    raise TypeError(f"not a scalar: {value!r}")


def _literal_able(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int)


@attrs.define
class Context:
    """What the annotations of one module need: imports and Literal aliases."""

    imports: set[tuple[str, str]] = attrs.field(factory=set)
    aliases: dict[str, list[str]] = attrs.field(factory=dict)  # alias -> Literal members
    reserved: set[str] = attrs.field(factory=set)  # every class / alias name in the module

    def use(self, module: str, name: str) -> str:
        self.imports.add((module, name))
        return name

    def alias(self, hint: str, members: list[str]) -> str:
        """A module-level ``Literal`` alias of ``members``, named after ``hint``."""
        for name, existing in self.aliases.items():
            if existing == members:
                return name
        name, n = hint, 2
        while name in self.reserved or name in self.aliases:
            name, n = f"{hint}{n}", n + 1
        self.aliases[name] = members
        self.use("typing", "TypeAlias")
        return name

    def alias_source(self) -> list[str]:
        """The alias definitions (one line each, or one member per line when too long)."""
        lines: list[str] = []
        for name, members in self.aliases.items():
            one = f"{name}: TypeAlias = Literal[{', '.join(members)}]"
            if len(one) <= 100:
                lines.append(one)
            else:
                lines += [f"{name}: TypeAlias = Literal[", *(f"    {m}," for m in members), "]"]
        return lines


def union(parts: Sequence[str]) -> str:
    """``A | B | None`` from annotation texts: duplicates dropped, None last, Any absorbs."""
    seen: list[str] = []
    for part in parts:
        for piece in split_union(part):
            if piece not in seen:
                seen.append(piece)
    if "Any" in seen:
        return "Any"
    if "None" in seen:
        seen = [*(p for p in seen if p != "None"), "None"]
    return " | ".join(seen)


def split_union(annotation: str) -> list[str]:
    """The top-level members of a union text (``|`` inside brackets does not split)."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(annotation):
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(annotation[start:index].strip())
            start = index + 1
    parts.append(annotation[start:].strip())
    return parts


class Annotator:
    """Turns resolved schema fragments into annotation text within one :class:`Context`."""

    def __init__(self, context: Context) -> None:
        self.context = context

    def annotate(self, schema: Any, *, owner: str, where: str, hint: str) -> str:
        """The annotation of ``schema``; ``owner``/``where`` name it in errors, ``hint``
        names a Literal alias if one is needed."""
        if schema is True or schema == {}:
            return self.context.use("typing", "Any")
        if schema is False or (isinstance(schema, Mapping) and schema.get("not") in ({}, True)):
            raise TypegenError(f"{where} accepts no value at all (its schema is false)",
                               command=owner)
        if not isinstance(schema, Mapping):
            return self.context.use("typing", "Any")
        if is_upload_schema(schema) and "anyOf" not in schema and "oneOf" not in schema:
            return self.context.use("reactor_anyio", "FileRef")
        if "const" in schema:
            return self._literal([schema["const"]], schema, owner=owner, where=where,
                                 hint=hint)
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self._literal(schema["enum"], schema, owner=owner, where=where, hint=hint)
        for keyword in ("anyOf", "oneOf"):
            branches = schema.get(keyword)
            if isinstance(branches, list) and branches:
                return union([self.annotate(branch, owner=owner, where=where, hint=hint)
                              for branch in branches])
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and all_of:
            merged: dict[str, Any] = {}
            for branch in all_of:
                if isinstance(branch, Mapping):
                    merged.update(branch)
            merged.update({k: v for k, v in schema.items() if k != "allOf"})
            return self.annotate(merged, owner=owner, where=where, hint=hint)
        return self._by_type(schema, owner=owner, where=where, hint=hint)

    def _by_type(self, schema: Mapping[str, Any], *, owner: str, where: str,
                 hint: str) -> str:
        kind = schema.get("type")
        if kind is None:
            if "properties" in schema or "additionalProperties" in schema:
                kind = "object"
            elif "items" in schema:
                kind = "array"
            else:
                return self.context.use("typing", "Any")
        kinds = kind if isinstance(kind, list) else [kind]
        return union([self._one_type(name, schema, owner=owner, where=where, hint=hint)
                      for name in kinds])

    def _one_type(self, name: Any, schema: Mapping[str, Any], *, owner: str, where: str,
                  hint: str) -> str:
        if name in SIMPLE_TYPES:
            return str(SIMPLE_TYPES[name])
        if name == "array":
            items = schema.get("items", True)
            return f"list[{self.annotate(items, owner=owner, where=f'{where}[]', hint=hint)}]"
        if name == "object":
            extra = schema.get("additionalProperties", True)
            if "properties" in schema or not isinstance(extra, Mapping) or not extra:
                return f"dict[str, {self.context.use('typing', 'Any')}]"
            value = self.annotate(extra, owner=owner, where=f"{where}{{}}", hint=hint)
            return f"dict[str, {value}]"
        return self.context.use("typing", "Any")

    def _literal(self, values: list[Any], schema: Mapping[str, Any], *, owner: str,
                 where: str, hint: str) -> str:
        if not all(_literal_able(value) for value in values):
            # Floats, arrays or objects cannot be Literal members: fall back to the type.
            rest = {k: v for k, v in schema.items() if k not in ("enum", "const")}
            if "type" not in rest:
                return self.context.use("typing", "Any")
            return self.annotate(rest, owner=owner, where=where, hint=hint)
        members: list[str] = []
        for value in values:
            text = py_literal(value)
            if text not in members and value is not None:
                members.append(text)
        if not members:
            return "None"
        literal = f"{self.context.use('typing', 'Literal')}[{', '.join(members)}]"
        if len(literal) > INLINE_LITERAL_LIMIT:
            literal = self.context.alias(hint, members)
        return union([literal, "None"]) if None in values else literal


def notes(schema: Any) -> list[str]:
    """Bounds and constraints of a parameter, for its docstring line."""
    if not isinstance(schema, Mapping):
        return []
    found: list[str] = []
    for key, sign in _NOTE_KEYS:
        if key in schema:
            found.append(f"{sign} {schema[key]!r}")
    for key, text in _COUNT_NOTES:
        if key in schema:
            found.append(text.format(schema[key]))
    if isinstance(schema.get("pattern"), str):
        found.append(f"matches {schema['pattern']!r}")
    if isinstance(schema.get("format"), str) and not is_upload_schema(schema):
        found.append(f"format {schema['format']}")
    if "default" in schema:
        found.append(f"default {json.dumps(schema['default'])}")
    return found
