"""Fuzz the coordinator emulator's fault-plan loader: bytes -> FaultPlan.

Oracle: a document is accepted, or refused with :class:`DecodeError` (whose ``field`` names
where).  Differential: an accepted plan serialises back to JSON that parses to an equal
plan, the Python constructor accepts the same faults, and every route pattern matches its
own literal form (with ``*`` replaced by a segment) for its method.
"""

from __future__ import annotations

import json

from reactor_anyio.coordinator.faults import Fault, FaultInjector, FaultPlan
from reactor_proto.errors import DecodeError

ACCEPTED = (DecodeError,)


async def _unused_handler(request: object) -> object:  # pragma: no cover - never awaited
    raise AssertionError("selection only")


def one_input(data: bytes) -> None:
    plan = FaultPlan.from_json(data)   # DecodeError (ACCEPTED) for a refused document
    again = FaultPlan.from_json(json.dumps(plan.to_json()))
    assert again == plan, (plan, again)
    rebuilt = FaultPlan(faults=tuple(Fault(**{k: v for k, v in fault.to_json().items()})
                                     for fault in plan.faults), seed=plan.seed)
    assert rebuilt == plan
    injector = FaultInjector(plan, _unused_handler, target=None)  # type: ignore[arg-type]
    for fault in plan.faults:
        pattern = fault.pattern
        path = "/" + "/".join("x1" if seg == "*" else seg for seg in pattern.segments)
        method = "GET" if pattern.method == "*" else pattern.method
        assert pattern.matches(method, path), (fault.route, path)
        injector.choose(method, path)
