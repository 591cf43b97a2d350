"""HTTP/1.1 framing over h11, both roles: bytes in, bytes out, no sockets (§2-§5, §9).

``records`` holds what both roles share (URLs, requests, responses, header codecs),
``client`` the client connection and ``server`` the server connection with its CORS helpers;
this package re-exports their public names.
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
