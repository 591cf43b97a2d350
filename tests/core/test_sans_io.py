"""The core must import and work with every I/O module poisoned."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

BLOCKED = ["asyncio", "anyio", "trio", "sniffio", "socket", "ssl", "selectors", "threading",
           "aiortc", "aioice", "av", "numpy"]


def test_core_imports_with_io_modules_blocked() -> None:
    root = Path(__file__).resolve().parents[2]
    script = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys
        class Blocker:
            # Blocks an I/O module when reactor_proto itself imports it; third-party
            # dependencies (attrs uses threading) may use what they like.
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] not in {BLOCKED!r}:
                    return None
                frame = sys._getframe(1)
                while frame is not None:
                    caller = frame.f_globals.get("__name__", "")
                    if not caller.startswith(("importlib", "_frozen_importlib")):
                        break
                    frame = frame.f_back
                if caller.startswith("reactor_proto"):
                    raise ImportError(f"reactor_proto imports I/O module {{name}} ({{caller}})")
                return None
        sys.meta_path.insert(0, Blocker())
        import reactor_proto
        names = [m.name for m in pkgutil.walk_packages(reactor_proto.__path__, "reactor_proto.")]
        for name in names:
            importlib.import_module(name)
        print("imported", len(names) + 1)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("imported ")


def test_core_reads_no_clock_and_no_global_randomness() -> None:
    root = Path(__file__).resolve().parents[2] / "reactor_proto"
    forbidden = ("time.time(", "time.monotonic(", "time.perf_counter(", "time.sleep(",
                 "random.random(", "random.randint(", "random.choice(", "os.urandom(",
                 "uuid.uuid4(", "datetime.now(")
    offenders = [
        f"{path.relative_to(root)}: {token}"
        for path in root.rglob("*.py")
        for token in forbidden
        if token in path.read_text()
    ]
    assert offenders == []


def test_core_source_imports_no_io_module() -> None:
    """Static twin of the import test: catches modules another package already loaded."""
    import ast

    root = Path(__file__).resolve().parents[2] / "reactor_proto"
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in BLOCKED]
    assert offenders == []
