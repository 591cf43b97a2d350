"""Transport inputs of the runtime machine: offers, answers, peers and their channels.

The adapter reports what its peers do (``peer_state``, ``channel_opened``,
``channel_closed``, each with the negotiation the peer was built for) and the machine
applies the transport rules:

* a connection counts as connected when its current peer is ``connected``, its answer was
  created and its ``data`` channel is open, plus its ``control`` channel except on the
  legacy connection 1001 (the JS SDK 2.9.0 opens ``data`` only);
* a re-offer builds a second peer for the same connection; the old one keeps carrying the
  traffic until the new one connects, then ``SwapPeer`` names the new one and the old
  ones are closed;
* a peer that fails (``failed`` / ``closed``) or loses its ``data`` channel is closed
  (``ClosePeer``); when it was the current negotiation's, the connection goes too.
"""

from __future__ import annotations

import random
from typing import Final

from ..bodies.records import SdpOffer
from ..constants import DATA_CHANNEL
from ..errors import InvalidStateError, LocalProtocolError, ReactorError
from ..sdp import ensure_max_message_size, validate_sdp
from .actions import ClosePeer, CloseTransport, CreateAnswer, RuntimeAction, SwapPeer
from .connections import Connection
from .events import ClientConnected, ClientDisconnected, DisconnectReason
from .framing import Framing, declare_chunking, offered_limit
from .session import SessionCore, Trigger

#: Peer connection states (``RTCPeerConnection.connectionState``) that lose the peer.
LOST_PEER_STATES: Final = frozenset({"failed", "closed"})


