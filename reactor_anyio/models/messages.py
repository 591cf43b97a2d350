"""The outbound message types a model declares (:attr:`Model.messages`), published as
OpenAPI webhooks; split from :mod:`.base`, which re-exports :class:`MessageType`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .signature import ModelDefinitionError, json_schema_for


def _frozen_names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(names)


@attrs.frozen(kw_only=True)
class MessageType:
    """An outbound message type: its ``data`` object's fields as type hints.

    Every field is required unless listed in ``optional`` (a field typed ``T | None`` is still
    required, as in the official ``state`` message, unless listed).

    ``variants`` declares a tagged union (Helios' ``event``): ``data[tag]`` names the kind and
    each kind's own fields are a :class:`MessageType` of their own.  The published schema
    keeps the flat ``properties`` above and adds standard OpenAPI 3.1 ``oneOf`` branches (one
    per kind, the tag pinned with ``const``) and a ``discriminator``; clients that do not read
    them see the same object as before, and ``reactor typegen`` makes one record per kind.
    """

    description: str = ""
    fields: Mapping[str, Any] = attrs.field(factory=dict)
    optional: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen_names)
    tag: str = "type"
    variants: Mapping[str, MessageType] = attrs.field(factory=dict)

    def json_schema(self, *, where: str = "message") -> dict[str, Any]:
        unknown = sorted(self.optional - set(self.fields))
        if unknown:
            raise ModelDefinitionError(f"{where}.optional: unknown fields {unknown}")
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {name: json_schema_for(hint, where=f"{where}.{name}")
                           for name, hint in self.fields.items()},
            "required": [name for name in self.fields if name not in self.optional],
        }
        if self.variants:
            schema["oneOf"] = [self._variant_schema(kind, variant, where=f"{where}.{kind}")
                               for kind, variant in self.variants.items()]
            schema["discriminator"] = {"propertyName": self.tag}
        return schema

    def _variant_schema(self, kind: str, variant: MessageType, *, where: str) -> dict[str, Any]:
        if self.tag in variant.fields:
            raise ModelDefinitionError(f"{where}: the tag {self.tag!r} is set by the kind")
        body = variant.json_schema(where=where)
        branch: dict[str, Any] = {"type": "object"}
        if variant.description:
            branch["description"] = variant.description
        branch["properties"] = {self.tag: {"const": kind}, **body["properties"]}
        branch["required"] = [self.tag, *body["required"]]
        return branch
