"""Fixtures for the trio bridge: every test here runs inside ``trio.run``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import trio


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


def thread_names() -> set[str]:
    """Live threads other than the pytest main thread and trio's idle worker cache."""
    return {t.name for t in threading.enumerate()
            if t is not threading.main_thread() and not t.name.startswith("Trio thread")}


async def wait_until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    """Poll ``predicate`` every 10 ms in trio; fail the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within} s")
        await trio.sleep(0.01)


def living_tasks() -> int:
    return int(trio.lowlevel.current_statistics().tasks_living)
