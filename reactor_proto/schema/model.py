"""The model schema: commands with typed parameters, outbound messages and tracks.

One :class:`ModelSchema` describes a model whatever form it arrived in (OpenAPI 3.1 document,
legacy capabilities map, or built by the local runtime from a model class).  Parameter and
message schemas are stored fully ``$ref``-resolved, so validation needs no document.

Invariants the parsers keep (and the round-trip properties rely on): a parameter's
``description`` is its schema's ``description`` (or ``""``), and ``is_upload`` is true
exactly when the schema is, or has an ``anyOf``/``oneOf`` alternative that is, a
ReactorUploadReference (``format: "reactor-upload-reference"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from ..capability_records import TrackCapability
from ..errors import CommandValidationError
from .validate import validate_arguments

UPLOAD_REFERENCE_NAME: Final = "ReactorUploadReference"
UPLOAD_REFERENCE_REF: Final = "#/components/schemas/ReactorUploadReference"
UPLOAD_REFERENCE_FORMAT: Final = "reactor-upload-reference"

UPLOAD_REFERENCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "format": UPLOAD_REFERENCE_FORMAT,
    "description": "Reference to a file uploaded via the Reactor presigned-URL protocol.",
    "properties": {
        "upload_id": {"type": "string", "format": "uuid"},
        "name": {"type": "string"},
        "mime_type": {"type": "string"},
        "size": {"type": "integer"},
    },
    "required": ["upload_id", "name", "mime_type", "size"],
}
"""The ``components.schemas.ReactorUploadReference`` object (docs/protocol §7.3, §9)."""


def is_upload_schema(schema: Any) -> bool:
    """True when a resolved schema is (or may be, via anyOf/oneOf) an upload reference."""
    if not isinstance(schema, Mapping):
        return False
    if schema.get("format") == UPLOAD_REFERENCE_FORMAT:
        return True
    return any(is_upload_schema(branch)
               for keyword in ("anyOf", "oneOf")
               for branch in (schema.get(keyword) or ()))


@attrs.frozen(kw_only=True)
class ParamSpec:
    """One command parameter; ``schema`` is a fully resolved JSON-schema fragment."""

    name: str
    schema: Mapping[str, Any]
    required: bool
    description: str = ""
    is_upload: bool = False


@attrs.frozen(kw_only=True)
class CommandSpec:
    """A command the model accepts (application scope, docs/protocol §6.2)."""

    name: str
    description: str
    params: tuple[ParamSpec, ...]

    def param(self, name: str) -> ParamSpec | None:
        return next((param for param in self.params if param.name == name), None)


@attrs.frozen(kw_only=True)
class MessageSpec:
    """A message the model sends (an OpenAPI webhook); ``schema`` describes its ``data``."""

    name: str
    description: str
    schema: Mapping[str, Any]


@attrs.frozen(kw_only=True)
class ModelSchema:
    """Everything a client needs to drive a model.

    ``tracks`` are from the client's point of view (``recvonly``: the model sends it).
    """

    title: str
    version: str
    description: str
    commands: Mapping[str, CommandSpec]
    messages: Mapping[str, MessageSpec]
    tracks: tuple[TrackCapability, ...]

    def command_names(self) -> tuple[str, ...]:
        return tuple(self.commands)

    def validate(self, command: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Check a command's arguments; return them normalised (``3.0`` -> ``3``).

        Raises :class:`~reactor_proto.errors.CommandValidationError` naming the command,
        the parameter path (``settings.size[2]``) and the bad value.  Defaults are not
        injected.
        """
        spec = self.commands.get(command)
        if spec is None:
            known = ", ".join(self.commands) or "none"
            raise CommandValidationError(command, None, f"unknown command; known: {known}")
        params = {param.name: (param.schema, param.required) for param in spec.params}
        return validate_arguments(command, params, data)
