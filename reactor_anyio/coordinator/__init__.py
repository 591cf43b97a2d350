"""The coordinator emulator (``reactor coordinator``): the production API on a local port.

::

    from reactor_anyio.coordinator import CoordinatorEmulator, Fault

    async with CoordinatorEmulator(api_keys=["rk_test"], gpus=2,
                                   faults=[Fault(route="POST /sessions", status=503, nth=1)]
                                   ) as coordinator:
        reactor = Reactor(model_name="helios", api_key="rk_test", api_url=coordinator.url)

Faults are described in ``docs/faults.md``.
"""

from typing import TYPE_CHECKING

from reactor_proto.lazy import lazy_attributes

if TYPE_CHECKING:
    from .faults import AppliedFault, Fault, FaultInjector, FaultKind, FaultPlan, parse_fault_plan
    from .jwt_keys import JwtKeys
    from .server import CoordinatorEmulator
else:  # imported on first use (PEP 562): see reactor_proto.lazy
    __getattr__, __dir__ = lazy_attributes(__name__, {
        "AppliedFault": ".faults",
        "Fault": ".faults",
        "FaultInjector": ".faults",
        "FaultKind": ".faults",
        "FaultPlan": ".faults",
        "parse_fault_plan": ".faults",
        "JwtKeys": ".jwt_keys",
        "CoordinatorEmulator": ".server",
    })

__all__ = [
    "AppliedFault",
    "CoordinatorEmulator",
    "Fault",
    "FaultInjector",
    "FaultKind",
    "FaultPlan",
    "JwtKeys",
    "parse_fault_plan",
]
