"""Fuzz the ``data``-channel decoders: ``decode_inbound`` (lenient) and ``parse_envelope``
(strict).

Oracle: both return or raise DecodeError.  Differential checks: bytes and text input agree;
whatever the strict parser accepts the lenient one files under the same scope with the same
inner type, re-encodes without error and parses back equal.
"""

from __future__ import annotations

from reactor_proto.envelope import (
    Envelope,
    decode_inbound,
    encode_envelope,
    merge_uploads,
    parse_envelope,
)
from reactor_proto.errors import DecodeError

ACCEPTED = (DecodeError,)

_ROOMY = 1 << 22  # re-encoding may grow the text (e.g. "1e2" -> "100.0")


def _strict(frame: str | bytes) -> Envelope | DecodeError:
    try:
        return parse_envelope(frame)
    except DecodeError as exc:
        return exc


def one_input(data: bytes) -> None:
    inbound = decode_inbound(data)
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    from_bytes = _strict(data)
    if text is not None:
        assert decode_inbound(text) == inbound
        from_text = _strict(text)
        assert type(from_text) is type(from_bytes)
        if isinstance(from_bytes, Envelope):
            assert from_text == from_bytes
    if isinstance(from_bytes, DecodeError):
        raise from_bytes
    envelope = from_bytes
    assert inbound.scope is envelope.scope
    assert inbound.payload["type"] == envelope.type
    again = parse_envelope(encode_envelope(envelope, max_bytes=_ROOMY), max_bytes=_ROOMY)
    assert again == envelope
    merged = merge_uploads(envelope)
    assert set(merged) == set(envelope.data) | set(envelope.uploads or {})
