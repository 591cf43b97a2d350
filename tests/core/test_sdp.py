"""SDP section parsing, answer munging and direction rewrites (docs/protocol §5.7, §5.9, C)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.errors import DecodeError, LocalProtocolError
from reactor_proto.sdp import (
    MAX_MEDIA_SECTIONS,
    MAX_SDP_CHARS,
    REMOTE_DEFAULT_MAX_MESSAGE_SIZE,
    MediaSection,
    apply_local_direction,
    end_candidates,
    ensure_max_message_size,
    ensure_rtcp_mux,
    flip_direction,
    ice_identity,
    munge_answer,
    parse_sections,
    propagate_bundle_candidates,
    remote_max_message_size,
    set_direction,
    validate_sdp,
)

DATA = Path(__file__).resolve().parents[1] / "data"


def load(name: str) -> str:
    # read_bytes keeps CRLF exactly as written; read_text would translate it.
    return (DATA / name).read_bytes().decode("utf-8")


AIORTC_OFFER = load("aiortc_offer.sdp")
AIORTC_ANSWER = load("aiortc_answer.sdp")
GST_ANSWER = load("gstreamer_answer.sdp")
REAL = [AIORTC_OFFER, AIORTC_ANSWER, GST_ANSWER]


def lines_of(sdp: str) -> list[str]:
    sep = "\r\n" if "\r\n" in sdp else "\n"
    return sdp.split(sep)


def is_subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(any(line == other for other in it) for line in small)


def shape(sdp: str) -> list[tuple[str, str | None]]:
    return [(s.kind, s.mid) for s in parse_sections(sdp)]


# ---- the real SDPs -----------------------------------------------------------------------


def test_aiortc_offer_sections() -> None:
    sections = parse_sections(AIORTC_OFFER)
    assert [(s.index, s.kind, s.mid, s.direction) for s in sections] == [
        (0, "video", "0", "recvonly"), (1, "video", "1", "sendonly"),
        (2, "application", "2", None)]
    assert all(s.has_rtcp_mux for s in sections[:2])
    assert sections[0].candidates[0].startswith("candidate:")
    assert sections[2].max_message_size == 262144
    assert sections[0].port > 0


def test_gstreamer_answer_is_what_appendix_c_describes() -> None:
    sections = parse_sections(GST_ANSWER)
    assert [s.kind for s in sections] == ["video", "video", "application"]
    assert [len(s.candidates) for s in sections] == [1, 0, 0]
    assert [s.has_rtcp_mux for s in sections] == [True, True, False]
    assert sections[2].max_message_size is None
    assert "\r\n" in GST_ANSWER
    assert "VP8/90000" in GST_ANSWER


def test_munge_gstreamer_answer() -> None:
    munged = munge_answer(GST_ANSWER)
    sections = parse_sections(munged)
    first = sections[0].candidates
    assert [s.candidates for s in sections] == [first, first, first]
    assert all(s.has_rtcp_mux for s in sections)
    assert is_subsequence(lines_of(GST_ANSWER), lines_of(munged))
    assert munged.count("\n") == munged.count("\r\n")
    assert munged.endswith("\r\n")
    app = lines_of(munged)
    at = app.index("m=application 9 UDP/DTLS/SCTP webrtc-datachannel")
    assert app[at + 1] == "a=rtcp-mux"


def test_munged_gstreamer_answer_closes_every_candidate_list() -> None:
    # Runtimes never trickle (§5.7 step 3); GStreamer closes only the first section's list.
    assert GST_ANSWER.count("a=end-of-candidates") == 1
    lines = lines_of(munge_answer(GST_ANSWER))
    ends = [i for i, line in enumerate(lines) if line == "a=end-of-candidates"]
    assert len(ends) == len(parse_sections(GST_ANSWER)) == 3
    for end in ends:
        assert lines[end - 1].startswith("a=candidate:")
        assert not lines[end + 1].startswith("a=candidate:")


def test_end_candidates_leaves_closed_and_empty_sections_alone() -> None:
    assert end_candidates(AIORTC_ANSWER) is AIORTC_ANSWER  # aiortc closes its own lists
    empty = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n"
    assert end_candidates(empty) is empty


def test_munge_aiortc_answer_only_adds_rtcp_mux_to_application() -> None:
    # aiortc itself writes no a=rtcp-mux in m=application; its candidates are everywhere.
    assert propagate_bundle_candidates(AIORTC_ANSWER) is AIORTC_ANSWER
    munged = munge_answer(AIORTC_ANSWER)
    assert munged == AIORTC_ANSWER.replace(
        "webrtc-datachannel\r\n", "webrtc-datachannel\r\na=rtcp-mux\r\n")
    assert ensure_rtcp_mux(munged) is munged


def test_munge_keeps_lf_separator() -> None:
    lf = GST_ANSWER.replace("\r\n", "\n")
    munged = munge_answer(lf)
    assert "\r" not in munged
    assert munged == munge_answer(GST_ANSWER).replace("\r\n", "\n")


def test_propagated_candidates_go_before_end_of_candidates() -> None:
    # Drop the candidates of the second and third sections, keep their end-of-candidates.
    out: list[str] = []
    section = -1
    for line in lines_of(AIORTC_ANSWER):
        if line.startswith("m="):
            section += 1
        if section > 0 and line.startswith("a=candidate:"):
            continue
        out.append(line)
    text = "\r\n".join(out)
    munged = propagate_bundle_candidates(text)
    lines = lines_of(munged)
    ends = [i for i, line in enumerate(lines) if line == "a=end-of-candidates"]
    for end in ends:
        assert lines[end - 1].startswith("a=candidate:")
    assert [len(s.candidates) for s in parse_sections(munged)] == [2, 2, 2]


def test_candidates_inserted_before_trailing_blank_lines() -> None:
    sdp = "v=0\nm=video 9 RTP/AVP 96\na=candidate:1 1 udp 1 1.2.3.4 5 typ host\n" \
          "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=mid:1\n\n\n"
    munged = propagate_bundle_candidates(sdp)
    assert munged.endswith("a=mid:1\na=candidate:1 1 udp 1 1.2.3.4 5 typ host\n\n\n")


def test_propagation_no_op_cases() -> None:
    one = "v=0\r\nm=video 9 RTP/AVP 96\r\na=candidate:x\r\n"
    assert propagate_bundle_candidates(one) is one
    none = "v=0\r\nm=video 9 RTP/AVP 96\r\nm=audio 9 RTP/AVP 0\r\n"
    assert propagate_bundle_candidates(none) is none
    full = "v=0\r\nm=video 9 RTP/AVP 96\r\na=candidate:x\r\nm=audio 9 RTP/AVP 0\r\na=candidate:y"
    assert propagate_bundle_candidates(full) is full
    session_only = "v=0\r\ns=-\r\n"
    assert ensure_rtcp_mux(session_only) is session_only


# ---- direction -----------------------------------------------------------------------------


@pytest.mark.parametrize(("given_", "expected"), [
    ("sendonly", "recvonly"), ("recvonly", "sendonly"), ("sendrecv", "sendrecv"),
    ("inactive", "inactive"), ("other", "other")])
def test_flip_direction(given_: str, expected: str) -> None:
    assert flip_direction(given_) == expected


def test_set_direction_rewrites_one_mid() -> None:
    out = set_direction(AIORTC_OFFER, "0", "inactive")
    assert [s.direction for s in parse_sections(out)] == ["inactive", "sendonly", None]
    assert len(lines_of(out)) == len(lines_of(AIORTC_OFFER))


def test_set_direction_inserts_after_mid_when_absent() -> None:
    out = set_direction(AIORTC_OFFER, "2", "sendrecv")
    lines = lines_of(out)
    assert lines[lines.index("a=mid:2") + 1] == "a=sendrecv"
    assert parse_sections(out)[2].direction == "sendrecv"


def test_set_direction_rewrites_every_direction_line_of_the_section() -> None:
    sdp = "v=0\nm=video 9 RTP/AVP 96\na=sendonly\na=mid:a\na=recvonly\nm=audio 9 RTP/AVP 0\n" \
          "a=mid:b\na=sendonly"
    out = set_direction(sdp, "a", "inactive")
    assert out == sdp.replace("a=sendonly\na=mid:a\na=recvonly", "a=inactive\na=mid:a\na=inactive")


def test_set_direction_errors() -> None:
    with pytest.raises(LocalProtocolError, match="'9'"):
        set_direction(AIORTC_OFFER, "9", "inactive")
    with pytest.raises(LocalProtocolError, match="'paused'"):
        set_direction(AIORTC_OFFER, "0", "paused")


def test_apply_local_direction_pause_and_resume() -> None:
    munged_answer = munge_answer(GST_ANSWER)
    offer, answer = apply_local_direction(AIORTC_OFFER, munged_answer, "1", "inactive")
    assert parse_sections(offer)[1].direction == "inactive"
    assert parse_sections(answer)[1].direction == "inactive"
    offer, answer = apply_local_direction(offer, answer, "1", "sendonly")
    assert parse_sections(offer)[1].direction == "sendonly"
    assert parse_sections(answer)[1].direction == "recvonly"
    assert answer == munged_answer
    assert all(s.has_rtcp_mux for s in parse_sections(answer))


# ---- identity and limits -------------------------------------------------------------------


def test_ice_identity() -> None:
    ufrag, fingerprint = ice_identity(AIORTC_ANSWER)
    assert ufrag == "oLfL"
    assert fingerprint is not None
    assert fingerprint.startswith("sha-256 12:15:86")
    assert ice_identity(GST_ANSWER)[0] == "Hq3sJ2hW0nKfXc7oPzR1yLbM9dTa4uVe"
    assert ice_identity(AIORTC_OFFER) != ice_identity(AIORTC_ANSWER)


def test_ice_identity_session_level_fallback_and_absence() -> None:
    session = "v=0\na=ice-ufrag:S\na=fingerprint:sha-256 AA\nm=video 9 RTP/AVP 96\n"
    assert ice_identity(session) == ("S", "sha-256 AA")
    media_first = session + "a=ice-ufrag:M\n"
    assert ice_identity(media_first) == ("M", "sha-256 AA")
    assert ice_identity("v=0\na=ice-ufrag:Q") == ("Q", None)
    assert ice_identity("v=0\nm=video 9 RTP/AVP 96") == (None, None)


def test_ensure_max_message_size_inserts_after_sctp_port() -> None:
    out = ensure_max_message_size(GST_ANSWER, 262144)
    lines = lines_of(out)
    assert lines[lines.index("a=sctp-port:5000") + 1] == "a=max-message-size:262144"
    assert remote_max_message_size(out) == 262144
    assert ensure_max_message_size(out, 262144) == out


def test_ensure_max_message_size_replaces_and_appends() -> None:
    out = ensure_max_message_size(AIORTC_ANSWER, 1000)
    assert "a=max-message-size:262144" not in out
    assert remote_max_message_size(out) == 1000
    bare = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n"
    assert ensure_max_message_size(bare, 5).endswith("a=mid:0\r\na=max-message-size:5\r\n")
    video = "v=0\r\nm=video 9 RTP/AVP 96\r\n"
    assert ensure_max_message_size(video, 5) == video
    lf = ensure_max_message_size(bare.replace("\r\n", "\n"), 5)
    assert lf == "v=0\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=mid:0\n" \
        "a=max-message-size:5\n"
    # Every existing value is rewritten, so the answer promises exactly ``size``.
    both = bare + "a=max-message-size:65536\r\na=max-message-size:1\r\n"
    assert ensure_max_message_size(both, 5).count("a=max-message-size:5\r\n") == 2


@pytest.mark.parametrize("size", [-1, True, 1.5, "10"])
def test_ensure_max_message_size_rejects_bad_size(size: object) -> None:
    with pytest.raises(LocalProtocolError, match="size"):
        ensure_max_message_size(GST_ANSWER, size)  # type: ignore[arg-type]


def test_remote_max_message_size() -> None:
    assert remote_max_message_size(AIORTC_ANSWER) == 262144
    assert remote_max_message_size(GST_ANSWER) == REMOTE_DEFAULT_MAX_MESSAGE_SIZE
    weird = GST_ANSWER.replace("a=sctp-port:5000", "a=sctp-port:5000\r\na=max-message-size:x")
    assert remote_max_message_size(weird) == REMOTE_DEFAULT_MAX_MESSAGE_SIZE
    with pytest.raises(DecodeError, match="m=application"):
        remote_max_message_size("v=0\nm=video 9 RTP/AVP 96")


# ---- malformed input -----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "needle"), [
    ("", "v=0"), ("v=1\r\n", "v=0"), ("o=- 1 1 IN IP4 0.0.0.0\r\nv=0", "v=0"),
    ("v=0\r\nm=video\r\n", "malformed m="), ("v=0\r\nm=video x RTP/AVP 96", "malformed m="),
    ("v=0\r\nm=video 9 RTP/AVP\r\n", "malformed m="),
    ("v=0\r\nm=video 9 RTP/AVP 96\na=x\r\n", "line 2 mixes"),
    ("v=0\nm=video 9 RTP/AVP 96\ra=x\n", "mixes"),
])
def test_parse_rejects(text: str, needle: str) -> None:
    with pytest.raises(DecodeError, match=needle) as info:
        parse_sections(text)
    assert info.value.field == "sdp"


def test_parse_bounds() -> None:
    with pytest.raises(DecodeError, match="exceeds the limit"):
        parse_sections("v=0\r\n" + "a" * MAX_SDP_CHARS)
    many = "v=0\r\n" + "m=audio 9 RTP/AVP 0\r\n" * (MAX_MEDIA_SECTIONS + 1)
    with pytest.raises(DecodeError, match="m-sections exceeds"):
        munge_answer(many)
    with pytest.raises(DecodeError, match="expected SDP text"):
        parse_sections(b"v=0")  # type: ignore[arg-type]


def test_every_line_prefix_parses_or_is_refused() -> None:
    lines = lines_of(GST_ANSWER)
    for cut in range(len(lines) + 1):
        prefix = "\r\n".join(lines[:cut])
        try:
            sections = parse_sections(prefix)
        except DecodeError:
            assert cut == 0
            continue
        assert len(sections) == sum(1 for line in lines[:cut] if line.startswith("m="))
        assert shape(munge_answer(prefix)) == [(s.kind, s.mid) for s in sections]


def test_trailing_garbage() -> None:
    assert shape(GST_ANSWER + "garbage") == shape(GST_ANSWER)
    with pytest.raises(DecodeError, match="expected '<letter>=<value>'"):
        validate_sdp(GST_ANSWER + "garbage")
    with pytest.raises(DecodeError, match="malformed m="):
        munge_answer(GST_ANSWER + "m=garbage")
    with pytest.raises(DecodeError, match="mixes"):
        munge_answer(GST_ANSWER + "\na=x")


def test_validate_sdp() -> None:
    for sdp in REAL:
        validate_sdp(sdp)
        validate_sdp(munge_answer(sdp))
    validate_sdp("v=0\r\n\r\nm=video 9 RTP/AVP 96\r\n\r\n")
    with pytest.raises(DecodeError, match="no m= section"):
        validate_sdp("v=0\r\ns=-\r\n")
    with pytest.raises(DecodeError, match="control character"):
        validate_sdp("v=0\nm=video 9 RTP/AVP 96\na=x\x00y")
    with pytest.raises(DecodeError, match="control character"):
        validate_sdp("v=0\nm=video 9 RTP/AVP 96\na=x\x7f")
    validate_sdp("v=0\nm=video 9 RTP/AVP 96\na=fmtp:96 a=1;\tb=2")
    with pytest.raises(DecodeError, match=r"sections\[1\].mid: duplicate MID '0'"):
        validate_sdp("v=0\nm=video 9 RTP/AVP 96\na=mid:0\nm=audio 9 RTP/AVP 0\na=mid:0")


def forbidden_in_sdp_line(char: str) -> bool:
    """The rule validate_sdp enforces, spelled out one character at a time."""
    code = ord(char)
    return (code < 0x20 and char != "\t") or code == 0x7F or 0xD800 <= code <= 0xDFFF


#: Both ends of every forbidden range and their neighbours, the first code points, and the
#: characters that other line-splitting rules treat specially.
SDP_CHAR_EDGES = [*range(0x00, 0x22), 0x7E, 0x7F, 0x80, 0x85, 0xA0, 0x2028, 0x2029,
                  0xD7FF, 0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xE000, 0xFEFF, 0xFFFF, 0x10FFFF]


def assert_validate_sdp_judges(char: str) -> None:
    if char in "\r\n":
        return  # they end lines, so they are never inside one
    sdp = f"v=0\nm=video 9 RTP/AVP 96\na=x{char}y"
    if forbidden_in_sdp_line(char):
        with pytest.raises(DecodeError, match="control character"):
            validate_sdp(sdp)
    else:
        validate_sdp(sdp)


@pytest.mark.parametrize("code", SDP_CHAR_EDGES)
def test_validate_sdp_refuses_exactly_the_forbidden_characters(code: int) -> None:
    assert_validate_sdp_judges(chr(code))


@given(st.characters(exclude_categories=()))  # surrogates included
def test_validate_sdp_character_rule_property(char: str) -> None:
    assert_validate_sdp_judges(char)


# ---- properties ----------------------------------------------------------------------------

KINDS = st.sampled_from(["video", "audio", "application"])
ATTRS = st.sampled_from([
    "a=sendonly", "a=recvonly", "a=sendrecv", "a=inactive", "a=rtcp-mux", "a=rtcp-rsize",
    "a=end-of-candidates", "a=ice-ufrag:abcd", "a=sctp-port:5000", "a=max-message-size:1",
    "a=rtpmap:96 VP8/90000", "c=IN IP4 0.0.0.0", "", "a=candidate:1 1 udp 9 10.0.0.1 9 typ host",
    "a=candidate:2 1 udp 8 10.0.0.2 9 typ host"])


@st.composite
def sdps(draw: st.DrawFn) -> str:
    sep = draw(st.sampled_from(["\r\n", "\n"]))
    lines = ["v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0"]
    lines += draw(st.lists(ATTRS, max_size=3))
    for index in range(draw(st.integers(0, 5))):
        kind = draw(KINDS)
        lines.append(f"m={kind} {draw(st.integers(0, 65535))} UDP/TLS/RTP/SAVPF 96")
        if draw(st.booleans()):
            lines.append(f"a=mid:{index}")
        lines += draw(st.lists(ATTRS, max_size=6))
    text = sep.join(lines)
    return text + sep if draw(st.booleans()) else text


@given(sdps())
def test_munging_properties(sdp: str) -> None:
    munged = munge_answer(sdp)
    assert munge_answer(munged) == munged
    assert shape(munged) == shape(sdp)
    if "\r\n" in sdp:
        assert munged.count("\n") == munged.count("\r\n")
    else:
        assert "\r" not in munged
    assert munged.endswith("\n") == sdp.endswith("\n")
    assert is_subsequence(lines_of(sdp), lines_of(munged))
    assert all(s.has_rtcp_mux for s in parse_sections(munged))


@given(sdps())
def test_propagation_only_fills_empty_sections(sdp: str) -> None:
    before = parse_sections(sdp)
    after = parse_sections(propagate_bundle_candidates(sdp))
    source = before[0].candidates if before else ()
    for index, (old, new) in enumerate(zip(before, after, strict=True)):
        if old.candidates or index == 0 or not source:
            assert new == old
        else:
            assert new.candidates == source
            assert attrs_equal_except_candidates(old, new)
    added = len(lines_of(propagate_bundle_candidates(sdp))) - len(lines_of(sdp))
    expected = sum(len(source) for i, s in enumerate(before) if i and not s.candidates)
    assert added == expected


@given(sdps())
def test_end_candidates_closes_each_list_once(sdp: str) -> None:
    closed = end_candidates(sdp)
    assert end_candidates(closed) == closed
    assert is_subsequence(lines_of(sdp), lines_of(closed))
    assert parse_sections(closed) == parse_sections(sdp)
    before, after = section_lines(sdp), section_lines(closed)
    for old, new in zip(before, after, strict=True):
        has_candidates = any(line.startswith("a=candidate:") for line in old)
        if not has_candidates or "a=end-of-candidates" in old:
            assert new == old
        else:
            assert len(new) == len(old) + 1 and new.count("a=end-of-candidates") == 1
            at = new.index("a=end-of-candidates")
            assert new[at - 1].startswith("a=candidate:")
            assert not any(line.startswith("a=candidate:") for line in new[at:])


def section_lines(sdp: str) -> list[list[str]]:
    sections: list[list[str]] = []
    for line in lines_of(sdp):
        if line.startswith("m="):
            sections.append([])
        if sections:
            sections[-1].append(line)
    return sections


def attrs_equal_except_candidates(old: MediaSection, new: MediaSection) -> bool:
    return (old.kind, old.mid, old.direction, old.port, old.has_rtcp_mux) == (
        new.kind, new.mid, new.direction, new.port, new.has_rtcp_mux)


@given(sdps(), st.sampled_from(["sendonly", "recvonly", "sendrecv", "inactive"]))
def test_set_direction_property(sdp: str, direction: str) -> None:
    before = parse_sections(sdp)
    mids = [s.mid for s in before if s.mid is not None]
    if not mids:
        with pytest.raises(LocalProtocolError):
            set_direction(sdp, "0", direction)
        return
    out = set_direction(sdp, mids[0], direction)
    after = parse_sections(out)
    assert shape(out) == shape(sdp)
    for old, new in zip(before, after, strict=True):
        if old.mid == mids[0]:
            assert new.direction == direction
        else:
            assert new == old
    assert set_direction(out, mids[0], direction) == out


@given(sdps(), st.integers(0, 2**31))
def test_max_message_size_property(sdp: str, size: int) -> None:
    out = ensure_max_message_size(sdp, size)
    assert shape(out) == shape(sdp)
    assert ensure_max_message_size(out, size) == out
    for section in parse_sections(out):
        if section.kind == "application":
            assert section.max_message_size == size

    def others(text: str) -> list[str]:  # every line but the advertised size, in order
        return [x for x in lines_of(text) if not x.startswith("a=max-message-size:")]

    assert others(out) == others(sdp)
    assert out.endswith("\n") == sdp.endswith("\n")
    if "\r\n" not in sdp:
        assert "\r" not in out


def test_set_direction_uses_the_first_mid_line_like_parse_sections() -> None:
    sdp = "v=0\nm=video 9 RTP/AVP 96\na=mid:1\na=mid:0\nm=audio 9 RTP/AVP 0\na=mid:0"
    out = set_direction(sdp, "0", "inactive")
    assert out == sdp + "\na=inactive"
    assert [s.direction for s in parse_sections(out)] == [None, "inactive"]


def test_m_line_tolerates_trailing_whitespace_only() -> None:
    assert parse_sections("v=0\r\nm=video 9 RTP/AVP 96 \r\n")[0].port == 9
    with pytest.raises(DecodeError, match="malformed m="):
        parse_sections("v=0\r\nm=video 9 RTP/AVP 96  x\r\n")
