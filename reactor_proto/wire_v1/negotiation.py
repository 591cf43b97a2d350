"""The SDP attributes that switch on v1 transport features (docs/protocol §6.8.7, §6.8.8).

Both are session-level lines placed before the first ``m=`` line:

* ``a=x-reactor-dc-chunking:1 max-message-size=<N>`` -- data-channel chunking; ``N`` is the
  declaring side's receive limit (262 144 when the parameter is missing).  Parameters after
  the version are ``key=value`` pairs separated by ``;``; unknown keys are ignored; a line
  with another version, or one that does not parse, counts as absent.
* ``a=x-reactor-frame-metadata:1`` -- the per-frame metadata trailer.

An answer carries a line only if the offer did; the feature is on only when both did.
"""

from __future__ import annotations

CHUNKING_ATTRIBUTE = "x-reactor-dc-chunking"
FRAME_METADATA_ATTRIBUTE = "x-reactor-frame-metadata"
CHUNKING_VERSION = "1"
FRAME_METADATA_VERSION = "1"
DEFAULT_PEER_MAX_MESSAGE_SIZE = 262_144


def _session_attributes(sdp: str, name: str) -> list[str]:
    prefix = f"a={name}:"
    values = []
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            break  # media-level lines do not count
        if line.startswith(prefix):
            values.append(line[len(prefix):])
    return values


def _parse_chunking(value: str) -> int | None:
    version, _, params = value.strip().partition(" ")
    if version != CHUNKING_VERSION:
        return None
    limit = DEFAULT_PEER_MAX_MESSAGE_SIZE
    for pair in params.split(";"):
        key, sep, raw = pair.strip().partition("=")
        if not key:
            continue
        if not sep:
            return None
        if key == "max-message-size":
            if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
                return None
            limit = int(raw)
    return limit


def chunking_limit(sdp: str) -> int | None:
    """The ``max-message-size`` this description declares for chunking, or None when it
    does not declare chunking (no usable session-level line)."""
    for value in _session_attributes(sdp, CHUNKING_ATTRIBUTE):
        limit = _parse_chunking(value)
        if limit is not None:
            return limit
    return None


def chunking_line(max_message_size: int) -> str:
    """Our declaration, to insert before the first ``m=`` line."""
    return f"a={CHUNKING_ATTRIBUTE}:{CHUNKING_VERSION} max-message-size={max_message_size}"


def negotiated_send_limit(own_limit: int, peer_sdp: str) -> int | None:
    """Largest message we may send once the peer's description is known: min of our own
    limit and the peer's declared one; None when the peer did not declare chunking."""
    peer = chunking_limit(peer_sdp)
    return None if peer is None else min(own_limit, peer)


def declares_frame_metadata(sdp: str) -> bool:
    """True when the description declares the frame-metadata trailer at version 1."""
    return any(v.strip() == FRAME_METADATA_VERSION
               for v in _session_attributes(sdp, FRAME_METADATA_ATTRIBUTE))


def frame_metadata_line() -> str:
    return f"a={FRAME_METADATA_ATTRIBUTE}:{FRAME_METADATA_VERSION}"
