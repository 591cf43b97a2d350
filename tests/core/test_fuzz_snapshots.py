"""The route harnesses restore a pickled, set-up runtime per input instead of building one.

That is only sound if a restored runtime is indistinguishable from a freshly built one: fed
the same input, both must end in the same state, compared field by field all the way down
(pickle's bytes differ only in which equal strings happen to be shared).  Checked here on
every committed seed of both harnesses, and on each seed cut short.
"""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESSES = ("runtime_routes", "uploads")


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"harness_{name}_snapshot", ROOT / "fuzz" / f"harness_{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MODULES = {name: load(name) for name in HARNESSES}
CASES = [(name, seed) for name in HARNESSES
         for seed in sorted((ROOT / "fuzz" / "corpus" / name).iterdir())]


def state_of(value: Any, depth: int = 0) -> Any:
    """``value`` as nested plain data: every object becomes its class name and its fields."""
    assert depth < 80, "state nested too deeply to compare"
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    if isinstance(value, (list, tuple)):
        return [state_of(item, depth + 1) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted(repr(state_of(item, depth + 1)) for item in value)
    if isinstance(value, dict):
        return [(repr(key), state_of(item, depth + 1)) for key, item in value.items()]
    if isinstance(value, type) or (callable(value) and not hasattr(value, "__dict__")):
        return repr(value)
    return (type(value).__qualname__, state_of(value.__getstate__(), depth + 1))


def final_state(module: ModuleType, setups: list[Any], data: bytes) -> Any:
    if len(setups) == 2:
        module.exercise(setups[0], setups[1], data)
    else:
        module.exercise(*setups[0], data)
    return state_of([setup[0] for setup in setups])


@pytest.mark.parametrize(("name", "seed"), CASES, ids=[f"{n}-{s.name}" for n, s in CASES])
def test_restored_runtime_behaves_like_a_fresh_one(name: str, seed: Path) -> None:
    module = MODULES[name]
    count = 2 if name == "runtime_routes" else 1
    whole = seed.read_bytes()
    for data in (whole, whole[: len(whole) // 2]):
        fresh = final_state(module, [module._setup() for _ in range(count)], data)
        restored = final_state(module, [pickle.loads(module._SNAPSHOT) for _ in range(count)],
                               data)
        assert fresh == restored
