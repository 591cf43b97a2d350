"""Stepped generation: what the runtime accepts when, and what each step answers (§15).

:class:`Stepper` holds the stepping state of the running session and makes every decision;
the adapter only decodes frames and calls the model:

* ``/start_session`` reads :class:`StartOptions` (``generation``, ``steps``,
  ``starting_input``, ``session_id``); anything malformed is a 400.
* A ``request_step`` is answered at once with ``NOT_READY`` (no running session) or
  ``REFUSED`` (not stepped, not chunked, the steps limit reached, or a request the model's
  contract refuses, :mod:`.step_plan`); otherwise it becomes one
  :class:`~reactor_proto.runtime.events.StepRequested` event.  The adapter runs the plans
  in event order (commands and steps of a connection share one queue: arrival order) and
  reports each with ``RuntimeMachine.step_finished``.
* The steps limit counts steps in flight too, so no step beyond ``steps`` is ever handed
  to the model (a request whose calls then fail frees its place again).  Each step that
  ran gets the next number; the one that completes ``steps`` ends the session.
* When the session ends, every step still in flight is answered ``SESSION_ENDED`` before
  the ``session_ended`` notice, and a late report for it (an older ``epoch``) is dropped:
  nothing is answered twice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, Final

import attrs

from ..errors import DecodeError
from ..wire_v1 import StepFailureCode, StepFileRef, StepResult, TrackFrames
from .step_plan import StepPlan

STREAMED: Final = "streamed"
STEPPED: Final = "stepped"
#: ``steps`` of ``/start_session`` (§15.2)
MAX_STEPS: Final = 10_000
STEPS_COMPLETE: Final = "steps_complete"
#: broadcasts listed per stored step (§15.7)
MAX_STEP_BROADCASTS: Final = 256

NOT_READY_TEXT: Final = "the session is not running a step yet"
NOT_STEPPED_TEXT: Final = "this session is not stepped"
NOT_CHUNKED_TEXT: Final = "this connection cannot carry a step's result"


@attrs.frozen(kw_only=True)
class StartOptions:
    """The stepping fields of a ``/start_session`` body."""

    generation: str = STREAMED
    steps: int | None = None
    #: ``(command, data)`` pairs: the state keys in body order, then the commands
    starting_input: tuple[tuple[str, str, Mapping[str, Any]], ...] = ()
    session_id: str | None = None


def _fail(field: str, reason: str, value: Any = None) -> DecodeError:
    return DecodeError(f"start_session.{field}: {reason}", field=f"start_session.{field}",
                       value=value)


def read_start_options(obj: Any) -> StartOptions:
    """The stepping fields of a ``/start_session`` body (``None``: an empty body)."""
    if obj is None:
        return StartOptions()
    if not isinstance(obj, Mapping):
        raise _fail("", "expected an object")
    generation = obj.get("generation", STREAMED)
    if generation not in (STREAMED, STEPPED):
        raise _fail("generation", f"expected 'streamed' or 'stepped', got {generation!r:.40}")
    steps = obj.get("steps")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)
                              or not 1 <= steps <= MAX_STEPS):
        raise _fail("steps", f"expected an integer in 1..{MAX_STEPS}, got {steps!r:.40}")
    session_id = obj.get("session_id")
    if session_id is not None and (not isinstance(session_id, str) or not session_id
                                   or len(session_id) > 128 or "/" in session_id):
        raise _fail("session_id", "expected a non-empty string without '/' (<= 128 chars)")
    return StartOptions(generation=generation, steps=steps,
                        starting_input=_starting_input(obj.get("starting_input")),
                        session_id=session_id)


def _starting_input(raw: Any) -> tuple[tuple[str, str, Mapping[str, Any]], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise _fail("starting_input", "expected an object")
    state = raw.get("state", {})
    commands = raw.get("commands", [])
    if not isinstance(state, Mapping):
        raise _fail("starting_input.state", "expected an object")
    if not isinstance(commands, list):
        raise _fail("starting_input.commands", "expected a list")
    items: list[tuple[str, str, Mapping[str, Any]]] = [
        (f"starting_input.state.{key}", f"set_{key}", {key: value})
        for key, value in state.items()]  # the body's order (§15.3)
    for index, command in enumerate(commands):
        where = f"starting_input.commands[{index}]"
        if not isinstance(command, Mapping) or not isinstance(command.get("command"), str):
            raise _fail(where, "expected {command, data}")
        data = command.get("data", {})
        data = {} if data is None else data
        if not isinstance(data, Mapping):
            raise _fail(f"{where}.data", "expected an object")
        items.append((where, command["command"], data))
    return tuple(items)


@attrs.frozen(kw_only=True)
class StepOutcome:
    """What the adapter reports about one step it was handed.

    ``refused``: the frames did not decode (nothing ran, ``entry`` names the frame);
    ``command_code``: call ``entry`` failed with that code (earlier calls stay applied, the
    step did not run); otherwise the step ran: ``tracks`` (RAW frames), ``elapsed``, the
    model's ``error`` if it reported a failure, and ``files`` it kept."""

    refused: bool = False
    command_code: str | None = None
    entry: str | None = None
    error: str | None = None
    tracks: tuple[TrackFrames, ...] = ()
    elapsed: float = 0.0
    files: tuple[StepFileRef, ...] = ()

    @property
    def ran(self) -> bool:
        return not self.refused and self.command_code is None