class TransportInputs(SessionCore):
    """The transport half of :class:`~reactor_proto.runtime.machine.RuntimeMachine`."""

    def _tracked(self, connection_id: int, negotiation_id: int | None) -> Connection | None:
        conn = self.connections.get(connection_id)
        if conn is None or (negotiation_id is not None and negotiation_id != conn.negotiation_id):
            return None
        return conn

    def rng_for_ids(self) -> random.Random:
        """The injected RNG (connection and upload ids are drawn from it)."""
        return self._rng

    def queue(self, action: RuntimeAction) -> None:
        """Queue an action (used by the routes)."""
        self._outbox.act(action)

    def accept_offer(self, conn: Connection, offer: SdpOffer, now: float) -> None:
        """Start a new negotiation for a validated offer (the offer routes call this).  A
        connection whose traffic no peer carries yet gives it to the new peer at once."""
        replaces = conn.has_transport
        self._negotiations += 1
        conn.negotiation_id = negotiation_id = self._negotiations
        conn.track_mapping = offer.track_mapping
        conn.answer = conn.answer_error = None
        conn.answer_taken = conn.peer_connected = conn.transport_up = False
        conn.open_channels = set()
        conn.offered_chunk_limit = offered_limit(offer.sdp)
        if not conn.installed:
            conn.negotiation_deadline = self.config.negotiation_deadline(now)
        active = conn.active_negotiation is None
        if active:
            conn.active_negotiation = negotiation_id
        self._outbox.act(CreateAnswer(
            connection_id=conn.connection_id, negotiation_id=negotiation_id,
            offer_sdp=offer.sdp, track_mapping=offer.track_mapping, replaces=replaces,
            active=active, ignored_inputs=tuple(entry.name for entry in offer.track_mapping
                                               if entry.direction == "sendonly"),
            remote_candidates=tuple(conn.buffered_candidates),
            end_of_candidates=conn.end_of_candidates))
        conn.buffered_candidates.clear()
        conn.end_of_candidates = False

    def answer_created(self, connection_id: int, sdp_answer: str, now: float, *,
                       negotiation_id: int | None = None) -> None:
        """The answerer is ready; its SDP becomes pollable with ``a=max-message-size``."""
        conn = self._tracked(connection_id, negotiation_id)
        if conn is None:
            return
        if not conn.awaiting_answer:
            raise InvalidStateError(
                f"answer_created: connection {connection_id} is not awaiting an answer")
        try:
            validate_sdp(sdp_answer)
            munged = ensure_max_message_size(sdp_answer, self.config.answer_max_message_size)
            if conn.offered_chunk_limit is not None:  # answered only when offered (§6.8.7)
                munged = declare_chunking(munged, self.config.max_chunked_message_bytes)
        except ReactorError as exc:
            raise LocalProtocolError(f"answer_created: sdp_answer: {exc.message}") from None
        conn.answer = munged
        self._install_when_ready(conn, now)

    def answer_failed(self, connection_id: int, reason: str, now: float, *,
                      negotiation_id: int | None = None) -> None:
        """The answerer could not be built (and was discarded); the answer poll gets 500
        with ``reason``.  If that peer was to carry the connection's traffic, none does now."""
        conn = self._tracked(connection_id, negotiation_id)
        if conn is not None and not conn.awaiting_answer:
            raise InvalidStateError(
                f"answer_failed: connection {connection_id} is not awaiting an answer")
        known = self.connections.get(connection_id)
        if known is not None and negotiation_id is not None \
                and known.active_negotiation == negotiation_id:
            known.active_negotiation = None
        if conn is not None:
            conn.answer_error = str(reason) or "negotiation failed"

    def transport_connected(self, connection_id: int, now: float, *,
                            negotiation_id: int | None = None) -> None:
        """The current peer counts as connected: install it (or swap it in for the old one).
        ``peer_state`` / ``channel_opened`` call this when the rule says so; an adapter that
        decides itself may call it directly."""
        conn = self._tracked(connection_id, negotiation_id)
        if conn is None:
            return
        if conn.answer is None or conn.negotiation_id is None:
            raise InvalidStateError(
                f"transport_connected: connection {connection_id} has no answer yet")
        first = not conn.installed
        conn.installed = conn.transport_up = True
        conn.active_negotiation = conn.negotiation_id
        # before the flow actions below: they are meant for the new peer
        self._outbox.act(SwapPeer(connection_id=connection_id,
                                  negotiation_id=conn.negotiation_id))
        conn.negotiation_deadline = None
        own = self.config.max_chunked_message_bytes
        peer = conn.offered_chunk_limit
        conn.framing = None if peer is None else Framing.negotiated(own_limit=own,
                                                                    peer_limit=peer)
        self.channels.arm_watchdog(conn, now)
        if first:
            users = self.connections.installed_count()
            if users == 1 and self.allows(Trigger.FIRST_CONNECTED):
                self._fire(Trigger.FIRST_CONNECTED, now)
            self._outbox.tell(ClientConnected(connection_id=connection_id,
                                              connected_users=users))
        self.channels.on_installed(conn, first=first)
        self.channels.replay_held(conn, now)

    def transport_closed(self, connection_id: int, now: float, *,
                         negotiation_id: int | None = None) -> None:
        """The connection's current transport closed: the connection is removed."""
        conn = self._tracked(connection_id, negotiation_id)
        if conn is not None:
            self._remove_connection(conn, DisconnectReason.CLOSED, now, close=False)

    def drop_transport(self, connection_id: int, now: float) -> bool:
        """The host drops the connection (as a network drop it noticed would): it is removed
        and its transport closed (``CloseTransport``).  False when it is not tracked."""
        conn = self.connections.get(connection_id)
        if conn is not None:
            self._remove_connection(conn, DisconnectReason.CLOSED, now, close=True)
        return conn is not None

    def drop_transports(self, now: float) -> int:
        """``drop_transport`` for every connection with a transport (live or being built);
        returns how many were dropped.  The last one leaves STREAMING for ORPHANED."""
        dropped = [conn for conn in self.connections if conn.has_transport]
        for conn in dropped:
            self._remove_connection(conn, DisconnectReason.CLOSED, now, close=True)
        return len(dropped)

    # ---- adapter inputs: peers and channels (the transport rules) ------------------------

    def peer_state(self, connection_id: int, negotiation_id: int, state: str,
                   now: float) -> None:
        """The peer built for this negotiation is in ``state`` (``connectionState``):
        ``connected`` may install it; ``failed`` / ``closed`` lose it (see ``_peer_lost``)."""
        if state in LOST_PEER_STATES:
            self._peer_lost(connection_id, negotiation_id, now)
            return
        conn = self._tracked(connection_id, negotiation_id)
        if conn is not None:
            conn.peer_connected = state == "connected"
            self._install_when_ready(conn, now)

    def channel_opened(self, connection_id: int, negotiation_id: int, label: str,
                       now: float) -> None:
        """A channel of this negotiation's peer opened; this may install the peer."""
        conn = self._tracked(connection_id, negotiation_id)
        if conn is not None:
            conn.open_channels.add(label)
            self._install_when_ready(conn, now)

    def channel_closed(self, connection_id: int, negotiation_id: int, label: str,
                       now: float) -> None:
        """A channel of this negotiation's peer closed: ``data`` closing loses the peer (the
        earliest sign that the client went away); ``control`` closing only keeps a peer that
        is not installed yet from being installed."""
        if label == DATA_CHANNEL:
            self._peer_lost(connection_id, negotiation_id, now)
            return
        conn = self._tracked(connection_id, negotiation_id)
        if conn is not None:
            conn.open_channels.discard(label)

    def _install_when_ready(self, conn: Connection, now: float) -> None:
        if not conn.transport_up and conn.transport_ready:
            self.transport_connected(conn.connection_id, now,
                                     negotiation_id=conn.negotiation_id)

    def _peer_lost(self, connection_id: int, negotiation_id: int, now: float) -> None:
        """A peer failed or lost its ``data`` channel: it is closed.  When it belonged to the
        current negotiation the connection goes too, and with it any other peer it has (the
        one a failed re-offer was to replace); an older negotiation's peer just goes."""
        self._outbox.act(ClosePeer(connection_id=connection_id, negotiation_id=negotiation_id))
        conn = self.connections.get(connection_id)
        if conn is None:
            return
        if conn.active_negotiation == negotiation_id:
            conn.active_negotiation = None
        if conn.negotiation_id == negotiation_id:
            self._remove_connection(conn, DisconnectReason.CLOSED, now, close=True)

    def _remove_connection(self, conn: Connection, reason: DisconnectReason, now: float, *,
                           close: bool) -> None:
        self.connections.remove(conn.connection_id)
        if close and conn.has_transport:
            self._outbox.act(CloseTransport(connection_id=conn.connection_id))
        self.channels.release_slots(conn.connection_id)
        if conn.installed:
            users = self.connections.installed_count()
            self._outbox.tell(ClientDisconnected(connection_id=conn.connection_id,
                                                 connected_users=users, reason=reason))
            if users == 0 and self.allows(Trigger.LAST_DISCONNECTED):
                self._fire(Trigger.LAST_DISCONNECTED, now)
