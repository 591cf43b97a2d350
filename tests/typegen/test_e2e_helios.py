"""HeliosModel against the local runtime serving ``helios``, over real sockets and WebRTC, on
both anyio backends: typed methods drive the model, typed handlers receive its messages, and
``reactor typegen --url`` reads the same schema from the running runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from reactor_anyio import HeliosModel, ReactorStatus
from reactor_anyio.runtime import LocalRuntime
from reactor_anyio.sdk.helios import (
    EventMessage,
    GenerationStartedEvent,
    PromptScheduledEvent,
    StateMessage,
)
from reactor_anyio.typegen import fetch_schema
from reactor_proto.typegen import generate_sdk

pytestmark = pytest.mark.anyio

CHECKED_IN = Path(__file__).resolve().parents[2] / "reactor_anyio" / "sdk" / "helios.py"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def helios(anyio_backend: str) -> AsyncIterator[LocalRuntime]:
    if anyio_backend == "trio":  # aiortc is asyncio-only: host it on the bridge's thread
        from reactor_trio_compat import TrioHostedRuntime

        runtime: Any = TrioHostedRuntime("helios", model_options={"fps": 30})
    else:
        runtime = LocalRuntime("helios", model_options={"fps": 30})
    async with runtime:
        yield runtime


async def wait_for(predicate: Any, within: float = 10.0) -> None:
    with anyio.fail_after(within):
        while not predicate():  # noqa: ASYNC110  (handlers append from the client's tasks)
            await anyio.sleep(0.01)


async def test_typed_methods_and_typed_handlers(helios: LocalRuntime) -> None:
    states: list[StateMessage] = []
    events: list[EventMessage] = []
    async with HeliosModel(local=True, api_url=helios.url) as model:
        model.on_state(states.append)

        @model.on_event
        async def on_event(event: EventMessage) -> None:
            events.append(event)

        await model.connect()
        assert model.get_status() is ReactorStatus.READY
        await model.set_seed(seed=7)
        await model.schedule_prompt(prompt="A forest at dawn", chunk=0)
        await model.start()
        await wait_for(lambda: any(s.running and s.current_frame > 0 for s in states))
        await wait_for(lambda: any(isinstance(e, GenerationStartedEvent) for e in events))
    assert all(isinstance(state, StateMessage) for state in states)
    assert PromptScheduledEvent(chunk=0, prompt="A forest at dawn") in events
    started = next(e for e in events if isinstance(e, GenerationStartedEvent))
    assert started.prompt == "A forest at dawn"
    assert any(s.scheduled_prompts == {"0": "A forest at dawn"} for s in states)


async def test_typegen_url_reads_the_running_runtime(helios: LocalRuntime) -> None:
    document = await fetch_schema(helios.url)
    assert generate_sdk(document, class_name="HeliosModel") == CHECKED_IN.read_text()
