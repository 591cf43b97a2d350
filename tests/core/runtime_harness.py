"""Shared fixtures for the runtime machine tests: a small model, real SDPs, a fake clock."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import attrs

from reactor_proto.capabilities import TrackCapability
from reactor_proto.envelope import RUNTIME_PING, encode_command
from reactor_proto.http import HttpRequest, HttpResponse
from reactor_proto.runtime import (
    RuntimeAction,
    RuntimeConfig,
    RuntimeEvent,
    RuntimeMachine,
    SessionState,
)
from reactor_proto.schema import CommandSpec, ModelSchema, ParamSpec
from reactor_proto.schema.model import UPLOAD_REFERENCE_SCHEMA

DATA = Path(__file__).resolve().parents[1] / "data"
OFFER_SDP = (DATA / "aiortc_offer.sdp").read_text()
ANSWER_SDP = (DATA / "aiortc_answer.sdp").read_text()
GST_ANSWER_SDP = (DATA / "gstreamer_answer.sdp").read_text()
BASE = "/sessions/local/transport/webrtc"
MAPPING = [
    {"mid": "0", "name": "main_video", "kind": "video", "direction": "recvonly"},
    {"mid": "1", "name": "webcam", "kind": "video", "direction": "sendonly"},
]
OFFER_BODY = {"sdp_offer": OFFER_SDP, "client_info": {"sdk_version": "0.8.0", "sdk_type": "python"},
              "track_mapping": MAPPING}

SCHEMA = ModelSchema(
    title="demo", version="v1.2.3", description="test model",
    commands={
        "set_prompt": CommandSpec(name="set_prompt", description="Set the prompt", params=(
            ParamSpec(name="prompt", schema={"type": "string", "maxLength": 100}, required=True),
            ParamSpec(name="chunk", schema={"type": "integer", "minimum": 0}, required=False),
        )),
        "set_image": CommandSpec(name="set_image", description="Reference image", params=(
            ParamSpec(name="image", schema=UPLOAD_REFERENCE_SCHEMA, required=True,
                      is_upload=True),
        )),
        "start": CommandSpec(name="start", description="Start", params=()),
    },
    messages={},
    tracks=(TrackCapability(name="webcam", kind="video", direction="sendonly"),
            TrackCapability(name="main_video", kind="video", direction="recvonly")),
)


def make_config(**overrides: Any) -> RuntimeConfig:
    return RuntimeConfig(model_name="demo", model_schema=SCHEMA, **overrides)


def command(name: str, data: dict[str, Any], uploads: dict[str, Any] | None = None) -> str:
    if uploads is None:
        return encode_command(name, data)
    inner: dict[str, Any] = {"type": name, "data": data, "uploads": uploads}
    return json.dumps({"scope": "application", "data": inner})


def runtime(name: str, data: dict[str, Any] | None = None) -> str:
    return json.dumps({"scope": "runtime", "data": {"type": name, "data": data or {}}})


def control_request(method: str, name: str, request_id: str = "ctrl_1") -> str:
    return json.dumps({"type": "request", "method": method, "request_id": request_id,
                       "data": {"name": name}})


def notification(event: str, name: str) -> str:
    return json.dumps({"type": "notification", "event": event, "data": {"name": name}})


PING = RUNTIME_PING


@attrs.define
class Reply:
    status: int
    body: Any
    response: HttpResponse


class Harness:
    """A runtime machine with a fake clock; collects actions and events after every call."""

    def __init__(self, seed: int = 7, **overrides: Any) -> None:
        self.machine = RuntimeMachine(make_config(**overrides), rng=random.Random(seed))
        self.now = 1000.0
        self.actions: list[RuntimeAction] = []
        self.events: list[RuntimeEvent] = []

    def state(self) -> SessionState:
        """The state, read through a call so mypy does not narrow it across inputs."""
        return self.machine.state

    def collect(self) -> None:
        self.actions += self.machine.drain_actions()
        while (event := self.machine.next_event()) is not None:
            self.events.append(event)

    def take(self) -> tuple[list[RuntimeAction], list[RuntimeEvent]]:
        self.collect()
        taken = (self.actions, self.events)
        self.actions, self.events = [], []
        return taken

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.machine.handle_timeout(self.now)
        self.collect()

    def run_until(self, when: float) -> None:
        """Fire every deadline up to ``when`` in order, as an adapter would."""
        while (deadline := self.machine.next_deadline()) is not None and deadline <= when:
            self.now = max(self.now, deadline)
            self.machine.handle_timeout(self.now)
            self.collect()
        self.now = max(self.now, when)

    def request(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                headers: tuple[tuple[str, str], ...] = ()) -> Reply:
        payload = raw if raw is not None else (
            None if body is None else json.dumps(body).encode())
        request = HttpRequest(method=method, url=f"http://localhost:8080{path}",
                              headers=(("host", "localhost:8080"), *headers), body=payload)
        response = self.machine.handle_request(request, self.now)
        self.collect()
        parsed = json.loads(response.body) if response.body else None
        return Reply(status=response.status, body=parsed, response=response)

    def start(self) -> Reply:
        return self.request("POST", "/start_session", {})

    def register(self) -> int:
        reply = self.request("POST", f"{BASE}/connections")
        assert reply.status == 201, reply.body
        cid: int = reply.body["connection_id"]
        return cid

    def offer(self, cid: int, method: str = "POST", body: Any = None) -> Reply:
        return self.request(method, f"{BASE}/connections/{cid}/sdp_params",
                            OFFER_BODY if body is None else body)

    def answer(self, cid: int, sdp: str = ANSWER_SDP) -> None:
        self.machine.answer_created(cid, sdp, self.now)
        self.collect()

    def connect(self, cid: int | None = None) -> int:
        """Register (unless given), offer, answer, poll and install a connection."""
        cid = self.register() if cid is None else cid
        assert self.offer(cid).status == 202
        self.answer(cid)
        assert self.request("GET", f"{BASE}/connections/{cid}/sdp_params").status == 200
        self.machine.transport_connected(cid, self.now)
        self.collect()
        return cid

    def data(self, cid: int, text: str | bytes) -> None:
        self.machine.data_message(cid, text, self.now)
        self.collect()

    def control(self, cid: int, text: str | bytes) -> None:
        self.machine.control_message(cid, text, self.now)
        self.collect()

    def upload(self, content: bytes, name: str = "a.png", mime: str = "image/png") -> str:
        reply = self.request("POST", "/sessions/local/uploads",
                             {"name": name, "size": len(content), "mime_type": mime})
        assert reply.status == 201, reply.body
        upload_id: str = reply.body["presigned_id"]
        assert self.request("PUT", f"/uploads/{upload_id}", raw=content).status == 200
        return upload_id
