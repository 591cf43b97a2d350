"""The runtime's two queues: actions for the adapter, events for the model host."""

from __future__ import annotations

from collections import deque

from .actions import RuntimeAction
from .events import RuntimeEvent


class Outbox:
    """FIFO actions (drain after every call) and FIFO events (pulled one at a time)."""

    def __init__(self) -> None:
        self.actions: deque[RuntimeAction] = deque()
        self.events: deque[RuntimeEvent] = deque()

    def act(self, action: RuntimeAction) -> None:
        self.actions.append(action)

    def tell(self, event: RuntimeEvent) -> None:
        self.events.append(event)
