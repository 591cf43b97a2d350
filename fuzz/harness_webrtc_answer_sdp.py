"""Fuzz ``ensure_max_message_size``: the runtime's last touch on its SDP answer.

Oracle: it never raises; it is idempotent; it only ever adds ``a=max-message-size`` lines
(removing them gives the input back), and afterwards every ``m=application`` section has one.
"""

from __future__ import annotations

from reactor_anyio.webrtc.server_peer import ensure_max_message_size

ACCEPTED: tuple[type[BaseException], ...] = ()
ADDED = "a=max-message-size:262144"


def one_input(data: bytes) -> None:
    sdp = data.decode("utf-8", errors="surrogateescape")
    out = ensure_max_message_size(sdp)
    assert ensure_max_message_size(out) == out, "not idempotent"
    newline = "\r\n" if "\r\n" in sdp else "\n"
    before = sdp.split(newline)
    after = out.split(newline)
    assert [x for x in after if x != ADDED] == [x for x in before if x != ADDED], "changed lines"
    section: list[str] | None = None
    for line in [*after, "m=end"]:
        if line.startswith("m="):
            if section is not None:
                assert any(x.startswith("a=max-message-size:") for x in section), "missing"
            section = [] if line.startswith("m=application") else None
        elif section is not None:
            section.append(line)
