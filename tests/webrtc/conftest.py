"""Fixtures for the aiortc layer: real peers in one process, loopback only, no STUN."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import attrs
import pytest

from reactor_anyio.webrtc import ClientPeer, IceConfig, MappedTrack, ServerPeer, TrackSpec

TRACKS = (
    TrackSpec(name="webcam", kind="video", direction="sendonly"),
    TrackSpec(name="main_video", kind="video", direction="recvonly"),
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def wait_until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Poll ``predicate`` every 10 ms; fail the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within} s")
        await asyncio.sleep(0.01)


@attrs.define
class Pair:
    client: ClientPeer
    server: ServerPeer
    offer: str
    answer: str
    mids: dict[str, str]
    events: list[tuple[object, ...]]


def record(peer: ClientPeer | ServerPeer, side: str, events: list[tuple[object, ...]]) -> None:
    peer.on_connection_state = lambda state: events.append((side, "state", state))
    peer.on_channel_open = lambda label: events.append((side, "open", label))
    peer.on_channel_close = lambda label: events.append((side, "close", label))
    peer.on_channel_message = lambda label, msg: events.append((side, "message", label, msg))
    peer.on_track = lambda name, track: events.append((side, "track", name, track.kind))


async def negotiate(
    tracks: tuple[TrackSpec, ...] = TRACKS, *, video_codecs: tuple[str, ...] = ("video/VP8",)
) -> Pair:
    """Offer, answer and apply between a fresh client and server peer (no munging)."""
    events: list[tuple[object, ...]] = []
    client = ClientPeer(tracks, ice=IceConfig.loopback(), video_codecs=video_codecs)
    record(client, "client", events)
    offer, mids = await client.create_offer()
    mapping = [MappedTrack(mid=mids[t.name], name=t.name, kind=t.kind, direction=t.direction)
               for t in tracks]
    server = ServerPeer(mapping, ice=IceConfig.loopback())
    record(server, "server", events)
    answer = await server.accept(offer)
    await client.apply_answer(answer)
    return Pair(client=client, server=server, offer=offer, answer=answer, mids=mids,
                events=events)


def channels_open(pair: Pair) -> bool:
    return all(p.channel_state(label) == "open"
               for p in (pair.client, pair.server) for label in ("control", "data"))


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    negotiated = await negotiate()
    try:
        await wait_until(lambda: channels_open(negotiated))
        yield negotiated
    finally:
        await negotiated.client.close()
        await negotiated.server.close()