def refusal(error: str, entry: str | None = None) -> StepResult:
    return StepResult(failure_code=StepFailureCode.REFUSED, error=error[:1000], entry=entry)


def not_ready() -> StepResult:
    return StepResult(failure_code=StepFailureCode.NOT_READY, error=NOT_READY_TEXT)


def session_ended_result() -> StepResult:
    return StepResult(failure_code=StepFailureCode.SESSION_ENDED,
                      error="the session ended before the step's result went out")


def too_large(result: StepResult, size: int, limit: int) -> StepResult:
    """§15.5: output over the limit is never sent; the step keeps its number."""
    return StepResult(step=result.step, elapsed_seconds=result.elapsed_seconds,
                      failure_code=StepFailureCode.RESULT_TOO_LARGE,
                      error=f"the step's result of {size} bytes exceeds the limit of "
                            f"{limit} bytes")


_Key = tuple[int, str]


class Stepper:
    """The stepping state of one runtime (see the module docstring)."""

    def __init__(self) -> None:
        self.options = StartOptions()
        self.session_id = ""
        #: bumped per session: reports about an older session's steps are dropped
        self.epoch = 0
        self.completed = 0
        self.in_flight: dict[_Key, int] = {}
        #: the model's broadcasts since the previous step, for its ``result.json``
        self._broadcasts: deque[dict[str, Any]] = deque(maxlen=MAX_STEP_BROADCASTS)

    def broadcast(self, type: str, data: Any) -> None:
        if self.stepped:
            self._broadcasts.append({"type": type, "data": data})

    def take_broadcasts(self) -> list[dict[str, Any]]:
        taken = list(self._broadcasts)
        self._broadcasts.clear()
        return taken

    @property
    def stepped(self) -> bool:
        return self.options.generation == STEPPED

    def begin(self, options: StartOptions, session_id: str) -> None:
        self.options = options
        self.session_id = session_id
        self.epoch += 1
        self.completed = 0
        self.in_flight.clear()
        self._broadcasts.clear()

    def admit(self, *, running: bool, chunked: bool,
              key: _Key | None = None) -> StepResult | None:
        """The answer to a request that cannot be planned at all, or None (§15.3, 2-3, 8).
        ``key`` (connection, request id): a second step under an id still in flight is
        refused, so each request gets exactly one answer."""
        if not running:
            return not_ready()
        if not self.stepped:
            return refusal(NOT_STEPPED_TEXT)
        if not chunked:
            return refusal(NOT_CHUNKED_TEXT)
        if key is not None and key in self.in_flight:
            return refusal("a step with this request id is already running")
        limit = self.options.steps
        if limit is not None and self.completed + len(self.in_flight) >= limit:
            return refusal(f"the session already took its {limit} steps")
        return None

    def accept(self, connection_id: int, request_id: str, plan: StepPlan) -> int:
        """The plan goes to the model: remember it; returns the epoch to report with."""
        self.in_flight[(connection_id, request_id)] = self.epoch
        return self.epoch

    def finish(self, connection_id: int, request_id: str, epoch: int,
               outcome: StepOutcome) -> StepResult | None:
        """The result of a reported step, or None when it is stale (already answered)."""
        key = (connection_id, request_id)
        if epoch != self.epoch or self.in_flight.get(key) != epoch:
            return None
        del self.in_flight[key]
        if outcome.refused:
            return refusal(outcome.error or "the request was refused", outcome.entry)
        if outcome.command_code is not None:
            return StepResult(failure_code=StepFailureCode.COMMAND_FAILED,
                              code=outcome.command_code, entry=outcome.entry,
                              error=(outcome.error or "")[:1000])
        self.completed += 1
        return StepResult(step=self.completed, tracks=outcome.tracks,
                          elapsed_seconds=outcome.elapsed, files=outcome.files,
                          error=None if outcome.error is None else outcome.error[:1000],
                          failure_code=(StepFailureCode.UNSPECIFIED if outcome.error is None
                                        else StepFailureCode.FAILED))

    def limit_reached(self) -> bool:
        limit = self.options.steps
        return limit is not None and self.completed >= limit

    def end(self) -> list[_Key]:
        """The session ends: the steps still in flight (answered ``SESSION_ENDED``)."""
        pending = sorted(self.in_flight)
        self.in_flight.clear()
        self.epoch += 1
        self.options = StartOptions()
        return pending
