"""What the HTTP routes need from the machine, as a protocol.

:mod:`.routes` is written against :class:`RouteHost`, not against ``RuntimeMachine``, so the
machine can import the routes at module level without the routes importing the machine
back: the runtime package has no import cycle, not even one hidden behind ``TYPE_CHECKING``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Protocol

from ..bodies.records import SdpOffer
from .actions import RuntimeAction
from .config import RuntimeConfig
from .connections import Connection, ConnectionRegistry
from .descriptor import ModelDocuments
from .events import SessionState
from .step_store import StepStore
from .stepping import StartOptions, Stepper
from .uploads import UploadStore


class RouteHost(Protocol):
    """The machine as the routes see it (``RuntimeMachine`` satisfies it)."""

    @property
    def config(self) -> RuntimeConfig: ...

    @property
    def documents(self) -> ModelDocuments: ...

    @property
    def connections(self) -> ConnectionRegistry: ...

    @property
    def uploads(self) -> UploadStore: ...

    @property
    def state(self) -> SessionState: ...

    @property
    def stepper(self) -> Stepper: ...

    @property
    def step_store(self) -> StepStore: ...

    def check_start_options(self, options: StartOptions) -> str | None: ...

    def start_session(self, extra_args: Mapping[str, Any], now: float, *,
                      options: StartOptions | None = None) -> bool: ...

    def stop_session(self, reason: str, now: float) -> bool: ...

    def rng_for_ids(self) -> random.Random: ...

    def accept_offer(self, conn: Connection, offer: SdpOffer, now: float) -> None: ...

    def queue(self, action: RuntimeAction) -> None: ...
