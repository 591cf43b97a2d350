"""Stepped generation (§15) end to end: a raw aiortc client speaking v1 (chunked) through
the core's codec steps ``reactor serve`` running Helios and the echo model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import av
import numpy as np
import pytest

from reactor_anyio.http import HttpClient
from reactor_anyio.models import Model, RecordingContext, StepInput, StepOutput
from reactor_anyio.models import TrackSpec as ModelTrack
from reactor_anyio.models.base import command
from reactor_anyio.runtime import LocalRuntime
from reactor_proto.http import HttpRequest
from reactor_proto.wire_v1 import (
    ChunkReassembler,
    Command,
    DataClientMessage,
    Frame,
    FrameEncoding,
    MessageKind,
    Ping,
    RequestStep,
    StepFailureCode,
    StepResult,
    TrackFrames,
    TrackKind,
    encode,
    split_message,
)
from tests.interop.v1_models import ReplyEcho

from .conftest import ECHO_TRACKS, HELIOS_TRACKS, RawClient, TrackSpec, body, wait_for
from .test_runtime_v1 import V1Client

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class StepClient(V1Client):
    def __init__(self, runtime: LocalRuntime, http: HttpClient,
                 tracks: Sequence[TrackSpec] = ECHO_TRACKS) -> None:
        # V1Client's state, with a peer for the model's own tracks (V1Client assumes echo's)
        RawClient.__init__(self, runtime, http, tracks)
        self.chunked = True
        self.answer_sdp = ""
        self.data_in = []
        self.control_in = []
        self.text_frames = 0
        self._joiner = ChunkReassembler()
        self._ids = 0

    def send_raw(self, label: str, body: bytes) -> None:
        for frame in split_message(body, max_message_size=1 << 24, chunk_size=65_536):
            self.peer.send(label, frame)

    async def start_stepped(self, **extra: Any) -> dict[str, Any]:
        response = await self.request("POST", "/start_session",
                                      {"generation": "stepped", **extra})
        assert response.status == 200, response.body
        descriptor: dict[str, Any] = body(response)
        return descriptor

    async def step(self, request: RequestStep) -> StepResult:
        self._ids += 1
        request_id = f"s{self._ids}"
        self.send_raw("data", encode(DataClientMessage(
            request_id=request_id, kind=MessageKind.REQUEST, payload=request)))
        await wait_for(lambda: self.data_reply(request_id) is not None, within=20)
        reply = self.data_reply(request_id)
        assert reply is not None and isinstance(reply.payload, StepResult), reply
        return reply.payload


def raw_frame(frame: np.ndarray[Any, Any]) -> Frame:
    return Frame(encoding=FrameEncoding.RAW, dtype="uint8", shape=frame.shape,
                 data=frame.tobytes())


def pixels(result: StepResult, index: int = 0) -> np.ndarray[Any, Any]:
    frame = result.tracks[0].frames[index]
    return np.frombuffer(frame.data, np.uint8).reshape(frame.shape)


def h264_access_units(frames: list[np.ndarray[Any, Any]]) -> list[bytes]:
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height = frames[0].shape[1], frames[0].shape[0]
    codec.pix_fmt = "yuv420p"
    codec.options = {"tune": "zerolatency", "bframes": "0"}
    units: list[bytes] = []
    for image in frames:
        units += [bytes(p) for p in codec.encode(av.VideoFrame.from_ndarray(image, "rgb24"))]
    units += [bytes(p) for p in codec.encode(None)]
    return units


@pytest.fixture
async def helios() -> AsyncIterator[LocalRuntime]:
    async with LocalRuntime("helios") as runtime:
        yield runtime


@pytest.fixture
async def echo() -> AsyncIterator[LocalRuntime]:
    async with LocalRuntime(ReplyEcho) as runtime:
        yield runtime


async def test_helios_steps_with_changing_prompts_and_streams_nothing(
        helios: LocalRuntime, http: HttpClient) -> None:
    client = StepClient(helios, http, HELIOS_TRACKS)
    try:
        descriptor = await client.start_stepped(steps=3)
        assert descriptor["generation"] == "stepped"
        await client.connect()
        client.control_v1(Ping())
        results = []
        for prompt in ("a red fox", "a blue whale", "a green tree"):
            results.append(await client.step(RequestStep(state={"prompt": prompt})))
        assert [r.step for r in results] == [1, 2, 3]
        for result in results:
            assert result.failure_code == StepFailureCode.UNSPECIFIED, result.error
            (track,) = result.tracks
            assert track.track == "main_video" and track.rate > 0
            assert len(track.frames) == 1 and track.frames[0].shape == (360, 640, 3)
            assert result.elapsed_seconds > 0
        assert client.frames == []  # §15.1: the output track carries nothing
        # the third step completed the session's steps: it ends
        await wait_for(lambda: helios.machine.state.value == "READY")
    finally:
        await client.peer.close()


async def test_echo_steps_raw_and_h264_frames_and_every_refusal(
        echo: LocalRuntime, http: HttpClient) -> None:
    client = StepClient(echo, http)
    try:
        await client.start_stepped()
        await client.connect()
        client.control_v1(Ping())
        image = np.zeros((360, 640, 3), np.uint8)
        image[:, :320] = 200
        media = (TrackFrames(track="webcam", frames=(raw_frame(image),)),)
        plain = await client.step(RequestStep(state={"effect": "none"}, media_input=media))
        assert plain.step == 1 and plain.error is None
        assert pixels(plain)[300, 10, 0] == 200 and pixels(plain)[300, 630, 0] == 0

        mirrored = await client.step(RequestStep(
            commands=(Command(type="set_effect", data={"effect": "mirror"}),),
            media_input=media))
        assert mirrored.step == 2 and pixels(mirrored)[300, 630, 0] == 200

        gradient = np.zeros((360, 640, 3), np.uint8)
        gradient[:, :, 1] = np.linspace(0, 255, 640, dtype=np.uint8)[None, :]
        units = h264_access_units([gradient, gradient])
        encoded = tuple(Frame(encoding=FrameEncoding.H264, data=u) for u in units)
        decoded = await client.step(RequestStep(
            state={"effect": "none"},
            media_input=(TrackFrames(track="webcam", frames=encoded),)))
        assert decoded.step == 3, decoded.error
        assert abs(int(pixels(decoded)[180, 600, 1]) - 239) < 12

        refusals = {
            "not_input": RequestStep(media_input=(TrackFrames(track="main_video"),)),
            "bad_state": RequestStep(state={"effect": "sparkles"}),
            "unknown": RequestStep(commands=(Command(type="nope"),)),
            "bad_size": RequestStep(media_input=(TrackFrames(track="webcam", frames=(
                Frame(encoding=FrameEncoding.RAW, dtype="uint8", shape=(2, 2, 3),
                      data=b"x"),)),)),
            "garbage_h264": RequestStep(media_input=(TrackFrames(track="webcam", frames=(
                Frame(encoding=FrameEncoding.H264, data=b"\x00\x00\x01\x65garbage"),)),)),
        }
        for name, request in refusals.items():
            result = await client.step(request)
            assert result.failure_code == StepFailureCode.REFUSED, (name, result)
            assert result.step == 0 and result.entry, (name, result)

        failed = await client.step(RequestStep(
            state={"effect": "invert"},
            commands=(Command(type="ping_reply", data={"text": "x"}),
                      Command(type="fail_with", data={"code": "my_code"}))))
        assert failed.failure_code == StepFailureCode.COMMAND_FAILED
        assert (failed.code, failed.entry) == ("my_code", "commands[1]")
        # earlier calls stay applied: the effect is now invert; no step number was used
        after = await client.step(RequestStep(media_input=media))
        assert after.step == 4 and pixels(after)[300, 10, 0] == 55
    finally:
        await client.peer.close()


async def test_plain_connection_and_streamed_session_are_refused(
        echo: LocalRuntime, http: HttpClient) -> None:
    client = V1Client(echo, http, chunked=False)
    try:
        await client.start_session()
        await client.connect()
        client.control_v1(Ping())
        client.send_raw("data", encode(DataClientMessage(
            request_id="x", kind=MessageKind.REQUEST, payload=RequestStep())))
        await wait_for(lambda: client.data_reply("x") is not None)
        reply = client.data_reply("x")
        assert reply is not None and isinstance(reply.payload, StepResult)
        assert reply.payload.failure_code == StepFailureCode.REFUSED
        assert reply.payload.error == "this session is not stepped"
    finally:
        await client.peer.close()


async def test_bad_start_bodies_are_400(echo: LocalRuntime, http: HttpClient) -> None:
    client = StepClient(echo, http)
    for extra in ({"generation": "batch"}, {"generation": "stepped", "steps": 0},
                  {"generation": "stepped", "starting_input": {"state": {"effect": "x"}}}):
        response = await client.request("POST", "/start_session", extra)
        assert response.status == 400, (extra, response.body)
    assert echo.machine.state.value == "READY"


class Tally(Model):
    """A model with its own step: counts the input frames, returns two frames per step
    and keeps a text file; fails (as a model) when asked to."""

    name = "tally"
    inputs = (ModelTrack(name="webcam"),)
    outputs = (ModelTrack(name="main_video", width=32, height=16),)
    keep_step_results = True

    def __init__(self, ctx: Any, **options: Any) -> None:
        super().__init__(ctx, **options)
        self.fail = False

    @command
    def set_fail(self, fail: bool) -> None:
        """Fail the next steps"""
        self.fail = fail

    def step(self, inputs: Sequence[StepInput], now: float) -> StepOutput:
        batch = np.full((2, 16, 32, 3), len(inputs), np.uint8)
        return StepOutput(frames={"main_video": batch},
                          files={"count.txt": ("text/plain", str(len(inputs)).encode())},
                          error="asked to fail" if self.fail else None)


async def test_a_model_with_its_own_step_keeps_files_served_over_http(
        http: HttpClient) -> None:
    async with LocalRuntime(Tally) as runtime:
        client = StepClient(runtime, http)
        try:
            await client.start_stepped(session_id="tally-1")
            await client.connect()
            client.control_v1(Ping())
            small = raw_frame(np.zeros((4, 4, 3), np.uint8))
            result = await client.step(RequestStep(media_input=(
                TrackFrames(track="webcam", frames=(small, small, small)),)))
            assert result.step == 1 and len(result.tracks[0].frames) == 2
            assert pixels(result, 1)[0, 0, 0] == 3
            assert [(f.name, f.size) for f in result.files] == [("count.txt", 1)]
            failed = await client.step(RequestStep(state={"fail": True}))
            assert failed.failure_code == StepFailureCode.FAILED and failed.step == 2
            listing = await client.request("GET", "/sessions/tally-1/steps")
            assert body(listing) == {"steps": [1, 2]}
            document = body(await client.request("GET", "/sessions/tally-1/steps/2"))
            assert document["error"] == "asked to fail"
            file = await http.request(HttpRequest(
                method="GET", url=f"{runtime.url}/sessions/tally-1/steps/1/count.txt"),
                timeout=5)
            assert file.status == 200 and file.body == b"3"
        finally:
            await client.peer.close()


def test_decoding_audio_mixes_down_and_h264_rules_are_enforced() -> None:
    from reactor_anyio.runtime.steps import MediaRefused, decode_media, output_tracks
    from reactor_proto.runtime import StepFrame, StepMedia

    stereo = np.array([[100, -3], [201, 4]], dtype="<i2")
    audio = StepMedia(track="mic", kind="audio", frames=(StepFrame(
        entry="media_input[0].frames[0]", encoding=FrameEncoding.RAW, shape=(2, 2),
        data=stereo.tobytes()),))
    (decoded,) = decode_media([audio])
    assert decoded.frame.tolist() == [150, 0]  # rounded mean of the channels

    image = np.zeros((64, 64, 3), np.uint8)
    first, second = h264_access_units([image, image])[:2]

    def video(*units: bytes, shape: tuple[int, ...] = ()) -> StepMedia:
        return StepMedia(track="webcam", kind="video", frames=tuple(
            StepFrame(entry=f"media_input[0].frames[{i}]", encoding=FrameEncoding.H264,
                      shape=shape, data=unit) for i, unit in enumerate(units)))

    assert len(decode_media([video(first, second)])) == 2
    for media, entry in ((video(second), "frames[0]"), (video(b"\x00\x00\x01\x09"), "frames[0]"),
                         (video(first, shape=(32, 32, 3)), "frames[0]")):
        with pytest.raises(MediaRefused) as refused:
            decode_media([media])
        assert refused.value.entry.endswith(entry)

    model = ReplyEcho(RecordingContext())
    model.output_tracks = (*model.output_tracks, ModelTrack(name="voice", kind="audio"))
    (audio_track,) = output_tracks(model, StepOutput(
        frames={"voice": np.array([[1, 2, 3], [4, 5, 6]], np.int16)},
        sample_rates={"voice": 48_000}))
    assert audio_track.kind == TrackKind.AUDIO and audio_track.rate == 48_000
    assert audio_track.frames[0].shape == (2, 3) and audio_track.frames[0].dtype == "int16"
    (silent,) = output_tracks(model, StepOutput(frames={"voice": np.zeros(0, np.int16)}))
    assert silent.frames == ()
    with pytest.raises(ValueError, match="int16"):
        output_tracks(model, StepOutput(frames={"voice": np.zeros(3, np.float32)}))
    with pytest.raises(ValueError, match="unknown output"):
        output_tracks(model, StepOutput(frames={"nope": image}))
    with pytest.raises(ValueError, match="uint8"):
        output_tracks(model, StepOutput(frames={"main_video": image.astype(np.float32)}))
