"""Typed message records and the typed handler decorators that deliver them.

A message the model publishes (an OpenAPI webhook, docs/protocol §7.3) whose ``data`` is an
object with ``properties`` becomes a frozen dataclass ``<Name>Message`` with one field per
property (required ones first-class, the others ``T | None = None``) and a ``from_data``
constructor; the class gets a decorator ``on_<name>`` whose handler receives the record.

**Variants** (tagged unions): when the message schema has a ``oneOf`` (or ``anyOf``) of
object branches that each pin one property to a constant (``const`` or a one-value
``enum``), named by ``discriminator.propertyName`` or else found as the one such property
common to every branch, each branch becomes its own record ``<Kind><Name>`` (Helios'
``event`` gives ``GenerationStartedEvent``, ``ImageSetEvent``, ...), ``<Name>Message`` is
their union, and ``on_<name>`` delivers the matching record (kinds it does not know are
skipped, so a newer model does not break an older SDK).  A message whose ``data`` is not an
object is delivered as is (``Any``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..schema import MessageSpec
from .names import REACTOR_ATTRIBUTES, map_classes, map_names, pascal_name, snake_name
from .text import docstring, exploded
from .types import Annotator, py_literal, union

RECORD_DECORATOR = "@dataclass(frozen=True, kw_only=True, slots=True)"


@attrs.frozen(kw_only=True)
class Record:
    """One dataclass to emit."""

    name: str
    description: str
    fields: tuple[tuple[str, str, Mapping[str, Any], bool], ...]  # wire, python, schema, req
    tag: tuple[str, str, str] | None = None  # (wire key, python field, value) of a variant


@attrs.frozen(kw_only=True)
class MessagePlan:
    """How one message type is delivered."""

    wire: str
    decorator: str
    annotation: str  # what the handler receives
    records: tuple[Record, ...]
    variants: tuple[tuple[str, str], ...] = ()  # (tag value, record name)
    tag_key: str = ""
    description: str = ""


def _object(schema: Any) -> Mapping[str, Any] | None:
    if isinstance(schema, Mapping) and isinstance(schema.get("properties"), Mapping):
        return schema
    return None


def _pinned(branch: Mapping[str, Any], key: str) -> Any:
    """The constant a branch pins ``key`` to, or None."""
    prop = branch["properties"].get(key)
    if not isinstance(prop, Mapping):
        return None
    if isinstance(prop.get("const"), str):
        return prop["const"]
    enum = prop.get("enum")
    if isinstance(enum, list) and len(enum) == 1 and isinstance(enum[0], str):
        return enum[0]
    return None


def find_variants(schema: Any) -> tuple[str, list[tuple[str, Mapping[str, Any]]]] | None:
    """``(tag key, [(tag value, branch), ...])`` for a tagged-union schema, else None."""
    if not isinstance(schema, Mapping):
        return None
    branches = schema.get("oneOf") or schema.get("anyOf")
    if not isinstance(branches, list) or not branches:
        return None
    objects = [_object(branch) for branch in branches]
    if any(branch is None for branch in objects):
        return None
    candidates: list[str] = []
    discriminator = schema.get("discriminator")
    if isinstance(discriminator, Mapping) and isinstance(discriminator.get("propertyName"), str):
        candidates = [discriminator["propertyName"]]
    else:
        first = objects[0]
        assert first is not None
        candidates = list(first["properties"])
    for key in candidates:
        values = [_pinned(branch, key) for branch in objects if branch is not None]
        if all(value is not None for value in values) and len(set(values)) == len(values):
            return key, [(value, branch) for value, branch in zip(values, objects, strict=True)
                         if branch is not None]
    return None


def _fields(schema: Mapping[str, Any], *, owner: str,
            skip: str | None = None) -> tuple[tuple[str, str, Mapping[str, Any], bool], ...]:
    properties: Mapping[str, Any] = schema["properties"]
    required = schema.get("required", [])
    wires = [name for name in properties if name != skip]
    python = map_names([*wires, *([skip] if skip else [])], kind="field", prefix="arg_",
                       owner=owner, reserved=("from_data",))
    return tuple((wire, python[wire], properties[wire] if isinstance(properties[wire], Mapping)
                  else {}, wire in required) for wire in wires)


def plan_messages(messages: Sequence[MessageSpec], *, reserved: set[str]) -> list[MessagePlan]:
    """Record and decorator names for every message (raises TypegenError on collisions)."""
    classes = map_classes([m.name for m in messages], kind="message", reserved=reserved,
                          suffix="Message")
    reserved.update(classes.values())
    decorators = map_names([f"on_{m.name}" for m in messages], kind="message", prefix="on_",
                           reserved=REACTOR_ATTRIBUTES)
    plans: list[MessagePlan] = []
    for message in messages:
        name = classes[message.name]
        decorator = decorators[f"on_{message.name}"]
        variants = find_variants(message.schema)
        if variants is not None:
            key, branches = variants
            suffix = pascal_name(message.name)
            kinds = map_classes([value for value, _ in branches], kind=f"{message.name} kind",
                                reserved=reserved, suffix=suffix)
            reserved.update(kinds.values())
            records = tuple(Record(
                name=kinds[value],
                description=str(branch.get("description") or
                                f"The {value!r} kind of the {message.name!r} message."),
                fields=_fields(branch, owner=message.name, skip=key),
                tag=(key, map_names([key], kind="field", prefix="arg_")[key], value),
            ) for value, branch in branches)
            plans.append(MessagePlan(
                wire=message.name, decorator=decorator, annotation=name, records=records,
                variants=tuple((value, kinds[value]) for value, _ in branches), tag_key=key,
                description=message.description))
        elif _object(message.schema) is not None:
            record = Record(name=name, description=message.description or
                            f"The {message.name!r} message.",
                            fields=_fields(message.schema, owner=message.name))
            plans.append(MessagePlan(wire=message.name, decorator=decorator, annotation=name,
                                     records=(record,), description=message.description))
        else:
            plans.append(MessagePlan(wire=message.name, decorator=decorator, annotation="Any",
                                     records=(), description=message.description))
    return plans


def record_source(record: Record, annotator: Annotator, *, owner: str) -> list[str]:
    """The dataclass of one record."""
    lines = [RECORD_DECORATOR, f"class {record.name}:"]
    lines += docstring(record.description, indent="    ")
    lines.append("")
    if record.tag is not None:
        _, field, value = record.tag
        literal = f"{annotator.context.use('typing', 'Literal')}[{py_literal(value)}]"
        lines.append(f"    {field}: {literal} = {py_literal(value)}")
    for wire, python, schema, required in record.fields:
        hint = f"{record.name}{pascal_name(wire)}"
        annotation = annotator.annotate(schema, owner=owner, where=f"field {wire!r}",
                                        hint=hint)
        if required:
            lines.append(f"    {python}: {annotation}")
        else:
            lines.append(f"    {python}: {union([annotation, 'None'])} = None")
    lines += ["", "    @classmethod",
              "    def from_data(cls, data: Mapping[str, Any]) -> Self:"]
    lines += docstring("Build the record from a message's ``data`` object.", indent="        ")
    args = [f"{python}=data[{py_literal(wire)}]" if required
            else f"{python}=data.get({py_literal(wire)})"
            for wire, python, _, required in record.fields]
    one = f"        return cls({', '.join(args)})"
    if not args:
        lines.append("        return cls()")
    elif len(one) <= 100:
        lines.append(one)
    else:
        lines += exploded("return cls", args, "", indent="        ")
    for module, name in (("collections.abc", "Mapping"), ("typing", "Any"), ("typing", "Self"),
                         ("dataclasses", "dataclass")):
        annotator.context.use(module, name)
    return lines


def decoder_source(plan: MessagePlan, annotator: Annotator) -> list[str]:
    """For a variant message: its union alias and the kind -> decoder table."""
    if not plan.variants:
        return []
    annotator.context.use("typing", "TypeAlias")
    annotator.context.use("collections.abc", "Callable")
    names = [record for _, record in plan.variants]
    one = f"{plan.annotation}: TypeAlias = {' | '.join(names)}"
    lines = [one] if len(one) <= 100 else [
        f"{plan.annotation}: TypeAlias = (", f"    {names[0]}",
        *(f"    | {name}" for name in names[1:]), ")"]
    table = variants_table(plan.wire)
    lines += ["", f"{table}: dict[str, Callable[[Mapping[str, Any]], {plan.annotation}]] = {{",
              *(f"    {py_literal(value)}: {record}.from_data," for value, record in
                plan.variants), "}"]
    return lines


def variants_table(wire: str) -> str:
    """The private name of a variant message's decoder table (``_EVENT_KINDS``)."""
    return f"_{snake_name(wire, prefix='m').upper()}_KINDS"
