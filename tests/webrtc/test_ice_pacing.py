"""aioice's idle 20 ms after the last check (reactor_anyio.webrtc.ice_pacing, issue 20)."""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from reactor_anyio.webrtc import LOOPBACK_HOST_ADDRESSES, ClientPeer, IceConfig, TrackSpec
from reactor_anyio.webrtc import client_peer as client_peer_module
from reactor_anyio.webrtc.ice import restricted_host_addresses
from reactor_anyio.webrtc.ice_pacing import (
    BURST,
    end_pacing_when_idle,
    end_pacing_when_idle_all,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class State(enum.Enum):
    WAITING = 1
    FROZEN = 2
    IN_PROGRESS = 3


class Pair:
    def __init__(self, state: State, task: object = None) -> None:
        self.state = state
        self.task = task


class FakeConnection:
    def __init__(self, pairs: list[Pair], *, started: bool = True,
                 expected: bool = False) -> None:
        self._check_list = pairs
        self.started = started
        self.expected = expected

    def _check_periodic(self) -> bool:
        if self.started:
            for pair in self._check_list:
                if pair.state is State.WAITING and pair.task is None:
                    pair.task = object()
                    return True
        return self.expected

    def _remote_candidates_expected(self) -> bool:
        return self.expected


def test_stops_pacing_once_nothing_is_left_to_start() -> None:
    one = FakeConnection([Pair(State.WAITING)])
    assert end_pacing_when_idle(one) and end_pacing_when_idle(one)  # idempotent
    assert one._check_periodic() is False  # started the only pair: no sleep after it


def test_keeps_pacing_while_pairs_wait_or_candidates_may_come() -> None:
    two = FakeConnection([Pair(State.WAITING), Pair(State.FROZEN)])
    end_pacing_when_idle(two)
    assert two._check_periodic() is True
    trickling = FakeConnection([Pair(State.WAITING)], expected=True)
    end_pacing_when_idle(trickling)
    assert trickling._check_periodic() is True
    idle = FakeConnection([Pair(State.IN_PROGRESS, task=object())], started=False)
    end_pacing_when_idle(idle)
    assert idle._check_periodic() is False


class StartingConnection(FakeConnection):
    """With aioice's ``check_start_task``: the wrapper may start the remaining pairs itself."""

    def check_start_task(self, pair: Pair) -> None:
        if pair.task is None:
            pair.task = object()


def test_a_few_pairs_left_are_started_together() -> None:
    pairs = [Pair(State.WAITING), Pair(State.WAITING), Pair(State.FROZEN)]
    few = StartingConnection(pairs)
    end_pacing_when_idle(few)
    assert few._check_periodic() is False  # all three started, no 20 ms sleep between them
    assert all(pair.task is not None for pair in pairs)
    trickling = StartingConnection([Pair(State.WAITING), Pair(State.WAITING)], expected=True)
    end_pacing_when_idle(trickling)
    assert trickling._check_periodic() is True  # more remote candidates may still come
    assert all(pair.task is not None for pair in trickling._check_list)


def test_a_long_check_list_keeps_its_pacing() -> None:
    pairs = [Pair(State.WAITING) for _ in range(BURST + 2)]
    many = StartingConnection(pairs)
    end_pacing_when_idle(many)
    assert many._check_periodic() is True
    assert [pair.task is not None for pair in pairs].count(True) == 1  # one check per step


def test_other_objects_are_left_alone() -> None:
    assert not end_pacing_when_idle(object())
    assert end_pacing_when_idle_all([object(), FakeConnection([])]) == 1


async def test_a_loopback_connect_skips_the_idle_sleep() -> None:
    def record(connection: Any) -> list[bool]:
        steps: list[bool] = []
        inner = connection._check_periodic

        def step() -> bool:
            steps.append(inner())
            return steps[-1]

        connection._check_periodic = step
        return steps

    client = ClientPeer([TrackSpec(name="main_video")],
                        ice=IceConfig(host_addresses=LOOPBACK_HOST_ADDRESSES))
    opened = asyncio.Event()
    client.on_channel_open = lambda label: opened.set() if label == "data" else None
    sdp, _ = await client.create_offer()
    (ours,) = client._ice_connections()
    ours_steps = record(ours)
    with restricted_host_addresses(LOOPBACK_HOST_ADDRESSES):
        remote = RTCPeerConnection()
        remote.on("datachannel", lambda channel: None)
        await remote.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        await remote.setLocalDescription(await remote.createAnswer())
    plain_steps = record(remote.getTransceivers()[0].receiver.transport.transport._connection)
    await client.apply_answer(remote.localDescription.sdp)
    await asyncio.wait_for(opened.wait(), 10)
    await client.close()
    await remote.close()
    # ours started its one check and did not sleep after it; plain aiortc slept 20 ms once
    # before it looked again
    assert ours_steps == [False]
    assert plain_steps[0] is True


def test_warm_up_runs_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_peer_module, "_warm_up_started", False)
    assert client_peer_module.warm_up_in_background()
    assert not client_peer_module.warm_up_in_background()
