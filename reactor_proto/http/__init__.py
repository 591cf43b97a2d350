"""HTTP/1.1 framing for both roles over h11: bytes in, bytes out, no sockets (§2-§5, §9).

* :class:`HttpClientConnection` turns an :class:`HttpRequest` into bytes and bytes into an
  :class:`HttpResponse`;
* :class:`HttpServerConnection` turns bytes into an :class:`HttpRequest` (or into the error
  :class:`HttpResponse` to send before closing) and an :class:`HttpResponse` into bytes.

Limits are decided here: a head larger than ``max_header_bytes`` or a body larger than
``max_body_bytes`` fails the exchange.  The head limit is measured on the bytes themselves
(up to the blank line that ends the head), so the outcome never depends on how the adapter
happened to chunk its reads; the fuzz harness checks exactly that.
"""

from __future__ import annotations

from .client import (
    HttpClientConnection,
)
from .records import (
    DEFAULT_PORTS,
    Headers,
    HttpRequest,
    HttpResponse,
    Url,
    join_url,
    json_request,
    json_response,
    parse_url,
)
from .server import (
    CORS_ALLOWED_HEADERS,
    CORS_ALLOWED_METHODS,
    CORS_EXPOSED_HEADERS,
    CORS_MAX_AGE,
    HttpServerConnection,
    cors_headers,
    is_preflight,
    preflight_response,
)

__all__ = [
    "CORS_ALLOWED_HEADERS",
    "CORS_ALLOWED_METHODS",
    "CORS_EXPOSED_HEADERS",
    "CORS_MAX_AGE",
    "DEFAULT_PORTS",
    "Headers",
    "HttpClientConnection",
    "HttpRequest",
    "HttpResponse",
    "HttpServerConnection",
    "Url",
    "cors_headers",
    "is_preflight",
    "join_url",
    "json_request",
    "json_response",
    "parse_url",
    "preflight_response",
]
