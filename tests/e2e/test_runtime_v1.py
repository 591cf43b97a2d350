"""``reactor serve`` over the v1 wire, end to end: a raw aiortc client speaking protobuf
through the core's codec (plain and chunked), good and bad frames, video going on.

asyncio only: the v1 path is the same machine and codec under either backend, and trio's
hosting of the runtime and the client peer is covered by the v0 e2e tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from reactor_anyio.http import HttpClient
from reactor_anyio.runtime import LocalRuntime
from reactor_proto.wire_v1 import (
    ChunkReassembler,
    Command,
    ControlClientMessage,
    ControlServerMessage,
    DataClientMessage,
    DataServerMessage,
    Error,
    MessageKind,
    ModelMessage,
    ModelSchema,
    PauseTrack,
    Ping,
    PublishTrack,
    PublishTrackResponse,
    RequestSchema,
    ResumeTrack,
    decode,
    encode,
    split_message,
)
from reactor_proto.wire_v1.negotiation import chunking_limit, chunking_line

from .conftest import ECHO_TRACKS, RawClient, wait_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class V1Client(RawClient):
    """A raw client that speaks v1, optionally chunked; keeps every decoded reply."""

    def __init__(self, runtime: LocalRuntime, http: HttpClient, *, chunked: bool) -> None:
        super().__init__(runtime, http, ECHO_TRACKS)
        self.chunked = chunked
        self.answer_sdp = ""
        self.data_in: list[DataServerMessage] = []
        self.control_in: list[ControlServerMessage] = []
        self.text_frames = 0
        self._joiner = ChunkReassembler()

    async def request(self, method: str, path: str, payload: Any = None) -> Any:
        if self.chunked and isinstance(payload, dict) and "sdp_offer" in payload:
            sdp: str = payload["sdp_offer"]
            head, sep, rest = sdp.partition("m=")
            payload = {**payload, "sdp_offer": f"{head}{chunking_line(1 << 20)}\r\n{sep}{rest}"}
        response = await super().request(method, path, payload)
        if response.status == 200 and response.body and b"sdp_answer" in response.body:
            import json

            self.answer_sdp = json.loads(response.body)["sdp_answer"]
        return response

    def _on_message(self, label: str, message: str | bytes) -> None:
        if self.chunked:
            assert isinstance(message, bytes)
            self._joiner.feed(label, message, now=0.0)
            for whole in self._joiner.drain():
                self._take(whole.channel, whole.data)
        else:
            self._take(label, message)

    def _take(self, label: str, message: str | bytes) -> None:
        if isinstance(message, str):  # v0 text sent before our first frame: ignored
            self.text_frames += 1
        elif label == "data":
            self.data_in.append(decode(message, DataServerMessage))
        else:
            self.control_in.append(decode(message, ControlServerMessage))

    def send_raw(self, label: str, body: bytes) -> None:
        frames = split_message(body, max_message_size=1 << 20, chunk_size=7) \
            if self.chunked else [body]
        for frame in frames:
            self.peer.send(label, frame)

    def control_v1(self, payload: Any, request_id: str = "") -> None:
        kind = MessageKind.REQUEST if request_id else MessageKind.NOTIFICATION
        self.send_raw("control", encode(ControlClientMessage(
            request_id=request_id, kind=kind, payload=payload)))

    def command_v1(self, name: str, data: dict[str, Any], request_id: str) -> None:
        self.send_raw("data", encode(DataClientMessage(
            request_id=request_id, kind=MessageKind.REQUEST,
            payload=Command(type=name, data=data))))

    def data_reply(self, request_id: str) -> DataServerMessage | None:
        return next((m for m in self.data_in if m.request_id == request_id), None)

    def control_reply(self, request_id: str) -> ControlServerMessage | None:
        return next((m for m in self.control_in if m.request_id == request_id), None)


@pytest.fixture
async def echo_runtime() -> AsyncIterator[LocalRuntime]:
    async with LocalRuntime("echo") as runtime:
        yield runtime


@pytest.mark.parametrize("chunked", [False, True], ids=["plain", "chunked"])
async def test_a_v1_client_gets_video_replies_and_survives_bad_frames(
        echo_runtime: LocalRuntime, http: HttpClient, chunked: bool) -> None:
    client = V1Client(echo_runtime, http, chunked=chunked)
    try:
        await client.start_session()
        await client.connect()
        assert (chunking_limit(client.answer_sdp) is not None) == chunked
        assert "x-reactor-frame-metadata" not in client.answer_sdp
        client.control_v1(Ping())  # the safe first frame latches v1
        client.control_v1(ResumeTrack(name="main_video"))
        await wait_for(lambda: len(client.frames) >= 3)

        client.command_v1("set_effect", {"effect": "mirror"}, "c1")
        client.command_v1("set_effect", {"effect": "sparkles"}, "c2")
        client.command_v1("nope", {}, "c3")
        client.control_v1(RequestSchema(), "s1")
        client.control_v1(PublishTrack(name="webcam"), "p1")
        await wait_for(lambda: all(client.data_reply(r) for r in ("c1", "c2", "c3"))
                       and client.control_reply("s1") is not None
                       and client.control_reply("p1") is not None)
        assert client.data_reply("c1") == DataServerMessage(request_id="c1",
                                                            kind=MessageKind.RESPONSE)
        for bad in ("c2", "c3"):
            reply = client.data_reply(bad)
            assert reply is not None and isinstance(reply.payload, Error)
            assert reply.payload.code == "invalid_command"
        schema = client.control_reply("s1")
        assert schema is not None and isinstance(schema.payload, ModelSchema)
        assert "set_effect" in str(schema.payload.openapi)
        grant = client.control_reply("p1")
        assert grant is not None and isinstance(grant.payload, PublishTrackResponse)
        # the model's broadcast after set_effect, as a v1 notification
        await wait_for(lambda: any(
            m.kind is MessageKind.NOTIFICATION and isinstance(m.payload, ModelMessage)
            and m.payload.data == {"effect": "mirror"} for m in client.data_in))

        # bad input: no reply, the connection and its video go on
        replies = len(client.data_in) + len(client.control_in)
        for garbage in (b"\xff\xff\xff", b"\x08\x05", b"\x52\x09\x0a"):
            client.send_raw("data", garbage)
            client.send_raw("control", garbage)
        frames = len(client.frames)
        client.command_v1("set_effect", {"effect": "none"}, "c4")
        await wait_for(lambda: client.data_reply("c4") is not None
                       and len(client.frames) >= frames + 10)
        assert len(client.data_in) + len(client.control_in) >= replies + 1
        assert all(m.request_id != "" or m.kind is MessageKind.NOTIFICATION
                   for m in client.data_in)
        assert echo_runtime.connections() == 1

        client.control_v1(PauseTrack(name="main_video"))
        await wait_for(lambda: echo_runtime.consumers() == 0)
    finally:
        await client.aclose()


async def test_v0_and_v1_clients_share_a_session(echo_runtime: LocalRuntime,
                                                 http: HttpClient) -> None:
    """Broadcasts are encoded per connection: JSON for the v0 client, protobuf for v1."""
    old = RawClient(echo_runtime, http, ECHO_TRACKS)
    new = V1Client(echo_runtime, http, chunked=False)
    try:
        await old.start_session()
        await old.connect()
        await new.connect()
        old.send_runtime("ping")
        new.control_v1(Ping())
        new.command_v1("set_effect", {"effect": "edges"}, "m1")
        await wait_for(lambda: new.data_reply("m1") is not None
                       and any(m.get("data") == {"effect": "edges"}
                               for m in old.app_messages("effect")))
        assert any(isinstance(m.payload, ModelMessage) and m.payload.data == {"effect": "edges"}
                   and m.kind is MessageKind.NOTIFICATION for m in new.data_in)
        old.send_command("set_effect", {"effect": "sparkles"})  # refused: v0 commandRejected
        await wait_for(lambda: bool(old.runtime_messages("commandRejected")))
        assert echo_runtime.connections() == 2
    finally:
        await old.aclose()
        await new.aclose()
