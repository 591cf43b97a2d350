"""The one place that turns OS, TLS, anyio and h11 failures into the core's typed errors.

Every message names the operation (method and URL without its query, which may carry a
presigned signature) and what went wrong, and nothing else: header values (an API key travels
in one) and peer-supplied text never reach a message.  ``str()`` of an h11 exception can quote
the offending header line, so only its class name is used.
"""

from __future__ import annotations

import errno
import socket
import ssl
from urllib.parse import urlsplit, urlunsplit

import anyio
import h11

from reactor_proto.errors import (
    LocalProtocolError,
    NetworkError,
    ReactorError,
    RemoteProtocolError,
)

#: Everything a socket, a TLS layer, an anyio stream or h11 may raise during an exchange.
#: ``ssl.SSLError`` and ``socket.gaierror`` are ``OSError`` subclasses; listed for the reader.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ssl.SSLError,
    socket.gaierror,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    anyio.IncompleteRead,
    h11.ProtocolError,
)


def describe_operation(method: str, url: str) -> str:
    """``"GET http://host:port/path"``: the request as errors and logs name it (no query)."""
    try:
        parts = urlsplit(url)
        bare = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
    except ValueError:
        bare = "<invalid url>"
    return f"{method} {bare}"


def _errno_text(exc: OSError) -> str:
    if exc.errno is not None and exc.errno in errno.errorcode:
        return f"{errno.errorcode[exc.errno]}: {exc.strerror or ''}".rstrip(": ")
    return type(exc).__name__


def _root_os_errors(exc: BaseException) -> list[OSError]:
    """The OSErrors behind ``exc``: anyio's connect_tcp wraps one per address it tried."""
    found: list[OSError] = []
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        elif isinstance(current, OSError) and current.errno is not None:
            found.append(current)
        if current.__cause__ is not None:
            pending.append(current.__cause__)
    return found


def _network_reason(exc: BaseException) -> str:
    # ``reason`` and ``verify_message`` are set by the ssl module, not by every constructor.
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = getattr(exc, "verify_message", None) or "unknown reason"
        return f"TLS certificate verification failed ({detail})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failure ({getattr(exc, 'reason', None) or type(exc).__name__})"
    if isinstance(exc, socket.gaierror):
        return "name resolution failed"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return f"connection reset by peer ({_errno_text(exc)})"
    if isinstance(exc, anyio.EndOfStream | anyio.IncompleteRead):
        return "connection closed by peer before the response was complete"
    if isinstance(exc, anyio.ClosedResourceError):
        return "connection already closed"
    if isinstance(exc, anyio.BrokenResourceError):
        cause = exc.__cause__
        return _network_reason(cause) if cause is not None else "connection broken"
    if isinstance(exc, OSError):
        roots = _root_os_errors(exc)
        if roots and all(isinstance(r, ConnectionRefusedError) for r in roots):
            return "connection refused"
        if roots:
            return f"connection failed ({_errno_text(roots[0])})"
        return f"connection failed ({_errno_text(exc)})"
    return f"connection failed ({type(exc).__name__})"


def to_reactor_error(exc: BaseException, *, operation: str) -> ReactorError:
    """Map one transport-level exception to the core's typed failure.

    ``ReactorError`` instances pass through unchanged (the framing already typed them).
    h11 errors should never escape ``reactor_proto.http``; if one does, its class decides the
    blame and its text (which may quote a header) is dropped.
    """
    if isinstance(exc, ReactorError):
        return exc
    if isinstance(exc, h11.RemoteProtocolError):
        return RemoteProtocolError(
            f"{operation}: malformed HTTP from peer ({type(exc).__name__})"
        )
    if isinstance(exc, h11.LocalProtocolError):
        return LocalProtocolError(
            f"{operation}: request could not be framed ({type(exc).__name__})"
        )
    return NetworkError(f"{operation}: {_network_reason(exc)}")
