"""The legacy per-command schema map (docs/protocol §7.2), both directions.

The legacy form is a flat map ``parameter -> fragment`` whose fragment carries JSON-schema
keywords plus a **boolean** ``required``.  It is what the JS ``ReactorController`` draws its
forms from.  It cannot express messages, nested constraints beyond the fragment, or the
model's title and version; :func:`to_legacy_commands` keeps only the keys the §7.2 shape
defines (``type``, ``description``, ``minimum``, ``maximum``, ``enum``, ``default``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..capability_records import Capabilities, CommandCapability, TrackCapability
from ..errors import DecodeError
from ..jsonfields import type_name
from .model import CommandSpec, ModelSchema, ParamSpec, is_upload_schema
from .refs import Resolver, Schema, show

LEGACY_KEYS = ("type", "description", "minimum", "maximum", "enum", "default")


def as_param_schema(schema: Schema) -> dict[str, Any]:
    """A parameter schema as a mapping (boolean schemas become ``{}`` / ``{"not": {}}``)."""
    if isinstance(schema, bool):
        return {} if schema else {"not": {}}
    return dict(schema)


def make_param(name: str, schema: Schema, required: bool) -> ParamSpec:
    """A ParamSpec whose description and upload flag follow from its resolved schema."""
    resolved = as_param_schema(schema)
    description = resolved.get("description")
    return ParamSpec(name=name, schema=resolved, required=required,
                     description=description if isinstance(description, str) else "",
                     is_upload=is_upload_schema(resolved))


def legacy_params(schema_map: Any, *, path: str) -> tuple[ParamSpec, ...]:
    """The parameters of one legacy ``schema`` map; :class:`DecodeError` names the field."""
    if not isinstance(schema_map, Mapping):
        raise DecodeError(f"{path}: expected an object, got {type_name(schema_map)} "
                          f"{show(schema_map)}", field=path, value=schema_map)
    resolver = Resolver({})  # legacy fragments have no document to point into
    params: list[ParamSpec] = []
    for name, fragment in schema_map.items():
        where = f"{path}.{name}"
        if not isinstance(fragment, Mapping):
            raise DecodeError(f"{where}: expected an object, got {type_name(fragment)} "
                              f"{show(fragment)}", field=where, value=fragment)
        required = fragment.get("required", False)
        if not isinstance(required, bool):
            raise DecodeError(f"{where}.required: expected a boolean, got "
                              f"{type_name(required)} {show(required)}",
                              field=f"{where}.required", value=required)
        body = {key: value for key, value in fragment.items() if key != "required"}
        params.append(make_param(name, resolver.schema(body, where), required))
    return tuple(params)


def parse_legacy_commands(commands: Sequence[CommandCapability], *,
                          tracks: Sequence[TrackCapability] = ()) -> ModelSchema:
    """A :class:`ModelSchema` from legacy command capabilities (title/version left empty)."""
    specs: dict[str, CommandSpec] = {}
    for index, command in enumerate(commands):
        where = f"commands[{index}]"
        if command.name in specs:
            raise DecodeError(f"{where}.name: duplicate command {command.name!r}",
                              field=f"{where}.name", value=command.name)
        params = () if command.schema is None else legacy_params(command.schema,
                                                                 path=f"{where}.schema")
        specs[command.name] = CommandSpec(name=command.name, description=command.description,
                                          params=params)
    return ModelSchema(title="", version="", description="", commands=specs, messages={},
                       tracks=tuple(tracks))


def schema_from_capabilities(caps: Capabilities) -> ModelSchema | None:
    """The schema carried by a legacy capabilities object; None when it lists no commands."""
    if not caps.commands:
        return None
    return parse_legacy_commands(caps.commands, tracks=caps.tracks)


def _flatten_optional(schema: Mapping[str, Any]) -> dict[str, Any]:
    # `Optional[T]` is published as anyOf [T, {type: null}]; the legacy form has no union,
    # so it shows T (the parameter's `required: false` already says it may be left out).
    for keyword in ("anyOf", "oneOf"):
        branches = schema.get(keyword)
        if isinstance(branches, list):
            concrete = [b for b in branches if not (isinstance(b, Mapping)
                                                    and b.get("type") == "null")]
            if len(concrete) == 1 and isinstance(concrete[0], Mapping):
                outer = {k: v for k, v in schema.items() if k != keyword}
                return {**concrete[0], **outer}
    return dict(schema)


def legacy_fragment(param: ParamSpec) -> dict[str, Any]:
    """The §7.2 fragment of one parameter."""
    source = _flatten_optional(param.schema)
    fragment: dict[str, Any] = {}
    kind = source.get("type")
    if isinstance(kind, list):
        kind = next((name for name in kind if name != "null"), None)
    if isinstance(kind, str):
        fragment["type"] = kind
    description = param.description or source.get("description")
    if isinstance(description, str) and description:
        fragment["description"] = description
    for key in LEGACY_KEYS[2:]:
        if key in source:
            fragment[key] = source[key]
    fragment["required"] = param.required
    return fragment


def to_legacy_commands(schema: ModelSchema) -> list[dict[str, Any]]:
    """The ``capabilities.commands`` list (§7.2) for a schema, in command order."""
    return [
        {"name": spec.name, "description": spec.description,
         "schema": {param.name: legacy_fragment(param) for param in spec.params}}
        for spec in schema.commands.values()
    ]
