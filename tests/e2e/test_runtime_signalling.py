"""Signalling corners of the local runtime: re-offers, trickled candidates, failed answers."""

from __future__ import annotations

import pytest

from reactor_anyio.http import HttpClient
from reactor_anyio.runtime import LocalRuntime

from .conftest import BASE, RawClient, body, state, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


async def test_a_put_re_offer_swaps_the_transport_in_place(
        helios: LocalRuntime, http: HttpClient) -> None:
    old, new = RawClient(helios, http), RawClient(helios, http)
    try:
        await old.start_session()
        await old.connect()
        await wait_for(lambda: helios.connections() == 1)
        assert old.cid is not None
        path = f"{BASE}/connections/{old.cid}/sdp_params"
        offered = await new.offer(path, method="PUT")
        assert offered.status == 202
        assert (await new.answer(path)).status == 200
        await wait_for(lambda: all(new.peer.channel_state(lb) == "open"
                                   for lb in ("control", "data")))
        # the old peer is closed once the new one is installed; still one connection
        await wait_for(lambda: helios.peers_open() == 1)
        assert helios.connections() == 1 and state(helios) == "STREAMING"
        new.notify("resume_track", "main_video")
        await wait_for(lambda: len(new.frames) >= 5)
        assert old.frames == []
    finally:
        await old.aclose()
        await new.aclose()


async def test_trickled_candidates_are_buffered_and_applied(
        helios: LocalRuntime, http: HttpClient) -> None:
    client = RawClient(helios, http)
    try:
        await client.start_session()
        cid = await client.register()
        garbage = {"candidates": [{"candidate": "candidate:not a candidate", "sdp_mid": "0",
                                   "sdp_mline_index": 0}], "is_final": False}
        early = await client.request("POST", f"{BASE}/connections/{cid}/ice_candidates",
                                     garbage)
        assert early.status == 202
        path = f"{BASE}/connections/{cid}/sdp_params"
        assert (await client.offer(path)).status == 202
        assert (await client.answer(path)).status == 200
        late = {"candidates": [{"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 9 typ "
                                             "host", "sdp_mid": None, "sdp_mline_index": None}],
                "is_final": True}
        assert (await client.request("POST", f"{BASE}/connections/{cid}/ice_candidates",
                                     late)).status == 202
        await wait_for(lambda: client.peer.channel_state("data") == "open")
        await wait_for(lambda: helios.connections() == 1)
    finally:
        await client.aclose()


async def test_an_offer_aiortc_refuses_gives_a_failed_answer(
        helios: LocalRuntime, http: HttpClient) -> None:
    client = RawClient(helios, http)
    try:
        await client.start_session()
        cid = await client.register()
        sdp, _ = await client.peer.create_offer()
        path = f"{BASE}/connections/{cid}/sdp_params"
        bad_mapping = [{"mid": "7", "name": "main_video", "kind": "video",
                        "direction": "recvonly"}]
        offered = await client.request("POST", path, {"sdp_offer": sdp,
                                                      "track_mapping": bad_mapping})
        assert offered.status == 202
        polled = await client.request("GET", path)
        assert polled.status == 500
        assert "track_mapping[0].mid" in body(polled)["detail"]
        assert helios.peers_open() == 0
        duplicate = bad_mapping * 2
        offered = await client.request("PUT", path, {"sdp_offer": sdp,
                                                     "track_mapping": duplicate})
        polled = await client.request("GET", path)
        assert offered.status != 202 or polled.status == 500
    finally:
        await client.aclose()
