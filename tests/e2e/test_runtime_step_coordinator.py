"""Stepped generation through ``reactor coordinator`` (§15.2, §15.7): the mode 1.13.0 sends
as ``extra_configs.generation`` reaches the hosted runtime, the descriptor reports it, and
``GET /sessions/{id}/steps`` is forwarded to the runtime."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from reactor_anyio.http import HttpClient
from reactor_proto.http import HttpRequest

from .test_coordinator_support import KEY, emulator

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def call(http: HttpClient, method: str, url: str, token: str,
               body: Any = None) -> tuple[int, Any]:
    headers = [("authorization", f"Bearer {token}"), ("reactor-api-version", "1"),
               ("reactor-api-accept-version", "1")]
    payload = None
    if body is not None:
        headers.append(("content-type", "application/json"))
        payload = json.dumps(body).encode()
    response = await http.request(HttpRequest(method=method, url=url, headers=tuple(headers),
                                              body=payload), timeout=10)
    return response.status, json.loads(response.body) if response.body else None


async def test_a_stepped_session_through_the_coordinator() -> None:
    async with emulator(api_keys=[KEY]) as emu, HttpClient() as http:
        issued = await http.request(HttpRequest(method="POST", url=f"{emu.url}/tokens",
                                                headers=(("reactor-api-key", KEY),)),
                                    timeout=10)
        token = json.loads(issued.body)["jwt"]
        status, created = await call(http, "POST", f"{emu.url}/sessions", token, {
            "model": {"name": "helios"}, "client_info": {"sdk_version": "1.13.0",
                                                         "sdk_type": "python"},
            "extra_configs": {"generation": "stepped"}})
        assert status in (200, 201), created
        sid = created["session_id"]
        url = f"{emu.url}/sessions/{sid}"
        descriptor: Any = None
        with anyio.fail_after(10):
            while descriptor is None or descriptor["state"] != "WAITING":
                _, descriptor = await call(http, "GET", url, token)
                await anyio.sleep(0.05)
        assert descriptor["generation"] == "stepped"
        (hosted,) = emu.runtimes
        assert hosted.runtime.machine.stepper.stepped
        assert hosted.runtime.machine.stepper.session_id == sid  # results are kept under it
        status, listing = await call(http, "GET", f"{url}/steps", token)
        # the runtime's own answer: the route was forwarded, and nothing is kept
        assert (status, listing) == (404, {"detail": "No stored steps for this session"})
        status, _ = await call(http, "GET", f"{url}/steps/1/output.mp4", token)
        assert status == 404
        status, _ = await call(http, "DELETE", url, token)
        assert status == 200
