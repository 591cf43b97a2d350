"""SDP section parsing and the client's answer munging (docs/protocol §5.5-5.7, §5.9, C.3).

Everything here is a pure function from SDP text to SDP text or facts about it.  Two rules
hold for every rewrite:

* the SDP keeps its own line separator (CRLF, or LF when the text has no CRLF at all), and
  its trailing separator if it had one;
* lines are only ever inserted or rewritten in place, never dropped, and the m-sections keep
  their kinds, order and MIDs.

Input is remote data, so every function first checks that the text is an SDP at all (first
line ``v=0``, well-formed ``m=`` lines, one consistent line separator, bounded size and
section count) and raises :class:`~reactor_proto.errors.DecodeError` otherwise.  Mixing CRLF
with bare LF (or a stray CR) is refused rather than guessed at: two splitters would disagree
about where an ``m=`` line starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

import attrs

from .errors import DecodeError, LocalProtocolError

#: Largest SDP accepted, in characters.  Real offers and answers are a few KiB.
MAX_SDP_CHARS: Final = 256 * 1024
#: Most m-sections accepted.  Candidate propagation copies the first section's candidates
#: into each later one, so this also bounds how much the munged answer can grow.
MAX_MEDIA_SECTIONS: Final = 64
#: What aiortc assumes when a remote SDP has no ``a=max-message-size`` (docs/protocol §6.4).
REMOTE_DEFAULT_MAX_MESSAGE_SIZE: Final = 65_536

DIRECTIONS: Final = frozenset({"sendonly", "recvonly", "sendrecv", "inactive"})

_CANDIDATE_PREFIX: Final = "a=candidate:"
_END_OF_CANDIDATES: Final = "a=end-of-candidates"
_RTCP_MUX: Final = "a=rtcp-mux"
_MID_PREFIX: Final = "a=mid:"
_MAX_MESSAGE_SIZE_PREFIX: Final = "a=max-message-size:"
_SCTP_PORT_PREFIX: Final = "a=sctp-port:"
_ICE_UFRAG_PREFIX: Final = "a=ice-ufrag:"
_FINGERPRINT_PREFIX: Final = "a=fingerprint:"

# m=<media> <port>[/<number of ports>] <proto> <fmt> ...   (RFC 8866 §5.14)
_M_LINE: Final = re.compile(
    r"m=(?P<kind>[A-Za-z0-9_-]+) (?P<port>[0-9]{1,5})(?:/[0-9]{1,5})? "
    r"(?P<proto>[A-Za-z0-9/_.-]+)(?P<fmts>(?: [^ ]+)+)[ \t]*"
)
_ATTRIBUTE_LINE: Final = re.compile(r"[a-z]=")
#: What no SDP line may hold: a C0 control character other than TAB, DEL, or a lone
#: surrogate.  One regex scan, not a Python loop per character: every offer and answer is
#: validated, and on a real aiortc offer the loop took ~0.4 ms of validate_sdp's 0.5 ms.
_FORBIDDEN_CHAR: Final = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")


@attrs.frozen(kw_only=True)
class MediaSection:
    """Facts about one m-section.

    ``candidates`` holds the attribute values (``"candidate:…"``, the form trickle ICE uses)
    in section order; ``direction`` is the first direction attribute of the section, if any;
    ``max_message_size`` is the section's ``a=max-message-size`` value, if any.
    """

    index: int
    kind: str
    mid: str | None
    direction: str | None
    port: int
    candidates: tuple[str, ...]
    has_rtcp_mux: bool
    max_message_size: int | None = None


@attrs.frozen(kw_only=True)
class _Document:
    """An SDP split into lines: the session block, then one line list per m-section."""

    separator: str
    session: tuple[str, ...]
    sections: tuple[tuple[str, ...], ...]
    trailing_separator: bool

    def render(self, sections: Iterable[Iterable[str]] | None = None) -> str:
        blocks = self.sections if sections is None else sections
        lines = list(self.session)
        for block in blocks:
            lines.extend(block)
        text = self.separator.join(lines)
        return text + self.separator if self.trailing_separator else text


def _fail(message: str, value: object = None) -> DecodeError:
    return DecodeError(f"sdp: {message}", field="sdp", value=value)


def _split(sdp: str) -> _Document:
    if not isinstance(sdp, str):
        raise _fail(f"expected SDP text, got {type(sdp).__name__}")
    if len(sdp) > MAX_SDP_CHARS:
        raise _fail(f"{len(sdp)} characters exceeds the limit of {MAX_SDP_CHARS}", len(sdp))
    separator = "\r\n" if "\r\n" in sdp else "\n"
    lines = sdp.split(separator)
    trailing = len(lines) > 1 and lines[-1] == ""
    if trailing:
        lines.pop()
    if lines[0] != "v=0":
        raise _fail(f"first line must be 'v=0', got {lines[0][:40]!r}", lines[0][:80])
    starts: list[int] = []
    for number, line in enumerate(lines, start=1):
        if "\r" in line or "\n" in line:
            raise _fail(f"line {number} mixes line separators (expected {separator!r} only)",
                        line[:80])
        if line.startswith("m="):
            if _M_LINE.fullmatch(line) is None:
                raise _fail(f"line {number}: malformed m= line {line[:80]!r}", line[:80])
            starts.append(number - 1)
    if len(starts) > MAX_MEDIA_SECTIONS:
        raise _fail(f"{len(starts)} m-sections exceeds the limit of {MAX_MEDIA_SECTIONS}",
                    len(starts))
    bounds = [*starts, len(lines)]
    sections = tuple(tuple(lines[bounds[k]:bounds[k + 1]]) for k in range(len(starts)))
    session = tuple(lines[: starts[0]] if starts else lines)
    return _Document(separator=separator, session=session, sections=sections,
                     trailing_separator=trailing)


def _describe(index: int, block: tuple[str, ...]) -> MediaSection:
    match = _M_LINE.fullmatch(block[0])
    assert match is not None  # _split checked every m= line
    mid: str | None = None
    direction: str | None = None
    max_message_size: int | None = None
    candidates: list[str] = []
    for line in block[1:]:
        if line.startswith(_MID_PREFIX) and mid is None:
            mid = line[len(_MID_PREFIX):]
        elif line.startswith(_CANDIDATE_PREFIX):
            candidates.append(line[2:])
        elif direction is None and line[2:] in DIRECTIONS and line.startswith("a="):
            direction = line[2:]
        elif line.startswith(_MAX_MESSAGE_SIZE_PREFIX) and max_message_size is None:
            value = line[len(_MAX_MESSAGE_SIZE_PREFIX):]
            if value.isascii() and value.isdigit():
                max_message_size = int(value)
    return MediaSection(
        index=index,
        kind=match["kind"],
        mid=mid,
        direction=direction,
        port=int(match["port"]),
        candidates=tuple(candidates),
        has_rtcp_mux=_RTCP_MUX in block,
        max_message_size=max_message_size,
    )


def parse_sections(sdp: str) -> tuple[MediaSection, ...]:
    """The m-sections of ``sdp`` in order.  DecodeError if the text is not an SDP."""
    document = _split(sdp)
    return tuple(_describe(index, block) for index, block in enumerate(document.sections))


def validate_sdp(sdp: str) -> None:
    """Check ``sdp`` more strictly than :func:`parse_sections` does.

    Beyond the structural checks: at least one m-section, every non-empty line is
    ``<letter>=<value>`` without control characters or lone surrogates, and no two sections
    share a MID.
    """
    document = _split(sdp)
    if not document.sections:
        raise _fail("no m= section")
    lines = [*document.session, *(line for block in document.sections for line in block)]
    for number, line in enumerate(lines, start=1):
        if line == "":
            continue
        if _ATTRIBUTE_LINE.match(line) is None:
            raise _fail(f"line {number}: expected '<letter>=<value>', got {line[:40]!r}",
                        line[:80])
        if _FORBIDDEN_CHAR.search(line) is not None:
            raise _fail(f"line {number}: control character or lone surrogate in {line[:40]!r}",
                        line[:80])
    seen: set[str] = set()
    for section in parse_sections(sdp):
        if section.mid is None:
            continue
        if section.mid in seen:
            raise _fail(f"sections[{section.index}].mid: duplicate MID {section.mid!r}",
                        section.mid)
        seen.add(section.mid)


# ---- answer munging (§5.7) ----------------------------------------------------------------


def _last_content_index(block: list[str]) -> int:
    """Index just after the last non-empty line, so insertions land before blank padding."""
    end = len(block)
    while end > 1 and block[end - 1] == "":
        end -= 1
    return end


def propagate_bundle_candidates(sdp: str) -> str:
    """§5.7 step 1: copy the first m-section's candidates into later sections that have none.

    Servers put candidates only on the primary BUNDLE section, and aiortc keys remote
    candidates per ICE transport, so an empty later section would wipe them.  The copies go
    before that section's ``a=end-of-candidates`` when it has one, else after its last line.
    """
    document = _split(sdp)
    if len(document.sections) < 2:
        return sdp
    primary = [line for line in document.sections[0] if line.startswith(_CANDIDATE_PREFIX)]
    if not primary:
        return sdp
    sections: list[tuple[str, ...]] = [document.sections[0]]
    changed = False
    for block in document.sections[1:]:
        if any(line.startswith(_CANDIDATE_PREFIX) for line in block):
            sections.append(block)
            continue
        lines = list(block)
        at = lines.index(_END_OF_CANDIDATES) if _END_OF_CANDIDATES in lines else (
            _last_content_index(lines))
        lines[at:at] = primary
        sections.append(tuple(lines))
        changed = True
    return document.render(sections) if changed else sdp


def ensure_rtcp_mux(sdp: str) -> str:
    """§5.7 step 2: give every m-section (``m=application`` too) an ``a=rtcp-mux`` line.

    GStreamer omits it on secondary BUNDLE sections and aiortc refuses such sections.  The
    line goes right after the ``m=`` line.
    """
    document = _split(sdp)
    sections: list[tuple[str, ...]] = []
    changed = False
    for block in document.sections:
        if _RTCP_MUX in block:
            sections.append(block)
        else:
            sections.append((block[0], _RTCP_MUX, *block[1:]))
            changed = True
    return document.render(sections) if changed else sdp


def end_candidates(sdp: str) -> str:
    """§5.7 step 3: close the candidate list of every m-section that has candidates.

    A runtime never trickles candidates after its answer (§5.4), but neither official runtime
    writes ``a=end-of-candidates``, so aiortc would keep expecting more: its connectivity
    checks then wait one more 20 ms pacing step after the check that already succeeded.  The
    line goes right after the section's last candidate; sections without candidates (nothing
    to close) and sections already closed are left alone.
    """
    document = _split(sdp)
    sections: list[tuple[str, ...]] = []
    changed = False
    for block in document.sections:
        last = max((i for i, line in enumerate(block) if line.startswith(_CANDIDATE_PREFIX)),
                   default=None)
        if last is None or _END_OF_CANDIDATES in block:
            sections.append(block)
            continue
        sections.append((*block[:last + 1], _END_OF_CANDIDATES, *block[last + 1:]))
        changed = True
    return document.render(sections) if changed else sdp


def munge_answer(sdp: str) -> str:
    """Everything the client does to a server answer before applying it (§5.7), in order."""
    return end_candidates(ensure_rtcp_mux(propagate_bundle_candidates(sdp)))


# ---- direction rewrite (§5.9) -------------------------------------------------------------


def flip_direction(direction: str) -> str:
    """The same direction seen from the other peer: sendonly<->recvonly, others unchanged."""
    if direction == "sendonly":
        return "recvonly"
    if direction == "recvonly":
        return "sendonly"
    return direction


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise LocalProtocolError(
            f"direction: expected one of {sorted(DIRECTIONS)}, got {direction!r}"
        )


def set_direction(sdp: str, mid: str, direction: str) -> str:
    """Rewrite the direction attribute of the section whose MID is ``mid``.

    Every direction line of that section is rewritten (there should be one); when it has
    none, one is inserted after its (first) ``a=mid`` line.  LocalProtocolError for an unknown
    direction or a MID the SDP does not have.
    """
    _check_direction(direction)
    document = _split(sdp)
    for index, block in enumerate(document.sections):
        # A section's MID is its first a=mid line, exactly as parse_sections reads it.
        mid_at = next((i for i, line in enumerate(block) if line.startswith(_MID_PREFIX)), None)
        if mid_at is None or block[mid_at] != f"{_MID_PREFIX}{mid}":
            continue
        lines = list(block)
        rewritten = False
        for position, line in enumerate(lines):
            if position and line.startswith("a=") and line[2:] in DIRECTIONS:
                lines[position] = f"a={direction}"
                rewritten = True
        if not rewritten:
            lines.insert(mid_at + 1, f"a={direction}")
        sections = list(document.sections)
        sections[index] = tuple(lines)
        return document.render(sections)
    raise LocalProtocolError(f"mid: no m-section with MID {mid!r} in the SDP")


def apply_local_direction(offer: str, answer: str, mid: str, direction: str) -> tuple[str, str]:
    """§5.9 in one step: ``direction`` into the local offer, its flip into the remote answer,
    rtcp-mux re-ensured on both.  Returns ``(offer, answer)`` ready to re-apply."""
    new_offer = ensure_rtcp_mux(set_direction(offer, mid, direction))
    new_answer = ensure_rtcp_mux(set_direction(answer, mid, flip_direction(direction)))
    return new_offer, new_answer


# ---- identity and limits ------------------------------------------------------------------


def _first_value(blocks: Iterable[Iterable[str]], prefix: str) -> str | None:
    for block in blocks:
        for line in block:
            if line.startswith(prefix):
                return line[len(prefix):]
    return None


def ice_identity(sdp: str) -> tuple[str | None, str | None]:
    """``(ice-ufrag, fingerprint)`` of the first m-section, falling back to session level.

    Two answers with the same identity come from the same server transport: a client that
    re-offered and gets its previous identity back is looking at a stale answer (F9).
    """
    document = _split(sdp)
    scopes = [document.sections[0], document.session] if document.sections else [
        document.session]
    ufrag = _first_value(scopes, _ICE_UFRAG_PREFIX)
    fingerprint = _first_value(scopes, _FINGERPRINT_PREFIX)
    return ufrag, fingerprint


def ensure_max_message_size(sdp: str, size: int) -> str:
    """Advertise ``a=max-message-size:<size>`` in every ``m=application`` section.

    Existing values are replaced; otherwise the line goes after ``a=sctp-port`` (or at the
    end of the section).  Without it aiortc peers assume 64 KiB (C.3).
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise LocalProtocolError(f"size: expected a non-negative integer, got {size!r}")
    document = _split(sdp)
    wanted = f"{_MAX_MESSAGE_SIZE_PREFIX}{size}"
    sections: list[tuple[str, ...]] = []
    for block in document.sections:
        if not block[0].startswith("m=application "):
            sections.append(block)
            continue
        lines = [wanted if line.startswith(_MAX_MESSAGE_SIZE_PREFIX) else line
                 for line in block]
        if wanted not in lines:
            ports = [i for i, line in enumerate(lines) if line.startswith(_SCTP_PORT_PREFIX)]
            at = ports[0] + 1 if ports else _last_content_index(lines)
            lines.insert(at, wanted)
        sections.append(tuple(lines))
    return document.render(sections)


def remote_max_message_size(sdp: str) -> int:
    """The largest data-channel message the peer that wrote ``sdp`` accepts (F23).

    The first ``m=application`` section's ``a=max-message-size`` (0 means no limit, per
    RFC 8841), or aiortc's 65 536-byte assumption when the section does not advertise one.
    DecodeError when the SDP has no ``m=application`` section.
    """
    for section in parse_sections(sdp):
        if section.kind == "application":
            if section.max_message_size is None:
                return REMOTE_DEFAULT_MAX_MESSAGE_SIZE
            return section.max_message_size
    raise _fail("no m=application section")
