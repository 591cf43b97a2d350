"""reactor_trio_compat: hosts aiortc (asyncio-only) on its own thread for trio programs.

aiortc needs an asyncio loop.  Until the thread bridge lands, the HTTP side of the client
runs under trio but WebRTC does not: :func:`require_bridge` says so with a typed error
instead of letting aiortc create a stray loop and strand messages silently.
"""

from __future__ import annotations

from reactor_proto.errors import InvalidStateError


def require_bridge(library: str) -> None:
    """Raise unless aiortc can be hosted for the running async ``library``."""
    raise InvalidStateError(
        f"WebRTC under {library!r} needs the aiortc thread bridge of reactor_trio_compat, "
        "which is not available in this version; run the client under asyncio")
