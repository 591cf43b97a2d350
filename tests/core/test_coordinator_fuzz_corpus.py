"""Replays the committed fuzz corpus of ``fuzz/harness_coordinator_routes.py`` in pytest."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted((ROOT / "fuzz" / "corpus" / "coordinator_routes").iterdir())


def _harness() -> object:
    spec = importlib.util.spec_from_file_location(
        "harness_coordinator_routes", ROOT / "fuzz" / "harness_coordinator_routes.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_seed(seed: Path) -> None:
    harness = _harness()
    harness.one_input(seed.read_bytes())  # type: ignore[attr-defined]
    harness.one_input(seed.read_bytes()[:-3] + b"\x00\xff{")  # type: ignore[attr-defined]
