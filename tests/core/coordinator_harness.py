"""Shared fixtures for the coordinator tests: a fake runtime, a fake signer, a driver, and
:class:`PairedCoordinator`: the coordinator machine paired with in-memory runtimes that
performs its runtime call actions at once, so a request reads like a synchronous call."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from reactor_proto.coordinator import (
    ApiKey,
    CoordinatorConfig,
    CoordinatorEvent,
    CoordinatorMachine,
    InvalidTokenError,
    SendResponse,
    SessionState,
)
from reactor_proto.http import HttpRequest, HttpResponse

UNIX_OFFSET = 1_700_000_000.0
SECRET_A = "rk_live_SECRET_alpha_0123456789"
SECRET_B = "rk_live_SECRET_bravo_9876543210"
KEYS = (ApiKey(key_id="key-a", secret=SECRET_A), ApiKey(key_id="key-b", secret=SECRET_B))
SIGNING_KEY = b"test-signing-key"
CAPABILITIES = {"protocol_version": "0.0.0",
                "tracks": [{"name": "main_video", "kind": "video", "direction": "recvonly"}],
                "commands": [], "emission_fps": None}
API_HEADERS = (("reactor-api-version", "1"), ("reactor-api-accept-version", "1"))
WEBRTC_HEADERS = (("reactor-webrtc-version", "1.0"),)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def sign(claims: Mapping[str, Any]) -> str:
    payload = _b64(json.dumps(dict(claims), sort_keys=True).encode())
    mac = _b64(hmac.new(SIGNING_KEY, payload.encode(), hashlib.sha256).digest())
    return f"hdr.{payload}.{mac}"


def verify(token: str) -> Mapping[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidTokenError("not a JWS compact token")
    expected = _b64(hmac.new(SIGNING_KEY, parts[1].encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, parts[2]):
        raise InvalidTokenError("signature mismatch")
    padded = parts[1] + "=" * (-len(parts[1]) % 4)
    claims: Mapping[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return claims


def body_of(response: HttpResponse) -> Any:
    return json.loads(response.body) if response.body else None


def _reply(status: int, obj: Any) -> HttpResponse:
    return HttpResponse(status=status, headers=(("content-type", "application/json"),
                                                ("access-control-allow-origin", "*")),
                        body=json.dumps(obj).encode())


class FakeRuntime:
    """A plausible local runtime: session state, one connection, uploads."""

    def __init__(self, *, session_id: str = "local") -> None:
        self.session_id = session_id
        self.state = "READY"
        self.requests: list[HttpRequest] = []
        self.uploads: dict[str, bytes | None] = {}
        self.fail_start = False
        self.raise_on: str | None = None
        self.garbage_session = False
        self.upload_reply: Any = None
        self.counter = 0
        self.server_info: dict[str, Any] = {"server_version": "fake"}

    def descriptor(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "cluster": "local", "state": self.state,
                "server_info": dict(self.server_info), "model": {"name": "helios"},
                "selected_transport": {"protocol": "webrtc", "version": "1.0"},
                "capabilities": CAPABILITIES, "schema": {"openapi": "3.1.0"}}

    def connect(self) -> None:
        self.state = "STREAMING"

    def orphan_timeout(self) -> None:
        self.state = "READY"

    def handle_http(self, request: HttpRequest, now: float) -> HttpResponse:
        self.requests.append(request)
        path = request.url.split("runtime.internal", 1)[-1].split("?")[0]
        if self.raise_on is not None and self.raise_on in path:
            raise RuntimeError("runtime exploded")
        prefix = f"/sessions/{self.session_id}"
        if path == "/start_session":
            if self.fail_start:
                return _reply(400, {"detail": "Cannot start session in state CREATED"})
            if self.state == "READY":
                self.state = "WAITING"
            return _reply(200, self.descriptor())
        if path == "/stop_session":
            self.state = "READY"
            self.uploads.clear()
            return _reply(200, None)
        if path == "/session":
            if self.garbage_session:
                return HttpResponse(status=200, body=b"{not json")
            return _reply(200, self.descriptor())
        if path == f"{prefix}/uploads":
            self.counter += 1
            upload_id = f"00000000-0000-4000-8000-{self.counter:012d}"
            self.uploads[upload_id] = None
            if self.upload_reply is not None:
                return _reply(201, self.upload_reply)
            return _reply(201, {"presigned_id": upload_id,
                                "presigned_url": f"http://runtime.internal/uploads/{upload_id}",
                                "path": f"sessions/{self.session_id}/uploads/{upload_id}/a.png"})
        if path.startswith("/uploads/"):
            upload_id = path.removeprefix("/uploads/")
            if upload_id not in self.uploads:
                return _reply(404, {"detail": "Upload not found"})
            self.uploads[upload_id] = request.body
            return _reply(200, None)
        if path.startswith(f"{prefix}/transport/webrtc/"):
            rest = path.removeprefix(f"{prefix}/transport/webrtc/")
            if rest == "ice_servers":
                return _reply(200, {"ice_servers": []})
            if rest == "connections" and request.method == "POST":
                return _reply(201, {"connection_id": 1234})
            if rest.endswith("/sdp_params"):
                if request.method == "GET":
                    return _reply(200, {"sdp_answer": "v=0\r\n", "connection_id": 1234})
                return _reply(202, {"connection_id": 1234})
            return _reply(404, {"detail": "Not Found"})
        return _reply(404, {"detail": "Not Found"})


class Runtime(Protocol):
    """An in-memory runtime: its HTTP routes, called synchronously."""

    def handle_http(self, request: HttpRequest, now: float) -> HttpResponse: ...


class Served:
    """A RuntimeMachine (whose HTTP entry point is ``handle_request``) as a :class:`Runtime`."""

    def __init__(self, handle_request: Callable[[HttpRequest, float], HttpResponse]) -> None:
        self._handle_request = handle_request

    def handle_http(self, request: HttpRequest, now: float) -> HttpResponse:
        return self._handle_request(request, now)


class PairedCoordinator:
    """A coordinator machine and its runtimes, one per slot, joined in memory.

    After every input it performs every action (runtime calls in order, feeding each
    outcome back) and checks the machine is left with no action, no call in flight and no
    client request unanswered.  ``handle_http`` returns the answer at once."""

    def __init__(self, config: CoordinatorConfig, runtimes: Sequence[Runtime], *,
                 rng: random.Random, sign: Callable[[Mapping[str, Any]], str] = sign,
                 verify: Callable[[str], Mapping[str, Any]] = verify,
                 unix_offset: float = UNIX_OFFSET) -> None:
        self.runtimes = list(runtimes)
        self.core = CoordinatorMachine(config, slots=len(self.runtimes), rng=rng, sign=sign,
                                       verify=verify, unix_offset=unix_offset)
        self.answers: dict[int, HttpResponse] = {}
        self.calls: list[Any] = []

    def perform(self, now: float) -> None:
        core = self.core
        while (action := core.next_action()) is not None:
            if isinstance(action, SendResponse):
                assert action.request_id not in self.answers, action
                self.answers[action.request_id] = action.response
                continue
            self.calls.append(action)
            try:
                response = self.runtimes[action.slot].handle_http(action.request, now)
            except Exception as exc:
                core.runtime_call_failed(action.call_id, f"{type(exc).__name__}: {exc}", now)
            else:
                core.runtime_replied(action.call_id, response, now)
        assert core.calls_in_flight == 0 and core.requests_open == 0

    # ---- inputs, each followed by performing what it queued -------------------------------

    def handle_http(self, request: HttpRequest, now: float) -> HttpResponse:
        request_id = self.core.receive_request(request, now)
        self.perform(now)
        return self.answers.pop(request_id)

    def handle_timeout(self, now: float) -> None:
        self.core.handle_timeout(now)
        self.perform(now)

    def runtime_failed(self, slot: int, now: float) -> None:
        self.core.runtime_failed(slot, now)
        self.perform(now)

    def runtime_recovered(self, slot: int, now: float) -> None:
        self.core.runtime_recovered(slot, now)
        self.perform(now)

    def expire_session(self, session_id: str, now: float) -> bool:
        expired = self.core.expire_session(session_id, now)
        self.perform(now)
        return expired

    def transport_dropped(self, session_id: str, now: float) -> bool:
        polled = self.core.transport_dropped(session_id, now)
        self.perform(now)
        return polled

    # ---- outputs and queries, as the machine's --------------------------------------------

    def next_deadline(self) -> float | None:
        return self.core.next_deadline()

    def next_event(self) -> CoordinatorEvent | None:
        return self.core.next_event()

    @property
    def events_dropped(self) -> int:
        return self.core.events_dropped

    def session_state(self, session_id: str) -> SessionState | None:
        return self.core.session_state(session_id)

    def session_slot(self, session_id: str) -> int | None:
        return self.core.session_slot(session_id)

    @property
    def queue(self) -> tuple[str, ...]:
        return self.core.queue

    def bookkeeping(self) -> dict[str, int]:
        return self.core.bookkeeping()


class Driver:
    """A coordinator with fake runtimes, a fake clock and convenience requests."""

    def __init__(self, slots: int = 1, **config: Any) -> None:
        config.setdefault("api_keys", KEYS)
        self.config = CoordinatorConfig(**config)
        self.runtimes: list[FakeRuntime] = [FakeRuntime() for _ in range(slots)]
        self.now = 100.0
        self.machine = PairedCoordinator(self.config, self.runtimes, rng=random.Random(7))
        self.responses: list[HttpResponse] = []
        self.events: list[CoordinatorEvent] = []

    def request(self, method: str, path: str, *, headers: tuple[tuple[str, str], ...] = (),
                body: bytes | None = None, json_body: Any = None,
                host: str = "coord.test:8443") -> HttpResponse:
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers = (*headers, ("content-type", "application/json"))
        request = HttpRequest(method=method, url=f"http://{host}{path}",
                              headers=(("host", host), *headers), body=body)
        response = self.machine.handle_http(request, self.now)
        self.responses.append(response)
        self.drain()
        return response

    def drain(self) -> None:
        while (event := self.machine.next_event()) is not None:
            self.events.append(event)

    def advance(self, seconds: float) -> None:
        target = self.now + seconds
        while (deadline := self.machine.next_deadline()) is not None and deadline <= target:
            self.now = max(self.now, deadline)
            self.machine.handle_timeout(self.now)
            self.drain()
        self.now = target
        self.machine.handle_timeout(self.now)
        self.drain()

    def token(self, secret: str = SECRET_A, body: Any = None) -> str:
        response = self.request("POST", "/tokens", headers=(("reactor-api-key", secret),),
                                json_body=body)
        assert response.status == 200, response.body
        jwt: str = body_of(response)["jwt"]
        return jwt

    @staticmethod
    def auth(jwt: str, *, transport: bool = False) -> tuple[tuple[str, str], ...]:
        extra = WEBRTC_HEADERS if transport else API_HEADERS
        return (("authorization", f"Bearer {jwt}"), *extra)

    def create(self, jwt: str, model: str = "helios") -> HttpResponse:
        return self.request("POST", "/sessions", headers=self.auth(jwt),
                            json_body={"model": {"name": model},
                                       "client_info": {"sdk_version": "0.8.0",
                                                       "sdk_type": "python"},
                                       "supported_transports": [{"protocol": "webrtc",
                                                                 "version": "1.0"}]})

    def create_id(self, jwt: str) -> str:
        response = self.create(jwt)
        assert response.status == 201, response.body
        session_id: str = body_of(response)["session_id"]
        return session_id

    def get(self, jwt: str, session_id: str, suffix: str = "") -> HttpResponse:
        return self.request("GET", f"/sessions/{session_id}{suffix}", headers=self.auth(jwt))

    def state(self, jwt: str, session_id: str) -> str:
        state: str = body_of(self.get(jwt, session_id))["state"]
        return state

    def delete(self, jwt: str, session_id: str, reason: str | None = None) -> HttpResponse:
        return self.request("DELETE", f"/sessions/{session_id}", headers=self.auth(jwt),
                            json_body=None if reason is None else {"reason": reason})

    def transport(self, jwt: str, session_id: str, method: str, rest: str,
                  json_body: Any = None) -> HttpResponse:
        return self.request(method, f"/sessions/{session_id}/transport/webrtc{rest}",
                            headers=self.auth(jwt, transport=True), json_body=json_body)


    def rebuild(self, *, rng_seed: int = 7) -> None:
        """A fresh machine over the current ``runtimes`` (after replacing one)."""
        self.machine = PairedCoordinator(self.config, self.runtimes,
                                         rng=random.Random(rng_seed))


def evolve_config(config: CoordinatorConfig, **changes: Any) -> CoordinatorConfig:
    return attrs.evolve(config, **changes)
