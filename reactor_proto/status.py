"""HTTP status → typed error, and ``Retry-After`` (docs/protocol §3.1, §11, F14).

The buckets follow [S113]: 401/403 unauthorized, 404 not found, 409 conflict, 429 rate
limited, other 4xx bad request, 5xx server error; 426/501 are version failures when the
route checks versions.  Error messages carry the server's ``detail`` text (or the start of
the body) and never anything from the request, so an API key cannot leak into a log line.
"""

from __future__ import annotations

import datetime
import email.utils
import http
import re
from collections.abc import Sequence

from .constants import HEADER_RETRY_AFTER
from .errors import (
    BadRequestError,
    ConflictError,
    ErrorCode,
    HttpStatusError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ReactorError,
    RemoteProtocolError,
    RequestTimeoutError,
    ServerError,
    UnauthorizedError,
    VersionMismatchError,
)
from .jsonfields import dumps, loads_bounded

# A hint longer than a day is treated as a day: the value only schedules a retry, and an
# absurd one (a 400-digit number) must not become an infinite sleep.
MAX_RETRY_AFTER = 86_400.0
DETAIL_CHARS = 200
# Error bodies are read for their detail text only; a bigger body is quoted, not decoded.
MAX_ERROR_JSON_BYTES = 64 * 1024

_DELTA_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]+")


def parse_retry_after(value: str | None, now_unix: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value, or ``None`` when absent or unusable.

    Delta-seconds (``"120"``, and ``"1.5"`` which some servers send) are read directly.  The
    HTTP-date form needs the current time, which the core never reads: without ``now_unix``
    it yields ``None``; with it, the remaining seconds (0 for a date in the past).
    """
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        return min(float(text), MAX_RETRY_AFTER)
    if now_unix is None:
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC without a zone; never use the local zone
        when = when.replace(tzinfo=datetime.UTC)
    delta = when.timestamp() - now_unix
    return min(max(delta, 0.0), MAX_RETRY_AFTER)


def reason_phrase(status: int) -> str:
    """The standard reason phrase of ``status`` (empty for unknown codes)."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _clip(text: str) -> str:
    text = _CONTROL_CHARS.sub(" ", text).strip()
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 3] + "..."


def error_detail(body: bytes) -> str:
    """The server's explanation: ``{"detail": …}`` (FastAPI), ``message`` or ``error`` when
    the body is such a JSON object, else the start of the body as text."""
    if len(body) <= MAX_ERROR_JSON_BYTES:
        try:
            obj = loads_bounded(body, what="error body", max_bytes=MAX_ERROR_JSON_BYTES)
        except RemoteProtocolError:
            obj = None
        if isinstance(obj, dict):
            for key in ("detail", "message", "error"):
                value = obj.get(key)
                if isinstance(value, str):
                    return _clip(value)
                if value is not None:  # e.g. FastAPI's 422 list of validation errors
                    return _clip(dumps(value))
    return _clip(body[: DETAIL_CHARS * 4].decode("utf-8", "replace"))


def error_for_status(
    status: int,
    *,
    body: bytes,
    headers: Sequence[tuple[str, str]],
    operation: str,
    check_version: bool = True,
) -> ReactorError | None:
    """The typed error an HTTP status means, or ``None`` for 2xx.

    ``headers`` are the *response* headers (only ``Retry-After`` is read).  Routes that do not
    negotiate versions (``DELETE /sessions/{id}``, presigned uploads) pass
    ``check_version=False``, and 426/501 then fall into the ordinary 4xx/5xx buckets.
    """
    if 200 <= status <= 299:
        return None
    reason = reason_phrase(status)
    detail = error_detail(body)
    message = f"{operation}: HTTP {status}" + (f" {reason}" if reason else "") \
        + (f": {detail}" if detail else "")
    retry_after = parse_retry_after(_header(headers, HEADER_RETRY_AFTER))
    if check_version and status == 426:
        return VersionMismatchError(message, code=ErrorCode.CLIENT_VERSION_TOO_OLD,
                                    status=status)
    if check_version and status == 501:
        return VersionMismatchError(message, code=ErrorCode.SERVER_VERSION_TOO_OLD,
                                    status=status)
    error_type: type[HttpStatusError]
    if status in (401, 403):
        error_type = UnauthorizedError
    elif status == 404:
        error_type = NotFoundError
    elif status == 409:
        error_type = ConflictError
    elif status == 429:
        return RateLimitedError(message, status=status, retry_after=retry_after)
    elif 400 <= status <= 499:
        error_type = BadRequestError
    elif 500 <= status <= 599:
        return ServerError(message, status=status, retry_after=retry_after)
    else:
        # 1xx/3xx (we follow no redirects) or a number outside HTTP's range: the server broke
        # the exchange rather than refusing the request.
        return RemoteProtocolError(message, status=status)
    return error_type(message, status=status)


def is_retryable(error: ReactorError) -> bool:
    """Whether the same request may succeed later: no reply, timeout, 5xx or 429 (F14)."""
    return isinstance(error, NetworkError | RequestTimeoutError | ServerError | RateLimitedError)
