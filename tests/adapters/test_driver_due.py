"""ClientDriver runs a deadline that is already due when an input leaves it, in the same
call (a reconnect with no delay starts at once, not a few loop iterations later)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from reactor_anyio.client.driver import ClientDriver

pytestmark = pytest.mark.anyio


class StubMachine:
    """A machine whose deadline is set by a test input; handle_timeout records its calls."""

    def __init__(self) -> None:
        self.deadline: float | None = None
        self.timeouts: list[float] = []
        self.stuck = False  # handle_timeout leaves the deadline where it was

    def set_deadline(self, at: float, now: float) -> None:
        self.deadline = at

    def next_deadline(self) -> float | None:
        return self.deadline

    def handle_timeout(self, now: float) -> None:
        self.timeouts.append(now)
        if not self.stuck:
            self.deadline = None

    def drain_actions(self) -> list[Any]:
        return []

    def drain_events(self) -> list[Any]:
        return []


def driver_for(machine: StubMachine, clock: list[float]) -> ClientDriver:
    return ClientDriver(machine, http=None, peer_factory=None,  # type: ignore[arg-type]
                        on_event=lambda e: None, on_peer=lambda i, p: None,
                        clock=lambda: clock[0])


async def test_a_due_deadline_runs_within_the_input_that_set_it() -> None:
    machine, clock = StubMachine(), [100.0]
    driver = driver_for(machine, clock)
    async with anyio.create_task_group() as tg:
        tg.start_soon(driver.run)
        await driver.started()
        driver.feed(lambda now: machine.set_deadline(now, now))
        assert machine.timeouts == [100.0]  # before any await
        driver.feed(lambda now: machine.set_deadline(now + 5, now))
        assert machine.timeouts == [100.0]  # not due: left to the timer task
        tg.cancel_scope.cancel()


async def test_a_deadline_left_in_the_past_runs_once_per_input() -> None:
    machine, clock = StubMachine(), [100.0]
    machine.stuck = True
    driver = driver_for(machine, clock)
    async with anyio.create_task_group() as tg:
        tg.start_soon(driver.run)
        await driver.started()
        driver.feed(lambda now: machine.set_deadline(now, now))  # no recursion
        assert machine.timeouts == [100.0]
        tg.cancel_scope.cancel()


async def test_nothing_runs_before_the_driver_does() -> None:
    machine, clock = StubMachine(), [100.0]
    driver = driver_for(machine, clock)
    driver.feed(lambda now: machine.set_deadline(now, now))
    assert machine.timeouts == []
