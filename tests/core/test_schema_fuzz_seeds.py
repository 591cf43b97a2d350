"""The committed fuzz seeds pass their harness oracle (keeps fuzz/ honest in the test run)."""

from __future__ import annotations

import contextlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"harness_{name}", FUZZ / f"harness_{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SEEDS = [(name, path) for name in ("schema", "capabilities")
         for path in sorted((FUZZ / "corpus" / name).iterdir())]


@pytest.mark.parametrize(("name", "path"), SEEDS, ids=[f"{n}/{p.name}" for n, p in SEEDS])
def test_seed_meets_the_oracle(name: str, path: Path) -> None:
    harness = load(name)
    data = path.read_bytes()
    with contextlib.suppress(*harness.ACCEPTED):
        harness.one_input(data)
    # Truncated and padded variants exercise the rejection paths the same way.
    for variant in (data[: len(data) // 2], data + b"garbage", b""):
        with contextlib.suppress(*harness.ACCEPTED):
            harness.one_input(variant)


def test_expected_rejections() -> None:
    schema = load("schema")
    for seed, fragment in (("cyclic_ref.json", "cyclic $ref"),
                           ("deep_nesting.json", "deeper than"),
                           ("ref_fan_out.json", "expands to more than")):
        with pytest.raises(schema.ACCEPTED, match=re.escape(fragment)):
            schema.one_input((FUZZ / "corpus" / "schema" / seed).read_bytes())
