"""Resolve a model spec: a built-in name (``helios``, ``echo``, ``tone``) or
``package.module:Class``.

The class part may be a dotted attribute path (``pkg.mod:Outer.Inner``).  Every failure is
a :class:`ModelSpecError` whose message names the spec and what was wrong with it.
"""

from __future__ import annotations

import importlib
import re

from reactor_proto.errors import LocalProtocolError

from .base import Model
from .echo import Echo
from .helios import Helios
from .tone import Tone

BUILTIN_MODELS: dict[str, type[Model]] = {"echo": Echo, "helios": Helios, "tone": Tone}

_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


class ModelSpecError(LocalProtocolError):
    """A model spec does not name a model class."""


def resolve_model(spec: str) -> type[Model]:
    """The model class named by ``spec``."""
    spec = spec.strip()
    if ":" not in spec:
        if spec in BUILTIN_MODELS:
            return BUILTIN_MODELS[spec]
        raise ModelSpecError(
            f"model spec {spec!r}: not a built-in model (built-ins: "
            f"{', '.join(sorted(BUILTIN_MODELS))}) and not of the form 'package.module:Class'")
    module_name, _, attribute = spec.partition(":")
    if not _MODULE.fullmatch(module_name) or not _MODULE.fullmatch(attribute):
        raise ModelSpecError(
            f"model spec {spec!r}: expected 'package.module:Class' with Python identifiers")
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelSpecError(f"model spec {spec!r}: cannot import {module_name!r} ({exc})") \
            from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ModelSpecError(
                f"model spec {spec!r}: {module_name!r} has no attribute {attribute!r}") from None
    if not (isinstance(target, type) and issubclass(target, Model)) or target is Model:
        raise ModelSpecError(
            f"model spec {spec!r}: {target!r} is not a subclass of reactor_anyio.models.Model")
    if not isinstance(getattr(target, "name", None), str) or not target.name:
        raise ModelSpecError(f"model spec {spec!r}: {target.__name__} has no `name` attribute")
    return target
