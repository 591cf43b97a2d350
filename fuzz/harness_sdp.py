"""Fuzz the SDP functions.

Oracle: every function returns or raises DecodeError.  Properties: the munged answer still
parses with the same m-sections (kinds, order, MIDs), keeps every input line, and munging
again changes nothing; a direction rewrite keeps the sections too; the identity read before
and after munging is the same.  ``ensure_max_message_size`` (the runtime's last touch on its
answer, raw or munged) keeps the sections, changes no line but ``a=max-message-size`` ones,
leaves every ``m=application`` section advertising exactly the size, and is idempotent.
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
SIZE = 262144


def _shape(sdp: str) -> list[tuple[str, str | None]]:
    return [(section.kind, section.mid) for section in parse_sections(sdp)]


def _lines(sdp: str) -> list[str]:
    return sdp.split("\r\n" if "\r\n" in sdp else "\n")


def _check_max_message_size(sdp: str, shape: list[tuple[str, str | None]]) -> None:
    out = ensure_max_message_size(sdp, SIZE)
    assert ensure_max_message_size(out, SIZE) == out, "not idempotent"
    assert _shape(out) == shape

    def others(text: str) -> list[str]:
        return [line for line in _lines(text) if not line.startswith("a=max-message-size:")]

    assert others(out) == others(sdp), "changed a line other than a=max-message-size"
    for section in parse_sections(out):
        if section.kind == "application":
            assert section.max_message_size == SIZE, "application section without the size"


def one_input(data: bytes) -> None:
    sdp = data.decode("utf-8", "replace")
    shape = _shape(sdp)
    munged = munge_answer(sdp)
    assert _shape(munged) == shape
    assert munge_answer(munged) == munged
    remaining = iter(_lines(munged))
    assert all(any(line == other for other in remaining) for line in _lines(sdp))
    assert ice_identity(munged) == ice_identity(sdp)
    _check_max_message_size(sdp, shape)
    _check_max_message_size(munged, shape)
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
