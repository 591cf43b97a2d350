"""The connection registry: id minting, per-connection negotiation and liveness bookkeeping.

A connection moves through: registered (no offer) -> negotiating (``CreateAnswer`` queued,
answer pending) -> answered (answer pollable) -> installed (transport connected, counted in
``connected_users``).  A re-offer on an installed connection starts a new negotiation while
the old transport keeps running; the new one is swapped in when it connects.

Ids are minted from the injected RNG in 1002-9999: 1001 is the legacy flat routes' id and
1000 is never used (the official client rejects it, docs/protocol §5.2, F20).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import attrs

from ..bodies import IceCandidate, TrackMappingEntry
from ..constants import CONTROL_CHANNEL, DATA_CHANNEL, LEGACY_CONNECTION_ID, MAX_CONNECTION_ID
from ..wire_v1 import WireLatch
from .framing import Framing

#: Lowest id minted for registered connections.
MIN_MINTED_ID = LEGACY_CONNECTION_ID + 1
#: Channels that must be open before a connection counts as connected.
CHANNELS = frozenset({CONTROL_CHANNEL, DATA_CHANNEL})
LEGACY_CHANNELS = frozenset({DATA_CHANNEL})
#: Frames kept for a connection that is not installed yet (§6.8.1); later ones are dropped.
MAX_HELD_FRAMES = 64
#: Random draws before falling back to a scan (the space is large; the ceiling is small).
_MINT_DRAWS = 32


@attrs.define(kw_only=True, eq=False)
class Connection:
    connection_id: int
    legacy: bool
    registered_at: float
    #: The current offer's id; ``None`` until an offer arrives.
    negotiation_id: int | None = None
    track_mapping: tuple[TrackMappingEntry, ...] = ()
    answer: str | None = None
    answer_error: str | None = None
    #: The client polled the answer (with ``consume_answers`` it is then no longer served).
    answer_taken: bool = False
    installed: bool = False
    #: The negotiation whose peer carries the connection's traffic (``None``: no peer does).
    active_negotiation: int | None = None
    #: What the adapter reported about the current negotiation's peer (reset by an offer).
    peer_connected: bool = False
    open_channels: set[str] = attrs.Factory(set)
    #: The current negotiation's peer was installed (so later reports do not repeat it).
    transport_up: bool = False
    #: Watchdog: time of the last ping (or of installation) and of the next check.
    last_ping: float = 0.0
    next_ping_check: float | None = None
    #: Dropped if not installed by then (``None``: no deadline).
    negotiation_deadline: float | None = None
    paused_outputs: set[str] = attrs.Factory(set)
    #: Trickled candidates that arrived before the offer (bounded; extras are counted).
    buffered_candidates: list[IceCandidate] = attrs.Factory(list)
    candidates_dropped: int = 0
    end_of_candidates: bool = False
    #: The wire (v0 JSON / v1 protobuf) latched by the first inbound message (§6.8.1).
    latch: WireLatch = attrs.Factory(WireLatch)
    #: Chunking of the peer carrying the traffic (``None``: plain messages), and the
    #: limit the current offer declared for it (applied when its peer is installed).
    framing: Framing | None = None
    offered_chunk_limit: int | None = None
    #: Frames received before installation, replayed in order once installed.
    held: list[tuple[str, str | bytes]] = attrs.Factory(list)
    held_dropped: int = 0
    #: Inbound frames or messages dropped (undecodable, unrouted, chunk errors).
    frames_dropped: int = 0

    @property
    def has_transport(self) -> bool:
        """A transport exists or is being built for this connection."""
        return self.negotiation_id is not None

    @property
    def transport_ready(self) -> bool:
        """The current peer counts as connected: answered, peer ``connected``, ``data`` open,
        and ``control`` open too except on the legacy connection (the JS SDK 2.9.0 opens
        ``data`` only)."""
        needed = LEGACY_CHANNELS if self.legacy else CHANNELS
        return self.answer is not None and self.peer_connected and needed <= self.open_channels

    @property
    def awaiting_answer(self) -> bool:
        return (self.negotiation_id is not None and self.answer is None
                and self.answer_error is None)


class ConnectionRegistry:
    """All connections of the running session, keyed by id."""

    def __init__(self, *, max_connections: int) -> None:
        self.max_connections = max_connections
        self._by_id: dict[int, Connection] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._by_id.values()))

    def __contains__(self, connection_id: object) -> bool:
        return connection_id in self._by_id

    def get(self, connection_id: int) -> Connection | None:
        return self._by_id.get(connection_id)

    @property
    def full(self) -> bool:
        return len(self._by_id) >= self.max_connections

    def installed(self) -> list[Connection]:
        return [conn for conn in self._by_id.values() if conn.installed]

    def installed_count(self) -> int:
        return sum(1 for conn in self._by_id.values() if conn.installed)

    def mint(self, rng: random.Random, now: float) -> Connection | None:
        """Register a new connection under a fresh id; ``None`` when at the ceiling."""
        if self.full:
            return None
        connection_id = self._free_id(rng)
        conn = Connection(connection_id=connection_id, legacy=False, registered_at=now)
        self._by_id[connection_id] = conn
        return conn

    def legacy(self, now: float) -> Connection | None:
        """Connection 1001 of the flat routes, registered on first use; ``None`` if full."""
        conn = self._by_id.get(LEGACY_CONNECTION_ID)
        if conn is not None:
            return conn
        if self.full:
            return None
        conn = Connection(connection_id=LEGACY_CONNECTION_ID, legacy=True, registered_at=now)
        self._by_id[LEGACY_CONNECTION_ID] = conn
        return conn

    def remove(self, connection_id: int) -> Connection | None:
        return self._by_id.pop(connection_id, None)

    def clear(self) -> None:
        self._by_id.clear()

    def _free_id(self, rng: random.Random) -> int:
        for _ in range(_MINT_DRAWS):
            candidate = rng.randint(MIN_MINTED_ID, MAX_CONNECTION_ID)
            if candidate not in self._by_id:
                return candidate
        # Only reachable with a huge ceiling: scan from a random point (deterministic).
        span = MAX_CONNECTION_ID - MIN_MINTED_ID + 1
        start = rng.randrange(span)
        for offset in range(span):  # pragma: no branch - the ceiling keeps a free id
            candidate = MIN_MINTED_ID + (start + offset) % span
            if candidate not in self._by_id:
                return candidate
        raise AssertionError("connection id space exhausted below the ceiling")
