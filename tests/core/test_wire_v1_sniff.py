"""Codec selection (docs/protocol §6.8.1): the sniff rule and the per-connection latch."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.wire_v1 import (
    ControlClientMessage,
    DataClientMessage,
    MessageKind,
    Ping,
    ResumeTrack,
    Wire,
    WireLatch,
    encode,
    sniff,
)


@pytest.mark.parametrize(("message", "wire"), [
    ('{"type":"ping"}', Wire.V0),
    ("", Wire.V0),
    ("not json at all", Wire.V0),  # text is always v0
    (b'{"type":"ping"}', Wire.V0),
    (b"[1]", Wire.V0),
    (b" \t\r\n\x0b\x0c{", Wire.V0),
    (b"", Wire.V1),
    (b"   ", Wire.V1),
    (b"\x10\x03\x52\x00", Wire.V1),  # a Ping notification
    (b" " * 300 + b"{", Wire.V0),
    (b" " * 300, Wire.V1),
    (bytearray(b"{"), Wire.V0),
])
def test_sniff_rule(message: str | bytes, wire: Wire) -> None:
    assert sniff(message) is wire


def test_first_frames_of_the_official_v1_client_sniff_v1() -> None:
    resume = ControlClientMessage(kind=MessageKind.NOTIFICATION,
                                  payload=ResumeTrack(name="main_video"))
    ping = ControlClientMessage(kind=MessageKind.NOTIFICATION, payload=Ping())
    assert sniff(encode(resume)) is Wire.V1
    assert sniff(encode(ping)) is Wire.V1


def test_the_documented_corner_a_request_id_of_length_123_sniffs_v0() -> None:
    # 0x0a (request_id's tag) is whitespace, and a length byte of 123 is "{".
    message = DataClientMessage(request_id="x" * 123, kind=MessageKind.REQUEST)
    assert encode(message)[:2] == b"\x0a{"
    assert sniff(encode(message)) is Wire.V0
    assert sniff(encode(DataClientMessage(request_id="x" * 36))) is Wire.V1


@given(st.binary(max_size=64))
def test_binary_is_v1_unless_it_opens_like_json(data: bytes) -> None:
    opens_json = data.lstrip()[:1] in (b"{", b"[")
    assert sniff(data) is (Wire.V0 if opens_json else Wire.V1)


def test_latch_keeps_the_first_decision() -> None:
    latch = WireLatch()
    assert latch.wire is Wire.V0 and not latch.latched
    assert latch.observe(b"\x10\x03\x52\x00") is Wire.V1
    assert latch.latched
    assert latch.observe('{"type":"ping"}') is Wire.V1  # never switches back
    assert latch.wire is Wire.V1


def test_latch_on_text_and_a_custom_default() -> None:
    latch = WireLatch(default=Wire.V1)
    assert latch.wire is Wire.V1
    assert latch.observe("{}") is Wire.V0
    assert latch.observe(b"\x00") is Wire.V0
