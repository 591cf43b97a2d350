"""Fuzz the ``control``-channel decoder.

Oracle: ``decode_control`` returns or raises DecodeError.  Differential checks: bytes and
text input agree; an accepted message re-encodes and decodes back equal and gets no
``INVALID_REQUEST`` reply; a refused one gets at most that reply, and the reply itself
encodes and decodes.
"""

from __future__ import annotations

from reactor_proto.control import (
    INVALID_REQUEST,
    ControlMessage,
    decode_control,
    encode_control,
    response_to_malformed,
)
from reactor_proto.errors import DecodeError

ACCEPTED = (DecodeError,)

_ROOMY = 1 << 22


def _decode(frame: str | bytes) -> ControlMessage | DecodeError:
    try:
        return decode_control(frame)
    except DecodeError as exc:
        return exc


def one_input(data: bytes) -> None:
    from_bytes = _decode(data)
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        from_text = _decode(text)
        assert type(from_text) is type(from_bytes)
        if not isinstance(from_bytes, DecodeError):
            assert from_text == from_bytes
    reply = response_to_malformed(data)
    if isinstance(from_bytes, DecodeError):
        if reply is not None:
            assert reply.error is not None
            assert reply.error.code == INVALID_REQUEST
            assert decode_control(encode_control(reply)) == reply
        raise from_bytes
    assert reply is None
    assert decode_control(encode_control(from_bytes, max_bytes=_ROOMY),
                          max_bytes=_ROOMY) == from_bytes
