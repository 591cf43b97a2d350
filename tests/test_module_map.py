"""The design note's module map is generated from the tree and kept current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_module_map_describes_the_tree_as_it_is() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "docs" / "gen_module_map.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_core_module_is_in_the_map() -> None:
    page = (ROOT / "docs" / "design" / "core-modules.md").read_text(encoding="utf-8")
    core = ROOT / "reactor_proto"
    for path in core.rglob("*.py"):
        rel = path.relative_to(core)
        if rel.parent.name != "proto":
            assert f"| `{rel.as_posix()}` |" in page, rel
