"""Commands of a model: the :func:`command` marker, how a model class's commands are
collected, and what a command may return (:class:`CommandReply`) or raise
(:class:`CommandError`).  Split from :mod:`.base`, which re-exports the public names."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

import attrs

from .signature import UPLOAD_REFERENCE_REF, DerivedParam, ModelDefinitionError, derive_parameters

F = TypeVar("F", bound=Callable[..., Any])

_COMMAND_MARK = "__reactor_command__"


@attrs.frozen(kw_only=True)
class CommandInfo:
    """A command as collected from a model class."""

    name: str
    description: str
    attribute: str
    params: tuple[DerivedParam, ...]


@attrs.frozen(kw_only=True)
class _CommandMark:
    name: str | None
    description: str | None


@overload
def command(fn: F, /) -> F: ...


@overload
def command(*, name: str | None = None, description: str | None = None) -> Callable[[F], F]: ...


def command(fn: Any = None, /, *, name: str | None = None,
            description: str | None = None) -> Any:
    """Mark a model method as a command; bare (``@command``) or with arguments.

    ``name`` defaults to the method name; ``description`` to the first line of the docstring,
    else ``"Trigger <name>"`` (what the official runtime publishes).
    """

    def mark(target: F) -> F:
        setattr(target, _COMMAND_MARK, _CommandMark(name=name, description=description))
        return target

    return mark if fn is None else mark(fn)


def _first_doc_line(fn: Callable[..., Any]) -> str:
    doc = inspect.getdoc(fn) or ""
    return next((line.strip() for line in doc.splitlines() if line.strip()), "")


def collect_commands(cls: type) -> dict[str, CommandInfo]:
    """The commands of a model class by name; a decorated method overridden by an
    undecorated attribute is no longer a command."""
    marked: dict[str, tuple[Callable[..., Any], _CommandMark]] = {}
    for klass in reversed(cls.__mro__):
        for attribute, value in vars(klass).items():
            mark = getattr(value, _COMMAND_MARK, None)
            if isinstance(mark, _CommandMark):
                marked[attribute] = (value, mark)
            else:
                marked.pop(attribute, None)  # overridden by an undecorated attribute
    commands: dict[str, CommandInfo] = {}
    for attribute, (fn, mark) in marked.items():
        command_name = mark.name or attribute
        where = f"{cls.__name__}.{command_name}"
        if not command_name.isidentifier():
            raise ModelDefinitionError(f"{where}: command name {command_name!r} is not an "
                                       "identifier")
        if command_name in commands:
            raise ModelDefinitionError(
                f"{where}: command name {command_name!r} is used by both "
                f"{commands[command_name].attribute!r} and {attribute!r}")
        description = mark.description or _first_doc_line(fn) or f"Trigger {command_name}"
        commands[command_name] = CommandInfo(
            name=command_name, description=description, attribute=attribute,
            params=derive_parameters(fn, where=where))
    return commands


def with_upload_component(schema: Any, component: Mapping[str, Any]) -> Any:
    """Replace the ReactorUploadReference ``$ref`` by the component (ParamSpec is resolved)."""
    if isinstance(schema, Mapping):
        if schema.get("$ref") == UPLOAD_REFERENCE_REF:
            return dict(component)
        return {k: with_upload_component(v, component) for k, v in schema.items()}
    if isinstance(schema, list):
        return [with_upload_component(v, component) for v in schema]
    return schema


@attrs.frozen
class CommandReply:
    """What a command returns to answer its sender: a model message (``type``, ``data``).
    A v1 client receives it as the command's correlated reply; a v0 client as a plain
    application message addressed to it."""

    type: str
    data: Mapping[str, Any] = attrs.field(factory=dict)


class CommandError(Exception):
    """Raised by a command to fail with its own ``code`` and ``message``; a v1 client gets
    them as the command's error reply (any other exception becomes ``internal_error``)."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message
