"""The spare peer (``reactor_proto.client.spare``): with ``auto_reconnect`` the machine asks
for the next connection's peer ``spare_peer_delay`` s after READY; the next ``CreatePeer``
takes it; the end of the session discards it.  The paired harness checks on every action
that a spare is asked for only while READY and never twice before it is used."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reactor_proto.client import ClientConfig, Phase, PrepareSparePeer, ReactorStatus
from reactor_proto.client.config import SPARE_PEER_DELAY
from reactor_proto.errors import LocalProtocolError

from .test_client_local import ready_harness


def test_spare_is_asked_for_after_the_delay_with_the_sessions_tracks() -> None:
    h = ready_harness(auto_reconnect=True)
    assert h.spares == []
    h.advance(SPARE_PEER_DELAY / 2)
    assert h.spares == []
    h.advance(SPARE_PEER_DELAY)
    [spare] = h.spares
    assert isinstance(spare, PrepareSparePeer)
    state = h.raw._state
    assert spare.tracks == state.tracks and spare.ice_servers == state.ice_servers
    h.advance(30.0)
    assert len(h.spares) == 1  # once per READY


@pytest.mark.parametrize("config", [{}, {"auto_reconnect": True, "spare_peer_delay": None}])
def test_no_spare_without_auto_reconnect_or_when_turned_off(config: dict[str, object]) -> None:
    h = ready_harness(**config)
    h.advance(10.0)
    assert h.spares == []


def test_reconnect_takes_the_spare_and_the_next_ready_asks_again() -> None:
    h = ready_harness(auto_reconnect=True, reconnect_delay=0.0)
    h.advance(1.0)
    assert h.spare_held
    h.machine.peer_state(h.current_peer(), "closed", h.now)
    h.pump()
    h.advance(0.1)
    assert h.machine.status is ReactorStatus.READY
    assert not h.spare_held  # the reconnect's CreatePeer took it
    h.advance(1.0)
    assert len(h.spares) == 2 and h.spare_held


def test_a_connection_lost_before_the_delay_asks_for_none() -> None:
    h = ready_harness(auto_reconnect=True, reconnect_delay=5.0)
    h.machine.peer_state(h.current_peer(), "failed", h.now)
    h.pump()
    h.advance(1.0)
    assert h.machine.phase is Phase.SUSPENDED
    assert h.spares == []


def test_ending_the_session_discards_the_spare() -> None:
    h = ready_harness(auto_reconnect=True)
    h.advance(1.0)
    h.machine.disconnect(h.now)
    h.pump()
    assert h.machine.phase is Phase.IDLE
    assert h.spare_discards == 1 and not h.spare_held


@settings(max_examples=50, deadline=None)
@given(delay=st.one_of(st.none(), st.floats(min_value=0, max_value=1e6)))
def test_valid_delays_are_accepted(delay: float | None) -> None:
    ClientConfig.create("helios", local=True, spare_peer_delay=delay)


@pytest.mark.parametrize("delay", [-0.1, float("nan"), float("inf"), True, "1"])
def test_bad_delays_are_refused(delay: object) -> None:
    with pytest.raises(LocalProtocolError, match="spare_peer_delay"):
        ClientConfig.create("helios", local=True, spare_peer_delay=delay)
