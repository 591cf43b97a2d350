"""Drop-in tests: the e2e fixtures (both backends, the trio leak check) and local runtimes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from reactor_anyio.runtime import LocalRuntime
from tests.e2e.conftest import (  # noqa: F401 - fixtures, registered by import
    _leak_check_under_trio,
    anyio_backend,
    hosted,
    trio_leak_check,
)


@pytest.fixture
async def helios() -> AsyncIterator[LocalRuntime]:
    async with hosted("helios", model_options={"fps": 30}) as runtime:
        yield runtime


@pytest.fixture
async def echo() -> AsyncIterator[LocalRuntime]:
    async with hosted("echo") as runtime:
        yield runtime
