"""Which wire a connection speaks (docs/protocol §6.8.1).

A runtime cannot learn a client's wire from signalling: each connection starts on v0 and
latches, exactly once, to whatever its first inbound data-channel message (on either
channel, after chunk reassembly) sniffs as.  :func:`sniff` is the rule;
:class:`WireLatch` keeps the per-connection decision.
"""

from __future__ import annotations

import enum

import attrs

# Python's bytes.lstrip() whitespace: TAB LF VT FF CR and SPACE.
_WHITESPACE = b"\t\n\x0b\x0c\r "
_JSON_OPENERS = frozenset(b"{[")


class Wire(enum.StrEnum):
    V0 = "v0"  # JSON text (§6.2-6.6)
    V1 = "v1"  # protobuf binary (§6.8)


def sniff(message: str | bytes) -> Wire:
    """v0 for text and for binary that starts (after ASCII whitespace) with ``{`` or ``[``;
    v1 for any other binary message, the empty one included.

    Note the rule's corner (kept on purpose, since the peer applies the same one): a v1
    frame that starts with a ``request_id`` whose length byte is whitespace can sniff as v0.
    A v1 sender's safest first frame is a notification without id, such as a ``Ping``.
    """
    if isinstance(message, str):
        return Wire.V0
    head = bytes(message[:256]).lstrip(_WHITESPACE)
    if not head and len(message) > 256:  # only whitespace so far: look at the whole
        head = bytes(message).lstrip(_WHITESPACE)
    return Wire.V0 if head[:1] and head[0] in _JSON_OPENERS else Wire.V1


@attrs.define
class WireLatch:
    """The codec of one connection: ``default`` until the first inbound message, then
    whatever that message sniffed as, for the rest of the connection's life."""

    default: Wire = Wire.V0
    _latched: Wire | None = None

    @property
    def wire(self) -> Wire:
        return self.default if self._latched is None else self._latched

    @property
    def latched(self) -> bool:
        return self._latched is not None

    def observe(self, message: str | bytes) -> Wire:
        """Feed an inbound message; returns the connection's wire (latched on the first)."""
        if self._latched is None:
            self._latched = sniff(message)
        return self._latched
