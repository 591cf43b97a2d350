"""The local runtime (``reactor serve``): one model served over the official local protocol.

:class:`LocalRuntime` is a thin asyncio adapter over :class:`reactor_proto.runtime.RuntimeMachine`
(see :mod:`.server`); frames come from :mod:`.media`, the model is driven by :mod:`.model_host`.
"""

from typing import TYPE_CHECKING

from reactor_proto.lazy import lazy_attributes

if TYPE_CHECKING:
    from .cli import add_serve_parser, run_serve
    from .server import LocalRuntime
else:  # imported on first use (PEP 562): see reactor_proto.lazy
    __getattr__, __dir__ = lazy_attributes(__name__, {
        "add_serve_parser": ".cli",
        "run_serve": ".cli",
        "LocalRuntime": ".server",
    })

__all__ = ["LocalRuntime", "add_serve_parser", "run_serve"]
