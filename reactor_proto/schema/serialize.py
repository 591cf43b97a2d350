"""Writing a :class:`ModelSchema` as the OpenAPI 3.1 document of docs/protocol §7.3.

The document has the shape the official runtime publishes: one
``paths["/events/<name>"].post`` per command (``operationId``, ``summary``, a JSON request
body, ``responses["202"]``), one ``webhooks[<name>].post`` per message, the tracks under
``x-reactor.tracks`` from the **model's** point of view, and the
``components.schemas.ReactorUploadReference`` component.

Upload references are written as ``{"$ref": "#/components/schemas/ReactorUploadReference"}``;
keys in which an embedded upload schema differs from the component (a ``description``, say)
are written as ``$ref`` siblings, which :func:`~.openapi.parse_openapi` merges back, so
``parse_openapi(to_openapi(s)) == s`` for every schema that keeps the invariants of
:mod:`.model`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import (
    UPLOAD_REFERENCE_FORMAT,
    UPLOAD_REFERENCE_NAME,
    UPLOAD_REFERENCE_REF,
    UPLOAD_REFERENCE_SCHEMA,
    ModelSchema,
    ParamSpec,
)
from .openapi import CLIENT_TO_MODEL_DIRECTION, EVENTS_PREFIX, JSON_MEDIA_TYPE
from .refs import SCHEMA_KEYWORDS, SCHEMA_LIST_KEYWORDS, SCHEMA_MAP_KEYWORDS

OPENAPI_VERSION = "3.1.0"
ACCEPTED_RESPONSE: dict[str, Any] = {"202": {"description": "Event accepted"}}


def with_upload_refs(schema: Any) -> Any:
    """A copy of ``schema`` with every embedded upload-reference schema written as a $ref.

    Only schema positions are visited; the values of other keywords are data and are copied
    unchanged, exactly as :class:`~.refs.Resolver` leaves them.
    """
    if not isinstance(schema, Mapping):
        return schema
    if (schema.get("format") == UPLOAD_REFERENCE_FORMAT
            and all(key in schema for key in UPLOAD_REFERENCE_SCHEMA)):
        differing = {key: value for key, value in schema.items()
                     if key not in UPLOAD_REFERENCE_SCHEMA or UPLOAD_REFERENCE_SCHEMA[key] != value}
        return {"$ref": UPLOAD_REFERENCE_REF, **differing}
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key in SCHEMA_KEYWORDS:
            result[key] = with_upload_refs(value)
        elif key in SCHEMA_LIST_KEYWORDS and isinstance(value, list):
            result[key] = [with_upload_refs(item) for item in value]
        elif key in SCHEMA_MAP_KEYWORDS and isinstance(value, Mapping):
            result[key] = {name: with_upload_refs(item) for name, item in value.items()}
        else:
            result[key] = value
    return result


def _param_schema(param: ParamSpec) -> Any:
    schema = dict(param.schema)
    if param.description and schema.get("description") != param.description:
        schema["description"] = param.description
    return with_upload_refs(schema)


def _body(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON_MEDIA_TYPE: {"schema": schema}}}


def _operation(name: str, description: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": name}
    if description:
        operation["summary"] = description
    operation["requestBody"] = _body(schema)
    return operation


def to_openapi(schema: ModelSchema) -> dict[str, Any]:
    """The OpenAPI 3.1 document describing ``schema`` (docs/protocol §7.3)."""
    paths: dict[str, Any] = {}
    for spec in schema.commands.values():
        body: dict[str, Any] = {
            "type": "object",
            "properties": {param.name: _param_schema(param) for param in spec.params},
        }
        required = [param.name for param in spec.params if param.required]
        if required:
            body["required"] = required
        operation = _operation(spec.name, spec.description, body)
        operation["responses"] = dict(ACCEPTED_RESPONSE)
        paths[f"{EVENTS_PREFIX}{spec.name}"] = {"post": operation}
    webhooks = {
        message.name: {"post": _operation(message.name, message.description,
                                          with_upload_refs(message.schema))}
        for message in schema.messages.values()
    }
    tracks = [{"name": track.name, "kind": track.kind,
               "direction": CLIENT_TO_MODEL_DIRECTION.get(track.direction, track.direction)}
              for track in schema.tracks]
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": schema.title, "version": schema.version,
                 "description": schema.description},
        "x-reactor": {"tracks": tracks},
        "paths": paths,
        "webhooks": webhooks,
        "components": {"schemas": {UPLOAD_REFERENCE_NAME: dict(UPLOAD_REFERENCE_SCHEMA)}},
    }
