"""HTTP status classification and Retry-After (docs/protocol §3.1, §11, F14)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.errors import (
    AbortedError,
    BadRequestError,
    ConflictError,
    DecodeError,
    ErrorCode,
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
from reactor_proto.status import (
    MAX_RETRY_AFTER,
    error_detail,
    error_for_status,
    is_retryable,
    parse_retry_after,
    reason_phrase,
)

NOW = 1_445_412_480.0  # Wed, 21 Oct 2015 07:28:00 GMT


# ---- Retry-After -----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("120", 120.0), (" 7 ", 7.0), ("0", 0.0), ("1.5", 1.5), ("2", 2.0),
    (None, None), ("", None), ("-1", None), ("soon", None), ("1e3", None), ("0x10", None),
    ("9" * 400, MAX_RETRY_AFTER),
])
def test_retry_after_delta_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_http_date_needs_a_clock() -> None:
    date = "Wed, 21 Oct 2015 07:28:30 GMT"
    assert parse_retry_after(date) is None
    assert parse_retry_after(date, now_unix=NOW) == 30.0
    assert parse_retry_after(date, now_unix=NOW + 100) == 0.0  # in the past
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 -0000", now_unix=NOW) == 10.0


@pytest.mark.parametrize("value", ["Wed, 99 Foo 2015", "garbage, 1 2 3", "Mon, 1 Jan 99999"])
def test_retry_after_bad_dates(value: str) -> None:
    assert parse_retry_after(value, now_unix=NOW) is None


@given(st.text(max_size=40), st.none() | st.floats(0, 4e9))
def test_retry_after_never_raises(value: str, now: float | None) -> None:
    result = parse_retry_after(value, now_unix=now)
    assert result is None or 0.0 <= result <= MAX_RETRY_AFTER


# ---- classification --------------------------------------------------------------------------


def classify(status: int, body: bytes = b"", headers: tuple[tuple[str, str], ...] = (),
             check_version: bool = True) -> ReactorError | None:
    return error_for_status(status, body=body, headers=headers, operation="create_session",
                            check_version=check_version)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_success_is_none(status: int) -> None:
    assert classify(status) is None


@pytest.mark.parametrize(("status", "error_type", "code"), [
    (400, BadRequestError, ErrorCode.BAD_REQUEST),
    (401, UnauthorizedError, ErrorCode.UNAUTHORIZED),
    (403, UnauthorizedError, ErrorCode.UNAUTHORIZED),
    (404, NotFoundError, ErrorCode.NOT_FOUND),
    (409, ConflictError, ErrorCode.CONFLICT),
    (410, BadRequestError, ErrorCode.BAD_REQUEST),
    (422, BadRequestError, ErrorCode.BAD_REQUEST),
    (429, RateLimitedError, ErrorCode.RATE_LIMITED),
    (500, ServerError, ErrorCode.SERVER_ERROR),
    (502, ServerError, ErrorCode.SERVER_ERROR),
    (503, ServerError, ErrorCode.SERVER_ERROR),
    (426, VersionMismatchError, ErrorCode.CLIENT_VERSION_TOO_OLD),
    (501, VersionMismatchError, ErrorCode.SERVER_VERSION_TOO_OLD),
    (100, RemoteProtocolError, ErrorCode.DECODE_FAILED),
    (302, RemoteProtocolError, ErrorCode.DECODE_FAILED),
    (600, RemoteProtocolError, ErrorCode.DECODE_FAILED),
])
def test_status_classes(status: int, error_type: type[ReactorError], code: str) -> None:
    error = classify(status)
    assert type(error) is error_type
    assert error.code == code
    assert error.status == status


def test_version_statuses_without_version_check() -> None:
    assert type(classify(426, check_version=False)) is BadRequestError
    assert type(classify(501, check_version=False)) is ServerError


def test_message_carries_operation_reason_and_detail() -> None:
    error = classify(404, b'{"detail":"Session not found"}')
    assert error is not None
    assert error.message == "create_session: HTTP 404 Not Found: Session not found"


def test_message_without_body_or_known_reason() -> None:
    error = classify(599)
    assert error is not None
    assert error.message == "create_session: HTTP 599"


@pytest.mark.parametrize(("body", "detail"), [
    (b'{"message": "slow down"}', "slow down"),
    (b'{"error": "nope"}', "nope"),
    (b'{"detail": [{"loc": ["body"], "msg": "field required"}]}',
     '[{"loc":["body"],"msg":"field required"}]'),
    (b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
    (b'["not an object"]', '["not an object"]'),
    (b"line1\r\nline2\x00", "line1 line2"),
    (b"\xff\xfe broken", "\ufffd\ufffd broken"),
])
def test_detail_forms(body: bytes, detail: str) -> None:
    assert error_detail(body) == detail


def test_detail_is_clipped_to_200_characters() -> None:
    detail = error_detail(b"x" * 5000)
    assert len(detail) == 200
    assert detail.endswith("...")
    assert len(error_detail(b'{"detail": "' + b"y" * 1000 + b'"}')) == 200
    # a huge JSON body is quoted, not decoded
    assert error_detail(b'{"detail": "' + b"z" * 70_000 + b'"}').startswith('{"detail": "zzz')


def test_api_key_in_request_headers_never_reaches_the_message() -> None:
    # Only the response is given to the classifier; request headers are not an input.
    error = classify(401, b'{"detail":"invalid API key"}',
                     headers=(("www-authenticate", "Bearer"),))
    assert error is not None
    assert "rk_" not in error.message
    assert "invalid API key" in error.message


def test_retry_after_on_429_and_5xx() -> None:
    limited = classify(429, headers=(("Retry-After", "3"),))
    assert limited is not None
    assert limited.retry_after == 3.0
    assert limited.recoverable
    unavailable = classify(503, headers=(("retry-after", "1"),))
    assert unavailable is not None
    assert unavailable.retry_after == 1.0
    assert classify(500) is not None
    assert classify(500).retry_after is None  # type: ignore[union-attr]


def test_reason_phrase() -> None:
    assert reason_phrase(426) == "Upgrade Required"
    assert reason_phrase(599) == ""


# ---- retryability ----------------------------------------------------------------------------


@pytest.mark.parametrize(("error", "retryable"), [
    (NetworkError("refused"), True),
    (RequestTimeoutError("slow"), True),
    (ServerError("502", status=502), True),
    (RateLimitedError("429", status=429), True),
    (BadRequestError("400", status=400), False),
    (UnauthorizedError("401", status=401), False),
    (NotFoundError("404", status=404), False),
    (ConflictError("409", status=409), False),
    (VersionMismatchError("426", status=426), False),
    (DecodeError("bad"), False),
    (AbortedError("gone"), False),
])
def test_is_retryable(error: ReactorError, retryable: bool) -> None:
    assert is_retryable(error) is retryable


@given(st.integers(0, 999), st.binary(max_size=300))
def test_classification_is_total(status: int, body: bytes) -> None:
    error = classify(status, body)
    assert (error is None) == (200 <= status <= 299)
    if error is not None:
        assert error.status == status
        assert error.message.startswith(f"create_session: HTTP {status}")
