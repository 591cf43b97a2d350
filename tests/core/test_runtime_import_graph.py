"""The modules of ``reactor_proto.runtime`` import each other without a cycle.

Every import statement counts, wherever it is: at module level, inside a function, or
behind ``if TYPE_CHECKING:`` (a cycle hidden there is still a cycle in the design).
"""

from __future__ import annotations

import ast
from pathlib import Path

import reactor_proto.runtime

PACKAGE = "reactor_proto.runtime"
ROOT = Path(reactor_proto.runtime.__file__).resolve().parent


def module_name(path: Path) -> str:
    return PACKAGE if path.name == "__init__.py" else f"{PACKAGE}.{path.stem}"


def resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """Modules of the package named by one ``from ... import ...`` statement."""
    if node.level:
        parts = importer.split(".")
        base = parts if is_package else parts[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    names = [f"{target}.{alias.name}" for alias in node.names]
    return [target, *names]


def imports_of(path: Path) -> set[str]:
    importer = module_name(path)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.update(resolve(importer, path.name == "__init__.py", node))
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in ROOT.glob("*.py")}
    return {name: {target for target in imports_of(path)
                   if target in modules and target != name}
            for name, path in modules.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in stack:
            return [*stack[stack.index(node):], node]
        if node in done:
            return None
        stack.append(node)
        for nxt in sorted(edges[node]):
            cycle = visit(nxt)
            if cycle is not None:
                return cycle
        stack.pop()
        done.add(node)
        return None

    for start in sorted(edges):
        cycle = visit(start)
        if cycle is not None:
            return cycle
    return None


def test_runtime_modules_import_each_other_without_a_cycle() -> None:
    edges = graph()
    assert f"{PACKAGE}.machine" in edges and f"{PACKAGE}.routes" in edges
    assert f"{PACKAGE}.routes" in edges[f"{PACKAGE}.machine"]
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges) or [])


def test_the_checker_sees_hidden_and_relative_imports(tmp_path: Path) -> None:
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
              "    from .machine import RuntimeMachine\n"
              "def f():\n    from . import routes\n    import reactor_proto.runtime.events\n")
    path = tmp_path / "probe.py"
    path.write_text(source)
    found = imports_of(path)
    assert {f"{PACKAGE}.machine", f"{PACKAGE}.routes", f"{PACKAGE}.events"} <= found
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
