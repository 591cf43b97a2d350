"""SDP attributes for chunking and frame metadata (§6.8.7, §6.8.8) and the per-frame
metadata trailer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.wire_v1 import FrameMetadata
from reactor_proto.wire_v1.negotiation import (
    DEFAULT_PEER_MAX_MESSAGE_SIZE,
    chunking_limit,
    chunking_line,
    declares_frame_metadata,
    frame_metadata_line,
    negotiated_send_limit,
)
from reactor_proto.wire_v1.trailer import MAGIC, append_trailer, strip_trailer


def sdp(*session_lines: str, media: str = "") -> str:
    head = ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", *session_lines]
    return "\r\n".join([*head, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
                        "c=IN IP4 0.0.0.0", *([media] if media else [])]) + "\r\n"


@pytest.mark.parametrize(("line", "limit"), [
    ("a=x-reactor-dc-chunking:1 max-message-size=67108864", 67_108_864),
    ("a=x-reactor-dc-chunking:1", DEFAULT_PEER_MAX_MESSAGE_SIZE),
    ("a=x-reactor-dc-chunking:1 foo=bar;max-message-size=5", 5),
    ("a=x-reactor-dc-chunking:1 max-message-size=5; other=1", 5),
    ("a=x-reactor-dc-chunking:2 max-message-size=5", None),
    ("a=x-reactor-dc-chunking:1 max-message-size=abc", None),
    ("a=x-reactor-dc-chunking:1 max-message-size=0", None),
    ("a=x-reactor-dc-chunking:1 max-message-size", None),
    ("a=x-reactor-dc-chunking:1 max-message-size=٣", None),  # a non-ASCII digit
])
def test_chunking_line_parsing(line: str, limit: int | None) -> None:
    assert chunking_limit(sdp(line)) == limit


def test_only_session_level_lines_count_and_the_first_usable_one_wins() -> None:
    media_only = sdp(media="a=x-reactor-dc-chunking:1 max-message-size=9")
    assert chunking_limit(media_only) is None
    both = sdp("a=x-reactor-dc-chunking:9", "a=x-reactor-dc-chunking:1 max-message-size=7")
    assert chunking_limit(both) == 7


def test_our_line_and_the_send_limit() -> None:
    ours = chunking_line(67_108_864)
    assert ours == "a=x-reactor-dc-chunking:1 max-message-size=67108864"
    assert chunking_limit(sdp(ours)) == 67_108_864
    assert negotiated_send_limit(1_000, sdp(ours)) == 1_000
    assert negotiated_send_limit(1 << 30, sdp(ours)) == 67_108_864
    assert negotiated_send_limit(1_000, sdp()) is None


def test_a_description_without_media_sections() -> None:
    assert chunking_limit("v=0\r\na=x-reactor-dc-chunking:1\r\n") == 262_144


def test_frame_metadata_attribute() -> None:
    assert frame_metadata_line() == "a=x-reactor-frame-metadata:1"
    assert declares_frame_metadata(sdp(frame_metadata_line()))
    assert not declares_frame_metadata(sdp("a=x-reactor-frame-metadata:2"))
    assert not declares_frame_metadata(sdp(media="a=x-reactor-frame-metadata:1"))


# ---- trailer --------------------------------------------------------------------------------


@given(st.binary(max_size=64), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1),
       st.binary(max_size=32))
def test_trailer_round_trip(frame: bytes, frame_id: int, capture: int, user: bytes) -> None:
    metadata = FrameMetadata(frame_id=frame_id, capture_time_us=capture, user_data=user)
    wire = append_trailer(frame, metadata)
    assert wire.endswith(MAGIC)
    assert strip_trailer(wire) == (frame, metadata)


def test_trailer_layout() -> None:
    wire = append_trailer(b"\x00\x00\x01", FrameMetadata(frame_id=1))
    assert wire == b"\x00\x00\x01" + b"\x08\x01" + (2).to_bytes(4, "little") + b"RXMT"


@pytest.mark.parametrize("frame", [
    b"",
    b"short",
    b"\x00\x00\x01\x65 no trailer here",
    b"\x08\x01" + (200).to_bytes(4, "little") + b"RXMT",        # length runs past the start
    b"\xff\xff" + (2).to_bytes(4, "little") + b"RXMT",          # M does not decode
    b"x" * 10 + (1 << 20).to_bytes(4, "little") + b"RXMT",      # absurd length
])
def test_frames_without_a_valid_trailer_pass_unchanged(frame: bytes) -> None:
    assert strip_trailer(frame) == (frame, None)


@given(st.binary(max_size=80))
def test_strip_never_raises(frame: bytes) -> None:
    stripped, metadata = strip_trailer(frame)
    assert frame.startswith(stripped)
    assert (metadata is None) == (stripped == frame)
