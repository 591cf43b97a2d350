"""The local runtime (``reactor serve``): one model served over the official local protocol.

:class:`LocalRuntime` is a thin asyncio adapter over :class:`reactor_proto.runtime.RuntimeMachine`
(see :mod:`.server`); frames come from :mod:`.media`, the model is driven by :mod:`.model_host`.
"""

from .cli import add_serve_parser, run_serve
from .server import LocalRuntime

__all__ = ["LocalRuntime", "add_serve_parser", "run_serve"]
