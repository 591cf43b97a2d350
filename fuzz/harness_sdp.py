"""Fuzz the SDP functions.

Oracle: every function returns or raises DecodeError.  Properties: the munged answer still
parses with the same m-sections (kinds, order, MIDs), keeps every input line, and munging
again changes nothing; a direction rewrite and a max-message-size rewrite keep the sections
too; the identity read before and after munging is the same.
"""

from __future__ import annotations

from reactor_proto.errors import DecodeError
from reactor_proto.sdp import (
    ensure_max_message_size,
    ice_identity,
    munge_answer,
    parse_sections,
    set_direction,
    validate_sdp,
)

ACCEPTED = (DecodeError,)


def _shape(sdp: str) -> list[tuple[str, str | None]]:
    return [(section.kind, section.mid) for section in parse_sections(sdp)]


def _lines(sdp: str) -> list[str]:
    return sdp.split("\r\n" if "\r\n" in sdp else "\n")


def one_input(data: bytes) -> None:
    sdp = data.decode("utf-8", "replace")
    shape = _shape(sdp)
    munged = munge_answer(sdp)
    assert _shape(munged) == shape
    assert munge_answer(munged) == munged
    remaining = iter(_lines(munged))
    assert all(any(line == other for other in remaining) for line in _lines(sdp))
    assert ice_identity(munged) == ice_identity(sdp)
    with_size = ensure_max_message_size(munged, 262144)
    assert _shape(with_size) == shape
    mids = [mid for _, mid in shape if mid is not None]
    if mids:
        paused = set_direction(munged, mids[0], "inactive")
        assert _shape(paused) == shape
        assert next(s for s in parse_sections(paused) if s.mid == mids[0]).direction == (
            "inactive")
    try:
        validate_sdp(sdp)
    except DecodeError:
        return
    validate_sdp(munged)
