"""The ``capabilities`` object (docs/protocol §7.1) and its legacy command list (§7.2).

Found in ``GET /sessions/{id}`` responses, local session descriptors and the
``modelCapabilities`` runtime message.  Tracks are named from the **client's** point of view
(``recvonly``: the model sends it; ``sendonly``: the client publishes it).

Unknown-field policy: top-level fields this library does not know are ignored for behaviour
but kept in :attr:`Capabilities.extra` so :func:`capabilities_to_json` writes them back.
Unknown fields inside a track or a command are ignored.  Legacy command schemas are checked
when the capabilities are parsed (so :func:`reactor_proto.schema.schema_from_capabilities`
cannot fail later on a parsed object).
"""

from __future__ import annotations

from typing import Any, Final

from .capability_records import (
    TRACK_DIRECTIONS,
    TRACK_KINDS,
    Capabilities,
    CommandCapability,
    TrackCapability,
)
from .errors import DecodeError
from .jsonfields import Fields
from .schema.legacy import legacy_params

_KNOWN_FIELDS: Final = frozenset({"protocol_version", "tracks", "commands", "emission_fps"})

__all__ = [
    "TRACK_DIRECTIONS",
    "TRACK_KINDS",
    "Capabilities",
    "CommandCapability",
    "TrackCapability",
    "capabilities_to_json",
    "command_to_json",
    "parse_capabilities",
    "parse_command",
    "parse_track",
    "track_to_json",
]


def _choice(fields: Fields, key: str, allowed: tuple[str, ...]) -> str:
    value = fields.req_str(key)
    if value not in allowed:
        where = fields.where(key)
        raise DecodeError(f"{where}: expected one of {', '.join(allowed)}, got {value!r}",
                          field=where, value=value)
    return value


def parse_track(obj: Any, *, path: str) -> TrackCapability:
    """One ``{name, kind, direction}`` track object."""
    fields = Fields(obj, path)
    return TrackCapability(
        name=fields.req_str("name"),
        kind=_choice(fields, "kind", TRACK_KINDS),
        direction=_choice(fields, "direction", TRACK_DIRECTIONS),
    )


def parse_command(obj: Any, *, path: str) -> CommandCapability:
    """One legacy ``{name, description, schema?}`` command; the schema map is checked."""
    fields = Fields(obj, path)
    schema_fields = fields.opt_obj("schema")
    schema = None if schema_fields is None else schema_fields.raw
    if schema is not None:
        legacy_params(schema, path=fields.where("schema"))
    return CommandCapability(
        name=fields.req_str("name"),
        description=fields.opt_str("description") or "",
        schema=schema,
    )


def parse_capabilities(obj: Any, *, path: str = "capabilities") -> Capabilities:
    """Parse a capabilities object; :class:`DecodeError` names the field and value."""
    fields = Fields(obj, path)
    protocol_version = fields.req_str("protocol_version")
    tracks = tuple(parse_track(item, path=where) for where, item in fields.items("tracks"))
    _reject_duplicates([track.name for track in tracks], fields.where("tracks"))
    commands: tuple[CommandCapability, ...] = ()
    if fields.has("commands"):
        commands = tuple(parse_command(item, path=where)
                         for where, item in fields.items("commands"))
        _reject_duplicates([command.name for command in commands], fields.where("commands"))
    return Capabilities(
        protocol_version=protocol_version,
        tracks=tracks,
        commands=commands,
        emission_fps=fields.opt_number("emission_fps"),
        extra={key: value for key, value in fields.raw.items() if key not in _KNOWN_FIELDS},
    )


def _reject_duplicates(names: list[str], where: str) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            raise DecodeError(f"{where}[{index}].name: duplicate name {name!r}",
                              field=f"{where}[{index}].name", value=name)
        seen.add(name)


def track_to_json(track: TrackCapability) -> dict[str, Any]:
    return {"name": track.name, "kind": track.kind, "direction": track.direction}


def command_to_json(command: CommandCapability) -> dict[str, Any]:
    result: dict[str, Any] = {"name": command.name, "description": command.description}
    if command.schema is not None:
        result["schema"] = dict(command.schema)
    return result


def capabilities_to_json(caps: Capabilities) -> dict[str, Any]:
    """The wire form; ``commands`` and ``emission_fps`` are always written (as [R2] does)."""
    return {
        **caps.extra,
        "protocol_version": caps.protocol_version,
        "tracks": [track_to_json(track) for track in caps.tracks],
        "commands": [command_to_json(command) for command in caps.commands],
        "emission_fps": caps.emission_fps,
    }
