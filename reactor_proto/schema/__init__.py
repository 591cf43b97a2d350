"""The model's command schema: parse (OpenAPI 3.1 or legacy map), validate, serialise.

See :mod:`.model` for the data classes, :mod:`.openapi` and :mod:`.legacy` for the two wire
forms, :mod:`.validate` for the validation rules and :mod:`.refs` for ``$ref`` handling.
"""

from typing import TYPE_CHECKING

from reactor_proto.lazy import lazy_attributes

if TYPE_CHECKING:
    from .legacy import parse_legacy_commands, schema_from_capabilities, to_legacy_commands
    from .model import (
        UPLOAD_REFERENCE_FORMAT,
        UPLOAD_REFERENCE_NAME,
        UPLOAD_REFERENCE_REF,
        UPLOAD_REFERENCE_SCHEMA,
        CommandSpec,
        MessageSpec,
        ModelSchema,
        ParamSpec,
        is_upload_schema,
    )
    from .openapi import parse_openapi
    from .refs import MAX_PATTERN_LENGTH, MAX_SCHEMA_NODES
    from .serialize import to_openapi
    from .validate import validate_value
else:  # imported on first use (PEP 562): see reactor_proto.lazy
    __getattr__, __dir__ = lazy_attributes(__name__, {
        "parse_legacy_commands": ".legacy",
        "schema_from_capabilities": ".legacy",
        "to_legacy_commands": ".legacy",
        "UPLOAD_REFERENCE_FORMAT": ".model",
        "UPLOAD_REFERENCE_NAME": ".model",
        "UPLOAD_REFERENCE_REF": ".model",
        "UPLOAD_REFERENCE_SCHEMA": ".model",
        "CommandSpec": ".model",
        "MessageSpec": ".model",
        "ModelSchema": ".model",
        "ParamSpec": ".model",
        "is_upload_schema": ".model",
        "parse_openapi": ".openapi",
        "MAX_PATTERN_LENGTH": ".refs",
        "MAX_SCHEMA_NODES": ".refs",
        "to_openapi": ".serialize",
        "validate_value": ".validate",
    })

__all__ = [
    "MAX_PATTERN_LENGTH",
    "MAX_SCHEMA_NODES",
    "UPLOAD_REFERENCE_FORMAT",
    "UPLOAD_REFERENCE_NAME",
    "UPLOAD_REFERENCE_REF",
    "UPLOAD_REFERENCE_SCHEMA",
    "CommandSpec",
    "MessageSpec",
    "ModelSchema",
    "ParamSpec",
    "is_upload_schema",
    "parse_legacy_commands",
    "parse_openapi",
    "schema_from_capabilities",
    "to_legacy_commands",
    "to_openapi",
    "validate_value",
]
