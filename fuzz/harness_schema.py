"""Fuzz the OpenAPI model-schema parser (docs/protocol §7.3) and the validator behind it.

bytes -> loads_bounded -> parse_openapi -> validate a few payloads.  Oracle: accepted, or
:class:`DecodeError` from decoding/parsing; once parsed, validation may only raise
CommandValidationError, the document written by ``to_openapi`` must parse back to an equal
schema (differential check of the two directions), and a validated payload must validate
again to itself (normalisation is idempotent).
"""

from __future__ import annotations

from typing import Any

from reactor_proto.constants import MAX_SCHEMA_BYTES
from reactor_proto.errors import CommandValidationError, DecodeError
from reactor_proto.jsonfields import loads_bounded
from reactor_proto.schema import parse_openapi, to_openapi

ACCEPTED = (DecodeError,)

PAYLOADS: list[Any] = [
    {}, {"prompt": "x", "chunk": 1}, {"prompt": "x", "chunk": -1.0}, {"seed": 3.0},
    {"image_b64": "a", "transition": "blend"}, {"x": [1, {"y": None}]}, [],
    {"image": {"upload_id": "u", "name": "n", "mime_type": "m", "size": 1}},
]


def one_input(data: bytes) -> None:
    schema = parse_openapi(loads_bounded(data, what="schema", max_bytes=MAX_SCHEMA_BYTES))
    try:
        again = parse_openapi(to_openapi(schema))
    except DecodeError as exc:
        raise AssertionError(f"to_openapi wrote a document that does not parse: {exc}") from exc
    assert again == schema, (again, schema)
    for name in (*schema.command_names(), "not-a-command"):
        for payload in PAYLOADS:
            try:
                checked = schema.validate(name, payload)
            except CommandValidationError:
                continue
            assert schema.validate(name, checked) == checked
