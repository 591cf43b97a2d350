"""Hosting :class:`~reactor_anyio.runtime.LocalRuntime` instances inside the coordinator.

The coordinator machine queues its runtime calls as actions (``AssignGpu``, ``PollRuntime``,
``ForwardToRuntime``, ``ReleaseRuntime``); the emulator performs each with
:meth:`HostedLocalRuntime.handle_http`, which feeds the request to the runtime's own machine
and then has the runtime adapter perform whatever that queued (create the answer, close a
peer, ...), as if the request had arrived on the runtime's own listener.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from reactor_proto.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from reactor_anyio.runtime import LocalRuntime

#: Bound on waiting for a hosted runtime's answer before the offer's 202 is sent.
ANSWER_WAIT = 5.0


class HostedLocalRuntime:
    """One GPU slot: a LocalRuntime driven in-process by the coordinator emulator.

    A runtime call goes straight to the runtime's machine; ``LocalRuntime.pump()`` then
    performs the actions that call queued, exactly as the runtime does after its own
    requests.
    """

    def __init__(self, runtime: LocalRuntime, *, slot: int,
                 on_change: Callable[[], None]) -> None:
        self.runtime = runtime
        self.slot = slot
        self._on_change = on_change
        self._answers: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        return f"HostedLocalRuntime(slot={self.slot}, state={self.runtime.machine.state.value})"

    def handle_http(self, request: HttpRequest, now: float) -> HttpResponse:
        response: HttpResponse = self.runtime.machine.handle_request(request, now)
        self._pump()
        return response

    def _pump(self) -> None:
        answers = self.runtime.pump()
        self._answers.extend(answers)
        self._on_change()

    async def settle(self, within: float = ANSWER_WAIT) -> None:
        """Wait for the answers started by the last calls, as the runtime's own offer route
        does: the 202 goes out with the answer ready, so the first poll gets it."""
        answers, self._answers = self._answers, []
        pending = [task for task in answers if not task.done()]
        if pending:
            await asyncio.wait([asyncio.ensure_future(asyncio.shield(t)) for t in pending],
                               timeout=within)

    def stop_session(self, now: float) -> None:
        """Tear the runtime's session down (peers included), as a lost GPU would."""
        self.runtime.machine.stop_session("runtime_lost", now)
        self._pump()

    def drop_peers(self, now: float) -> int:
        """Close every connection's peer from the runtime side, as a network drop noticed
        by the runtime would: the machine removes the connections (ORPHANED when it was the
        last one, so the reconnect grace window starts) and the peers are closed."""
        dropped = self.runtime.machine.drop_transports(now)
        self._pump()
        return dropped


async def open_runtimes(stack: contextlib.AsyncExitStack, model: str, *, count: int,
                        model_options: Mapping[str, Any], orphan_timeout: float,
                        host: str, on_change: Callable[[], None]
                        ) -> tuple[HostedLocalRuntime, ...]:
    """Start ``count`` runtimes serving ``model`` (closed by ``stack``).  Each also listens on
    a free port of ``host`` (unused: the coordinator calls it in-process); its ICE
    candidates are restricted the same way a local runtime on ``host`` restricts them."""
    from reactor_anyio.runtime import LocalRuntime

    hosted = []
    for slot in range(count):
        runtime = LocalRuntime(model, host=host, port=0, model_options=dict(model_options),
                               orphan_timeout=orphan_timeout)
        await stack.enter_async_context(runtime)
        hosted.append(HostedLocalRuntime(runtime, slot=slot, on_change=on_change))
    return tuple(hosted)
