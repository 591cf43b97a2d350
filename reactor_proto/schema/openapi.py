"""Parsing the model's OpenAPI 3.1 document (docs/protocol §7.3) into a :class:`ModelSchema`.

Accepted inputs: the document itself (``modelSchema`` runtime message, [R3] ``GET /schema``)
or a whole [R2] local session descriptor, whose ``schema`` field holds the document.

* Commands: ``paths["/events/<name>"].post``; name = ``operationId``, else the path suffix;
  description = ``summary``, else ``description``; parameters from the JSON request body's
  ``properties`` / ``required``.  Other paths and methods are ignored.
* Messages: ``webhooks[<name>].post`` (the [R3] variant points into ``components`` with
  ``$ref``; any local reference is followed).
* Tracks: ``x-reactor.tracks``, turned to the client's point of view (``out`` ->
  ``recvonly``, ``in`` -> ``sendonly``), kept in document order.

Everything else (``responses``, unknown extensions) is ignored.  Malformed documents raise
:class:`~reactor_proto.errors.DecodeError` naming the field (``paths./events/x.post...``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..capability_records import TRACK_KINDS, TrackCapability
from ..errors import DecodeError
from ..jsonfields import Fields
from .legacy import as_param_schema, make_param
from .model import CommandSpec, MessageSpec, ModelSchema, ParamSpec
from .refs import Resolver, show

EVENTS_PREFIX: Final = "/events/"
JSON_MEDIA_TYPE: Final = "application/json"

MODEL_TO_CLIENT_DIRECTION: Final = {"out": "recvonly", "in": "sendonly"}
CLIENT_TO_MODEL_DIRECTION: Final = {"recvonly": "out", "sendonly": "in"}


def parse_openapi(doc: Any) -> ModelSchema:
    """Parse an OpenAPI document (or a local descriptor holding one in ``schema``)."""
    path = "openapi"
    if isinstance(doc, dict) and "openapi" not in doc and isinstance(doc.get("schema"), dict):
        doc, path = doc["schema"], "schema"
    fields = Fields(doc, path)
    version = fields.req_str("openapi")
    if not version.startswith("3."):
        raise DecodeError(f"{fields.where('openapi')}: unsupported OpenAPI version "
                          f"{version!r} (expected 3.x)", field=fields.where("openapi"),
                          value=version)
    info = fields.req_obj("info")
    resolver = Resolver(doc)
    return ModelSchema(
        title=info.req_str("title"),
        version=info.req_str("version"),
        description=info.opt_str("description") or "",
        commands=_commands(fields, resolver),
        messages=_messages(fields, resolver),
        tracks=_tracks(fields),
    )


def _tracks(fields: Fields) -> tuple[TrackCapability, ...]:
    extension = fields.opt_obj("x-reactor")
    if extension is None or not extension.has("tracks"):
        return ()
    tracks: list[TrackCapability] = []
    for where, item in extension.items("tracks"):
        track = Fields(item, where)
        kind = track.req_str("kind")
        direction = track.req_str("direction")
        if kind not in TRACK_KINDS:
            raise DecodeError(f"{where}.kind: expected one of {', '.join(TRACK_KINDS)}, "
                              f"got {kind!r}", field=f"{where}.kind", value=kind)
        if direction not in MODEL_TO_CLIENT_DIRECTION:
            raise DecodeError(f"{where}.direction: expected in or out, got {direction!r}",
                              field=f"{where}.direction", value=direction)
        tracks.append(TrackCapability(name=track.req_str("name"), kind=kind,
                                      direction=MODEL_TO_CLIENT_DIRECTION[direction]))
    return tuple(tracks)


def _post_operation(resolver: Resolver, item: Any, where: str) -> Fields | None:
    """The ``post`` operation of a path item or webhook, ``$ref``s followed."""
    path_item = Fields(resolver.deref(item, where), where)
    if not path_item.has("post"):
        return None
    at = path_item.where("post")
    return Fields(resolver.deref(path_item.raw["post"], at), at)


def _describe(operation: Fields) -> str:
    return operation.opt_str("summary") or operation.opt_str("description") or ""


def _body_schema(resolver: Resolver, operation: Fields) -> Mapping[str, Any] | None:
    """The resolved JSON request-body schema of an operation, if it declares one."""
    if not operation.has("requestBody"):
        return None
    where = operation.where("requestBody")
    body = Fields(resolver.deref(operation.raw["requestBody"], where), where)
    content = body.opt_obj("content")
    if content is None or not content.has(JSON_MEDIA_TYPE):
        return None
    at = content.where(JSON_MEDIA_TYPE)
    media = Fields(resolver.deref(content.raw[JSON_MEDIA_TYPE], at), at)
    if not media.has("schema"):
        return None
    return as_param_schema(resolver.schema(media.raw["schema"], media.where("schema")))


def _params(schema: Mapping[str, Any] | None, where: str) -> tuple[ParamSpec, ...]:
    if schema is None:
        return ()
    kind = schema.get("type", "object")
    if kind != "object":
        raise DecodeError(f"{where}.type: a command body must be an object, got {show(kind)}",
                          field=f"{where}.type", value=kind)
    properties: Mapping[str, Any] = schema.get("properties", {})
    required: list[str] = schema.get("required", [])
    for index, name in enumerate(required):
        if name not in properties:
            raise DecodeError(f"{where}.required[{index}]: {name!r} is required but not "
                              "declared in properties", field=f"{where}.required[{index}]",
                              value=name)
    return tuple(make_param(name, item, name in required) for name, item in properties.items())


def _commands(fields: Fields, resolver: Resolver) -> dict[str, CommandSpec]:
    paths = fields.opt_obj("paths")
    if paths is None:
        return {}
    commands: dict[str, CommandSpec] = {}
    for key, item in paths.raw.items():
        if not key.startswith(EVENTS_PREFIX):
            continue
        operation = _post_operation(resolver, item, paths.where(key))
        if operation is None:
            continue
        name = operation.opt_str("operationId") or key[len(EVENTS_PREFIX):]
        if not name:
            raise DecodeError(f"{operation.path}: the command has no name (no operationId "
                              f"and an empty path suffix)", field=operation.path, value=key)
        if name in commands:
            raise DecodeError(f"{operation.path}: duplicate command {name!r}",
                              field=operation.path, value=name)
        body_where = f"{operation.path}.requestBody.content.{JSON_MEDIA_TYPE}.schema"
        commands[name] = CommandSpec(
            name=name, description=_describe(operation),
            params=_params(_body_schema(resolver, operation), body_where))
    return commands


def _messages(fields: Fields, resolver: Resolver) -> dict[str, MessageSpec]:
    webhooks = fields.opt_obj("webhooks")
    if webhooks is None:
        return {}
    messages: dict[str, MessageSpec] = {}
    for name, item in webhooks.raw.items():
        operation = _post_operation(resolver, item, webhooks.where(name))
        if operation is None:
            continue
        messages[name] = MessageSpec(name=name, description=_describe(operation),
                                     schema=_body_schema(resolver, operation) or {})
    return messages

