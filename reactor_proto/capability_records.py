"""The records of a ``capabilities`` object (docs/protocol §7.1), without their parsing.

They live apart from :mod:`reactor_proto.capabilities` so the schema package can build and
read them without importing the parser, which itself checks legacy command schemas with the
schema package: the import graph stays acyclic.  Import them from
:mod:`reactor_proto.capabilities`, which re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

TRACK_KINDS: Final = ("video", "audio")
TRACK_DIRECTIONS: Final = ("recvonly", "sendonly")


@attrs.frozen(kw_only=True)
class TrackCapability:
    """A media track; ``direction`` is from the client's point of view."""

    name: str
    kind: str  # "video" | "audio"
    direction: str  # "recvonly" | "sendonly"


@attrs.frozen(kw_only=True)
class CommandCapability:
    """A command in the legacy capabilities list; ``schema`` is the §7.2 per-parameter map."""

    name: str
    description: str
    schema: Mapping[str, Any] | None


@attrs.frozen(kw_only=True)
class Capabilities:
    """The capabilities object; ``extra`` keeps unknown top-level fields for round-trip."""

    protocol_version: str
    tracks: tuple[TrackCapability, ...]
    commands: tuple[CommandCapability, ...] = ()
    emission_fps: float | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)
