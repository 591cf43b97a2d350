"""End-to-end fixtures: real sockets and WebRTC on loopback.

Every async e2e test runs on anyio's asyncio and trio backends.  aiortc is asyncio-only, so
under trio the runtime is hosted on the bridge's loop thread (``TrioHostedRuntime``), the
hand-made client uses ``BridgedClientPeer``, and :func:`trio_leak_check` asserts that each
test leaves no thread (the loop thread, aiortc's ``video-decoder``) and no trio task behind.
A module keeps asyncio only by overriding ``anyio_backend``, saying why.

:class:`RawClient` speaks the local protocol by hand (HttpClient + ClientPeer, no client state
machine), so the runtime tests see exactly what goes over the wire.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import anyio
import pytest
import sniffio

from reactor_anyio.http import HttpClient
from reactor_anyio.runtime import LocalRuntime
from reactor_anyio.webrtc import ClientPeer, IceConfig, TrackSpec
from reactor_proto.http import HttpResponse
from reactor_proto.sdp import munge_answer

BASE = "/sessions/local/transport/webrtc"
HELIOS_TRACKS = (TrackSpec(name="main_video", kind="video", direction="recvonly"),)
ECHO_TRACKS = (TrackSpec(name="webcam", kind="video", direction="sendonly"),
               TrackSpec(name="main_video", kind="video", direction="recvonly"))
TIMEOUT = 10.0


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def runtime_threads() -> set[str]:
    """Threads other than the loop's shared executors (which outlive any one runtime) and
    trio's idle worker-thread cache (named "Trio thread N", reused across runs)."""
    return {t.name for t in threading.enumerate()
            if not t.name.startswith(("asyncio_", "ThreadPoolExecutor", "AnyIO worker",
                                      "Trio thread"))}


def trio_tasks() -> set[Any]:
    """Every task of the running trio run (walked from the root task's nurseries)."""
    import trio

    found: set[Any] = set()
    pending = [trio.lowlevel.current_root_task()]
    while pending:
        task = pending.pop()
        if task is None or task in found:
            continue
        found.add(task)
        for nursery in task.child_nurseries:
            pending.extend(nursery.child_tasks)
    return found


@pytest.fixture
async def trio_leak_check() -> AsyncIterator[None]:
    """Under trio: after the test and its other fixtures, wait up to 5 s for the thread and
    trio task sets to come back to what they were before it."""
    threads, tasks = runtime_threads(), trio_tasks()
    yield
    with anyio.move_on_after(5):
        while not (runtime_threads() <= threads and trio_tasks() <= tasks):  # noqa: ASYNC110
            await anyio.sleep(0.01)
    assert runtime_threads() <= threads, f"threads left behind: {runtime_threads() - threads}"
    assert trio_tasks() <= tasks, f"trio tasks left behind: {trio_tasks() - tasks}"


@pytest.fixture(autouse=True)
def _leak_check_under_trio(request: pytest.FixtureRequest) -> None:
    """Requested first (autouse), so its teardown runs after every other fixture's."""
    if "anyio_backend" in request.fixturenames \
            and request.getfixturevalue("anyio_backend") == "trio":
        request.getfixturevalue("trio_leak_check")


def on_trio() -> bool:
    return sniffio.current_async_library() == "trio"


def hosted(model: str, **options: Any) -> Any:
    """The local runtime, hosted the way the running backend can: aiortc needs an asyncio
    loop, so under trio it lives on the bridge's loop thread (typed as ``LocalRuntime``:
    the hosted one mirrors the read-only surface the tests use)."""
    if on_trio():
        from reactor_trio_compat import TrioHostedRuntime

        return TrioHostedRuntime(model, **options)
    return LocalRuntime(model, **options)


def open_fds() -> set[str]:
    """Sockets held by this process (from /proc/self/fd)."""
    found: set[str] = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found


async def wait_for(predicate: Callable[[], bool], within: float = TIMEOUT) -> None:
    """Poll ``predicate`` (state owned by aiortc, threads or the runtime: nothing to wait
    on) every 10 ms; TimeoutError after ``within`` seconds."""
    with anyio.fail_after(within):
        while not predicate():  # noqa: ASYNC110
            await anyio.sleep(0.01)


def state(runtime: LocalRuntime) -> str:
    """The runtime session state's name (a call, so mypy does not narrow across awaits)."""
    return runtime.machine.state.value


def body(response: HttpResponse) -> Any:
    return json.loads(response.body) if response.body else None


