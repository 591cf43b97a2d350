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
    return_on_completion,
    return_on_completion_all,
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


# ---- return_on_completion (figure 9: a client that trickles its candidates) ----------------


async def _gathered(controlling: bool) -> Any:
    from aioice import Connection

    connection = Connection(ice_controlling=controlling, components=1, use_ipv6=False)
    with restricted_host_addresses(LOOPBACK_HOST_ADDRESSES):
        await connection.gather_candidates()
    return connection


async def test_connect_returns_when_the_list_completes_not_after_the_sleep() -> None:
    runtime, client = await _gathered(False), await _gathered(True)
    runtime.remote_username, runtime.remote_password = client.local_username, client.local_password
    client.remote_username, client.remote_password = runtime.local_username, runtime.local_password
    for candidate in runtime.local_candidates:
        await client.add_remote_candidate(candidate)
    await client.add_remote_candidate(None)
    steps: list[bool] = []
    inner = runtime._check_periodic

    def step() -> bool:
        steps.append(inner())
        return steps[-1]

    runtime._check_periodic = step
    assert return_on_completion(runtime) and return_on_completion(runtime)  # idempotent
    try:
        # the runtime starts with no remote candidate (they are trickled): it paces, waiting
        connecting = asyncio.ensure_future(runtime.connect())
        await asyncio.sleep(0.002)
        for candidate in client.local_candidates:  # trickled, as 1.13.0 does
            await runtime.add_remote_candidate(candidate)
        await asyncio.wait_for(client.connect(), 10)
        await asyncio.wait_for(connecting, 10)
        # returned while aioice's loop still slept: no step saw the completed list
        assert steps and all(steps)
        assert runtime._query_consent_task is not None  # what aioice's connect ends with
        assert runtime._check_list_state.empty()
        await client.send(b"after")
        assert await asyncio.wait_for(runtime.recv(), 5) == b"after"
    finally:
        await client.close()
        await runtime.close()


async def test_failure_and_cancellation_stay_aioices() -> None:
    lonely = await _gathered(False)
    lonely.remote_username, lonely.remote_password = "user", "password-of-22-chars-x"
    await lonely.add_remote_candidate(None)  # no candidate will come: ICE fails
    return_on_completion(lonely)
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(lonely.connect(), 5)
    await lonely.close()
    waiting = await _gathered(False)
    waiting.remote_username, waiting.remote_password = "user", "password-of-22-chars-x"
    return_on_completion(waiting)
    task = asyncio.ensure_future(waiting.connect())  # waits for candidates forever
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await waiting.close()
    assert not return_on_completion(object())
    other = await _gathered(True)
    assert return_on_completion_all([object(), other]) == 1
    await other.close()
