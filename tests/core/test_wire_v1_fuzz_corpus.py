"""Replays the committed seeds of the three v1 fuzz harnesses in pytest, so a change that
breaks a harness's oracle on a seed fails the ordinary test run."""

from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUZZ = ROOT / "fuzz"


def _harness(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"harness_{name}", FUZZ / f"harness_{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SEEDS = [(name, path) for name in ("wire_v1", "v1_chunks", "v1_fastpath")
         for path in sorted((FUZZ / "corpus" / name).iterdir())]


@pytest.mark.parametrize(("name", "seed"), SEEDS, ids=[f"{n}/{p.name}" for n, p in SEEDS])
def test_seed_meets_the_oracle(name: str, seed: Path) -> None:
    harness = _harness(name)
    data = seed.read_bytes()
    with contextlib.suppress(*harness.ACCEPTED):
        harness.one_input(data)
    # Every prefix too: the oracle must hold for truncated input as well.
    for cut in range(len(data)):
        with contextlib.suppress(*harness.ACCEPTED):
            harness.one_input(data[:cut])
