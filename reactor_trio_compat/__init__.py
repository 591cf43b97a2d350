"""reactor_trio_compat: hosts aiortc (asyncio-only) on its own thread for trio programs.

aiortc needs an asyncio loop, so under trio every aiortc object lives on an
:class:`AiortcLoopThread` (one per trio run, shared and reference-counted) and the client
talks to it through :class:`BridgedClientPeer`, made by :func:`client_peer_factory`.
The ``Reactor`` never imports this package by name: ``reactor_anyio.webrtc.bridges`` keeps a
table keyed by the running async library whose ``"trio"`` entry names
:mod:`reactor_trio_compat.factory`, and that module registers :func:`client_peer_factory`
when imported.  :func:`require_bridge` answers whether WebRTC can run under a given library.
Importing this package does not import trio or aiortc; the submodules do.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from reactor_proto.errors import InvalidStateError

if TYPE_CHECKING:
    from .coordinator import TrioHostedCoordinator
    from .factory import client_peer_factory
    from .loop_thread import AiortcLoopThread, LoopTask
    from .peer import BridgedClientPeer, BridgedRemoteTrack
    from .runtime import TrioHostedRuntime

__all__ = [
    "AiortcLoopThread",
    "BridgedClientPeer",
    "BridgedRemoteTrack",
    "LoopTask",
    "TrioHostedCoordinator",
    "TrioHostedRuntime",
    "bridge_available",
    "client_peer_factory",
    "require_bridge",
]

_LAZY = {
    "AiortcLoopThread": "loop_thread",
    "LoopTask": "loop_thread",
    "BridgedClientPeer": "peer",
    "BridgedRemoteTrack": "peer",
    "client_peer_factory": "factory",
    "TrioHostedRuntime": "runtime",
    "TrioHostedCoordinator": "coordinator",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reactor_trio_compat' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def bridge_available() -> bool:
    """True when trio is installed (the bridge's only extra dependency)."""
    return importlib.util.find_spec("trio") is not None


def require_bridge(library: str) -> None:
    """Return if aiortc can be hosted for the running async ``library``, else raise
    :class:`InvalidStateError` saying why (asyncio needs no bridge).  The answer is the
    client's own: the bridge table of ``reactor_anyio.webrtc.bridges``."""
    if library == "trio" and not bridge_available():
        raise InvalidStateError(
            "WebRTC under 'trio' needs trio installed (pip install 'reactor-sansio[trio]')")
    from reactor_anyio.webrtc import peer_factory_builder  # imports aiortc: only when asked

    peer_factory_builder(library)
