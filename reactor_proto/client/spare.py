"""The spare peer: the next connection's peer and offer, built while the session is READY.

A reconnect spends its first milliseconds building a peer connection and creating the offer
(a DTLS certificate, transceivers, ICE gathering), on a loop that is at the same moment
tearing the lost peer down; measured on loopback, that made the way back from a dropped
transport 1.2-1.3x a fresh connect (figure 6, issue 20).  None of it depends on the new
connection: the tracks and the ICE servers are the session's.  So, with ``auto_reconnect``
on, ``spare_peer_delay`` seconds after READY (late enough to stay out of the first frames'
way) the machine asks the adapter for a spare (:class:`PrepareSparePeer`); the next
``CreatePeer`` with the same tracks and ICE servers takes it and reports its offer at once.

One spare at most, asked for once per READY: a connection that reaches READY again asks
for a new one (the old one was taken by that connection's ``CreatePeer``, or is replaced).
When the session ends the adapter is told to close it (:class:`DiscardSparePeer`).
"""

from __future__ import annotations

from .actions import DiscardSparePeer, PrepareSparePeer
from .phases import Phase
from .state import ClientState, act


def arm(s: ClientState, now: float) -> None:
    """READY: ask for a spare ``spare_peer_delay`` seconds from now (auto_reconnect only)."""
    delay = s.config.spare_peer_delay
    s.spare_due = None if delay is None or not s.config.auto_reconnect else now + delay


def on_timeout(s: ClientState, now: float) -> None:
    """Ask for the spare once it is due, if the connection is still READY."""
    if s.spare_due is None or now < s.spare_due:
        return
    s.spare_due = None
    if s.phase is Phase.READY and s.ice_servers is not None and s.tracks:
        act(s, PrepareSparePeer(tracks=s.tracks, ice_servers=s.ice_servers))
        s.spare_asked = True


def leaving_ready(s: ClientState) -> None:
    """The connection went away before the spare was due: no spare for it."""
    s.spare_due = None


def discard(s: ClientState) -> None:
    """The session ended: a spare asked for is closed by the adapter."""
    s.spare_due = None
    if s.spare_asked:
        s.spare_asked = False
        act(s, DiscardSparePeer())
