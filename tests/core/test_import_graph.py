"""The import graph of ``reactor_proto`` has no cycle anywhere in the package.

The graph is built from the source (``ast``), not by importing: every ``import`` and
``from ... import`` statement counts wherever it stands, at module level, inside a function
(the usual way to hide a cycle from the interpreter) and under ``if TYPE_CHECKING:``.
Annotation-only imports are counted on purpose: they do not run, but they are a dependency
of the design all the same, and a cycle that only type checking sees is still two modules
that cannot be understood, or moved, one without the other.

``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``.
Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``; those implicit edges are
left out, or every package that re-exports its submodules would be in a cycle with them.

Cycles are searched in the whole graph (so a cycle that leaves the scope and comes back is
found) and reported when they touch a module of :data:`SCOPE`, which is now the whole core
(it grew package by package as each cycle was broken).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "reactor_proto"
#: Module name prefixes whose modules must not be on an import cycle: the whole core.
SCOPE = ["reactor_proto"]

Graph = dict[str, set[str]]


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` under ``root``, by dotted name (packages by their own)."""
    modules: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    parts = module.split(".")
    anchor = parts if is_package else parts[:-1]
    anchor = anchor[:len(anchor) - (node.level - 1)]
    return ".".join([*anchor, *([node.module] if node.module else [])])


def imports_of(module: str, path: Path, known: Iterable[str]) -> set[str]:
    """The modules of ``known`` that ``module`` imports, anywhere in its source."""
    known = set(known)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, is_package, node)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return {name for name in found if name in known and name != module}


def build_graph(root: Path, package: str) -> Graph:
    modules = module_files(root, package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def in_scope(module: str, scope: Iterable[str]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in scope)


def test_no_import_cycle_in_scope() -> None:
    graph = build_graph(ROOT, PACKAGE)
    assert "reactor_proto.coordinator.machine" in graph
    bad = [component for component in cycles(graph)
           if any(in_scope(module, SCOPE) for module in component)]
    assert not bad, "import cycles: " + "; ".join(" <-> ".join(c) for c in bad)


def test_scope_names_existing_modules() -> None:
    graph = build_graph(ROOT, PACKAGE)
    for prefix in SCOPE:
        assert any(in_scope(module, [prefix]) for module in graph), prefix


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A package whose cycles are hidden in a function and under TYPE_CHECKING."""
    pkg = tmp_path / "toy"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .a import A\n")
    (pkg / "a.py").write_text("from .b import B\nA = 1\n")
    (pkg / "b.py").write_text("def f():\n    from . import a\nB = 2\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\n"
                              "if TYPE_CHECKING:\n    from .sub.d import D\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "d.py").write_text("import toy.c\nfrom .. import b\nD = 3\n")
    return tmp_path


def test_builder_sees_hidden_imports(toy: Path) -> None:
    graph = build_graph(toy, "toy")
    assert graph["toy"] == {"toy.a"}
    assert graph["toy.b"] == {"toy.a"}            # function-level, ``from . import module``
    assert graph["toy.c"] == {"toy.sub.d"}        # TYPE_CHECKING
    assert graph["toy.sub.d"] == {"toy.c", "toy.b"}
    assert cycles(graph) == [["toy.a", "toy.b"], ["toy.c", "toy.sub.d"]]
    assert in_scope("toy.sub.d", ["toy.sub"]) and not in_scope("toy.subway", ["toy.sub"])
