"""HTTP/1.1 over anyio sockets: the client and server adapters around ``reactor_proto.http``.

Both work under asyncio and trio.  Failures surface as the core's typed errors (see
:mod:`reactor_anyio.http.errors`, the one place where transport exceptions are mapped).
"""

from .client import HttpClient
from .errors import describe_operation, to_reactor_error
from .server import ConnectionTakeover, Handler, HandlerResult, HttpServer, serve_http

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
