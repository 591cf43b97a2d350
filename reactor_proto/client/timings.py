"""How long each step of the last connect (or reconnect) took, from the phase changes.

The machine knows its steps (the pipeline's phases, :mod:`.phases`) and when it entered
each (``now`` is passed in), so it records them here instead of an adapter timing calls it
cannot see into.  A log is bounded by the pipeline: one entry per phase of one attempt.
"""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class StepTime:
    """One step of a connection attempt: its phase name and how long it lasted (seconds)."""

    step: str
    seconds: float


@attrs.frozen(kw_only=True)
class ConnectionTimings:
    """The steps of a successful connect/reconnect, in order, and its total (seconds)."""

    steps: tuple[StepTime, ...]
    total: float
    reconnect: bool = False

    def as_ms(self) -> dict[str, float]:
        """Step name -> milliseconds (a step entered twice, e.g. a restarted poll, adds up)."""
        out: dict[str, float] = {}
        for step in self.steps:
            out[step.step] = out.get(step.step, 0.0) + step.seconds * 1000.0
        return out


@attrs.define(kw_only=True)
class StepLog:
    """Phase entries of the attempt in progress: (phase name, time entered)."""

    started: float | None = None
    entries: list[tuple[str, float]] = attrs.field(factory=list)

    def begin(self, now: float) -> None:
        self.started = now
        self.entries = []

    def enter(self, step: str, now: float) -> None:
        if self.started is None:
            self.begin(now)
        self.entries.append((step, now))

    def finish(self, now: float, *, reconnect: bool) -> ConnectionTimings | None:
        if self.started is None:
            return None
        steps: list[StepTime] = []
        for i, (step, at) in enumerate(self.entries):
            end = self.entries[i + 1][1] if i + 1 < len(self.entries) else now
            steps.append(StepTime(step=step, seconds=max(0.0, end - at)))
        timings = ConnectionTimings(steps=tuple(steps), total=max(0.0, now - self.started),
                                    reconnect=reconnect)
        self.started = None
        self.entries = []
        return timings
