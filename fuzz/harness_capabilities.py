"""Fuzz the capabilities parser: bytes -> JSON -> parse_capabilities (docs/protocol §7.1-7.2).

Oracle: accepted, or :class:`DecodeError`.  Once accepted, the serialised form must parse
back to an equal object, and the legacy command schema it carries must build, serialise
and validate without any exception other than CommandValidationError.
"""

from __future__ import annotations

import contextlib
from typing import Any

from reactor_proto.capabilities import (
    CommandCapability,
    capabilities_to_json,
    parse_capabilities,
)
from reactor_proto.constants import MAX_SCHEMA_BYTES
from reactor_proto.errors import CommandValidationError, DecodeError
from reactor_proto.jsonfields import loads_bounded
from reactor_proto.schema import (
    parse_legacy_commands,
    schema_from_capabilities,
    to_legacy_commands,
)

ACCEPTED = (DecodeError,)

PAYLOADS: list[dict[str, Any]] = [{}, {"prompt": "x", "chunk": 1}, {"seed": 3.0},
                                  {"x": [1, {"y": None}]}, {"transition": "cut"}]


def one_input(data: bytes) -> None:
    caps = parse_capabilities(loads_bounded(data, what="capabilities",
                                            max_bytes=MAX_SCHEMA_BYTES))
    try:
        again = parse_capabilities(capabilities_to_json(caps))
        schema = schema_from_capabilities(caps)
        if schema is not None:
            legacy = [CommandCapability(**item) for item in to_legacy_commands(schema)]
            assert parse_legacy_commands(legacy).command_names() == schema.command_names()
    except DecodeError as exc:  # a parsed object must never fail later
        raise AssertionError(f"accepted capabilities failed downstream: {exc}") from exc
    assert again == caps, (again, caps)
    if schema is None:
        assert not caps.commands
        return
    for name in schema.command_names():
        for payload in PAYLOADS:
            with contextlib.suppress(CommandValidationError):
                schema.validate(name, payload)
