"""HTTP/1.1 framing over h11, both roles: bytes in, bytes out, no sockets (§2-§5, §9).

``records`` holds what both roles share (URLs, requests, responses, header codecs),
``client`` the client connection and ``server`` the server connection with its CORS helpers;
this package re-exports their public names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reactor_proto.lazy import lazy_attributes

if TYPE_CHECKING:
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
else:  # imported on first use (PEP 562): see reactor_proto.lazy
    __getattr__, __dir__ = lazy_attributes(__name__, {
        "HttpClientConnection": ".client",
        "DEFAULT_PORTS": ".records",
        "Headers": ".records",
        "HttpRequest": ".records",
        "HttpResponse": ".records",
        "Url": ".records",
        "join_url": ".records",
        "json_request": ".records",
        "json_response": ".records",
        "parse_url": ".records",
        "CORS_ALLOWED_HEADERS": ".server",
        "CORS_ALLOWED_METHODS": ".server",
        "CORS_EXPOSED_HEADERS": ".server",
        "CORS_MAX_AGE": ".server",
        "HttpServerConnection": ".server",
        "cors_headers": ".server",
        "is_preflight": ".server",
        "preflight_response": ".server",
    })

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
