"""Lazy package attributes (PEP 562): a public name is imported from its submodule on first use.

A package ``__init__`` lists its names under ``if TYPE_CHECKING:`` (what type checkers and
readers see) and, at run time, installs the ``__getattr__``/``__dir__`` pair built here from
a table ``name -> "submodule"`` (or ``"submodule:attribute"`` for a renamed export), so that
``import package`` costs only the package itself and ``from package import Name`` loads just
the submodule that defines ``Name``.  Pure: no I/O beyond the import system.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from typing import Any


def _load(name: str) -> Any:
    """Import the module ``name`` through the ``import`` statement's own path (unlike
    ``importlib.import_module``, ``python -X importtime`` then reports it on its own line)."""
    __import__(name)
    return sys.modules[name]


def lazy_attributes(package: str, table: Mapping[str, str]
                    ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` serving the names of ``table``.

    A name spelled like the submodule it comes from (``sniff`` from ``.sniff``) is bound at
    once: importing that submodule, by anyone, would otherwise set the package attribute to
    the module itself, as it did before the eager import that now runs here replaced it.
    """
    namespace = importlib.import_module(package).__dict__
    for name, target in table.items():
        module_name, _, attribute = target.partition(":")
        if module_name.rpartition(".")[2] == name:
            namespace[name] = getattr(_load(importlib.util.resolve_name(module_name, package)),
                                      attribute or name)

    def __getattr__(name: str) -> Any:
        target = table.get(name)
        if target is None:
            if not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}"):
                # ``package.submodule`` without importing it first worked before the package
                # was lazy (the eager imports had loaded it): keep it working
                return _load(f"{package}.{name}")
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module_name, _, attribute = target.partition(":")
        module = _load(importlib.util.resolve_name(module_name, package))
        value = getattr(module, attribute or name)
        namespace[name] = value  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__

