"""The fault-applying HTTP wrapper over real sockets (no runtime needed), asyncio and trio."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest

from reactor_anyio.coordinator.faults import (
    MALFORMED_BODY,
    Fault,
    FaultInjector,
    FaultKind,
    FaultPlan,
)
from reactor_anyio.http import HttpClient, HttpServer
from reactor_proto.errors import NetworkError, RemoteProtocolError
from reactor_proto.http import HttpRequest, HttpResponse, json_response

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Target:
    """Records the side effects the injector asks for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    async def drop_peer(self, session_id: str | None) -> int:
        self.calls.append(("drop_peer", session_id))
        return 1

    async def kill_runtime(self, session_id: str | None) -> int:
        self.calls.append(("kill_runtime", session_id))
        return 1

    async def expire_session(self, session_id: str | None) -> int:
        self.calls.append(("expire_session", session_id))
        return 1


class Served:
    def __init__(self, injector: FaultInjector, target: Target, url: str,
                 seen: list[HttpRequest]) -> None:
        self.injector, self.target, self.url, self.seen = injector, target, url, seen


@pytest.fixture
async def served(request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    faults: tuple[Fault, ...] = request.param
    seen: list[HttpRequest] = []

    async def handler(req: HttpRequest) -> HttpResponse:
        seen.append(req)
        return json_response(200, {"path": req.path})

    target = Target()
    injector = FaultInjector(FaultPlan(faults=faults), handler, target)
    async with HttpServer(injector) as server:
        host, port = server.address
        yield Served(injector, target, f"http://{host}:{port}", seen)


def plan(*faults: Fault) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("served", [faults], indirect=True)


async def get(url: str, path: str, method: str = "GET") -> HttpResponse:
    async with HttpClient() as client:
        return await client.request(HttpRequest(method=method, url=url + path), timeout=5)


@plan(Fault(route="GET /sessions/*", status=429, retry_after=1, nth=2))
async def test_status_on_the_nth_request_only(served: Served) -> None:
    first = await get(served.url, "/sessions/a")
    second = await get(served.url, "/sessions/a")
    third = await get(served.url, "/sessions/a")
    assert [first.status, second.status, third.status] == [200, 429, 200]
    assert second.header("retry-after") == "1"
    assert len(served.seen) == 2               # the faulted request never reached the machine
    applied = list(served.injector.applied)
    assert [(a.index, a.kind, a.path) for a in applied] == [(0, FaultKind.STATUS,
                                                             "/sessions/a")]


@plan(Fault(route="POST /sessions", version=501, times=1))
async def test_version(served: Served) -> None:
    response = await get(served.url, "/sessions", "POST")
    assert response.status == 501 and "version" in json.loads(response.body)["detail"]
    assert (await get(served.url, "/sessions", "POST")).status == 200


@plan(Fault(route="GET /x", reset=True, nth=1))
async def test_reset_gives_a_network_error(served: Served) -> None:
    with pytest.raises(NetworkError):
        await get(served.url, "/x")
    assert (await get(served.url, "/x")).status == 200


@plan(Fault(route="GET /x", truncated=True))
async def test_truncated_gives_a_network_or_protocol_error(served: Served) -> None:
    with pytest.raises((NetworkError, RemoteProtocolError)):
        await get(served.url, "/x")


@plan(Fault(route="GET /x", malformed=True))
async def test_malformed_is_a_200_with_a_non_json_body(served: Served) -> None:
    response = await get(served.url, "/x")
    assert response.status == 200 and response.body == MALFORMED_BODY
    with pytest.raises(ValueError):  # noqa: PT011 - json's own error type
        json.loads(response.body)
    assert not served.seen


@plan(Fault(route="GET /sessions/*/transport/webrtc/connections/*/sdp_params",
            no_answer=True))
async def test_no_answer_is_202_forever(served: Served) -> None:
    path = "/sessions/s/transport/webrtc/connections/1234/sdp_params"
    for _ in range(3):
        response = await get(served.url, path)
        assert response.status == 202 and json.loads(response.body) is None
    assert (await get(served.url, path, "POST")).status == 200


@plan(Fault(route="GET /slow", delay=0.3))
async def test_delay_then_pass_through(served: Served) -> None:
    started = time.monotonic()
    response = await get(served.url, "/slow")
    assert response.status == 200 and time.monotonic() - started >= 0.3
    assert [r.path for r in served.seen] == ["/slow"]


@plan(Fault(route="GET /sessions/*", drop_peer=True, nth=1),
      Fault(route="GET /sessions/*/info", kill_runtime=True),
      Fault(route="POST /sessions", expire_session=True))
async def test_side_effects_then_pass_through(served: Served) -> None:
    assert (await get(served.url, "/sessions/s1")).status == 200
    assert (await get(served.url, "/sessions/s1")).status == 200
    assert (await get(served.url, "/sessions/s2/info")).status == 200
    assert (await get(served.url, "/sessions", "POST")).status == 200
    assert served.target.calls == [("drop_peer", "s1"), ("kill_runtime", "s2"),
                                   ("expire_session", None)]
    assert len(served.seen) == 4
