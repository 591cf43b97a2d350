"""HTTP/1.1 over anyio sockets: the client and server adapters around ``reactor_proto.http``.

Both work under asyncio and trio.  Failures surface as the core's typed errors (see
:mod:`reactor_anyio.http.errors`, the one place where transport exceptions are mapped).
"""

from typing import TYPE_CHECKING

from reactor_proto.lazy import lazy_attributes

if TYPE_CHECKING:
    from .client import HttpClient
    from .errors import describe_operation, to_reactor_error
    from .server import ConnectionTakeover, Handler, HandlerResult, HttpServer, serve_http
else:  # imported on first use (PEP 562): see reactor_proto.lazy
    __getattr__, __dir__ = lazy_attributes(__name__, {
        "HttpClient": ".client",
        "describe_operation": ".errors",
        "to_reactor_error": ".errors",
        "ConnectionTakeover": ".server",
        "Handler": ".server",
        "HandlerResult": ".server",
        "HttpServer": ".server",
        "serve_http": ".server",
    })

__all__ = [
    "ConnectionTakeover",
    "Handler",
    "HandlerResult",
    "HttpClient",
    "HttpServer",
    "describe_operation",
    "serve_http",
    "to_reactor_error",
]