class RawClient:
    """One hand-driven client connection: HTTP signalling, a ClientPeer, recorded traffic."""

    def __init__(self, runtime: LocalRuntime, http: HttpClient,
                 tracks: Sequence[TrackSpec] = HELIOS_TRACKS) -> None:
        self.url = runtime.url
        self.http = http
        self.peer: Any
        if on_trio():
            from reactor_trio_compat import BridgedClientPeer

            self.peer = BridgedClientPeer(tracks, ice=IceConfig.loopback(),
                                          video_codecs=("video/VP8",))
        else:
            self.peer = ClientPeer(tracks, ice=IceConfig.loopback(),
                                   video_codecs=("video/VP8",))
        self.cid: int | None = None
        self.messages: list[dict[str, Any]] = []
        self.control: list[dict[str, Any]] = []
        self.frames: list[Any] = []
        self.peer.on_channel_message = self._on_message
        for track in tracks:
            if track.direction == "recvonly":
                self.peer.set_frame_callback(track.name, self.frames.append)

    def _on_message(self, label: str, message: str | bytes) -> None:
        parsed = json.loads(message)
        (self.messages if label == "data" else self.control).append(parsed)

    async def request(self, method: str, path: str, payload: Any = None) -> HttpResponse:
        return await self.http.request_json(method, f"{self.url}{path}", payload,
                                            timeout=TIMEOUT)

    async def start_session(self) -> dict[str, Any]:
        response = await self.request("POST", "/start_session", {})
        assert response.status == 200, response.body
        descriptor: dict[str, Any] = body(response)
        return descriptor

    async def register(self) -> int:
        response = await self.request("POST", f"{BASE}/connections")
        assert response.status == 201, response.body
        cid: int = body(response)["connection_id"]
        self.cid = cid
        return cid

    async def offer(self, path: str, method: str = "POST") -> HttpResponse:
        sdp, mids = await self.peer.create_offer()
        mapping = [{"mid": mids[t.name], "name": t.name, "kind": t.kind,
                    "direction": t.direction} for t in self.peer._tracks]
        return await self.request(method, path, {
            "sdp_offer": sdp, "client_info": {"sdk_version": "e2e", "sdk_type": "python"},
            "track_mapping": mapping})

    async def answer(self, path: str) -> HttpResponse:
        response = await self.request("GET", path)
        if response.status == 200:
            await self.peer.apply_answer(munge_answer(body(response)["sdp_answer"]))
        return response

    async def connect(self, *, legacy: bool = False) -> None:
        """Register (unless legacy), offer, take the answer at the first poll, wait for
        every channel to open."""
        if legacy:
            path = f"{BASE}/sdp_params"
            self.cid = 1001
        else:
            path = f"{BASE}/connections/{await self.register()}/sdp_params"
        offered = await self.offer(path)
        assert offered.status == 202, offered.body
        answered = await self.answer(path)
        assert answered.status == 200, answered.body
        labels = ("data",) if legacy else ("control", "data")
        await wait_for(lambda: all(self.peer.channel_state(lb) == "open" for lb in labels))

    def send_command(self, name: str, data: Any) -> None:
        self.peer.send("data", json.dumps(
            {"scope": "application", "data": {"type": name, "data": data}}))

    def send_runtime(self, name: str, data: Any = None) -> None:
        self.peer.send("data", json.dumps(
            {"scope": "runtime", "data": {"type": name, "data": data or {}}}))

    def notify(self, event: str, name: str) -> None:
        self.peer.send("control", json.dumps(
            {"type": "notification", "event": event, "data": {"name": name}}))

    def control_request(self, method: str, name: str, request_id: str) -> None:
        self.peer.send("control", json.dumps(
            {"type": "request", "method": method, "request_id": request_id,
             "data": {"name": name}}))

    def app_messages(self, type: str) -> list[dict[str, Any]]:
        return [m["data"] for m in self.messages
                if m.get("scope") == "application" and m["data"].get("type") == type]

    def runtime_messages(self, type: str) -> list[dict[str, Any]]:
        return [m["data"]["data"] for m in self.messages
                if m.get("scope") == "runtime" and m["data"].get("type") == type]

    def response(self, request_id: str) -> dict[str, Any] | None:
        return next((m for m in self.control if m.get("request_id") == request_id), None)

    async def aclose(self) -> None:
        await self.peer.close()


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    async with HttpClient() as client:
        yield client


@pytest.fixture
async def helios() -> AsyncIterator[LocalRuntime]:
    async with hosted("helios", model_options={"fps": 30}) as runtime:
        yield runtime


@pytest.fixture
async def echo() -> AsyncIterator[LocalRuntime]:
    async with hosted("echo") as runtime:
        yield runtime


def elapsed_since(start: float) -> float:
    return time.monotonic() - start
