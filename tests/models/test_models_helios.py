"""Helios rules and messages, driven with a recording context and produce_frame in a loop."""

from __future__ import annotations

import base64
import io
import threading
import time
from typing import Any

import numpy as np
import pytest
from PIL import Image

from reactor_anyio.models import Helios, ModelOptionError, RecordingContext
from reactor_anyio.models.helios import EVENT_KEY, EVENT_MESSAGE, STATE_MESSAGE
from reactor_anyio.models.helios_render import CHUNK_FRAMES
from reactor_proto.errors import LocalProtocolError

TRACK = "main_video"


@pytest.fixture
def ctx() -> RecordingContext:
    return RecordingContext()


@pytest.fixture
def helios(ctx: RecordingContext) -> Helios:
    return Helios(ctx)


def events(ctx: RecordingContext) -> list[dict[str, Any]]:
    return [dict(m.data) for m in ctx.sent("event")]


def event_names(ctx: RecordingContext) -> list[str]:
    return [e[EVENT_KEY] for e in events(ctx)]


def last_state(ctx: RecordingContext) -> dict[str, Any]:
    return dict(ctx.sent("state")[-1].data)


def run(model: Helios, frames: int) -> np.ndarray:
    frame = np.zeros(0, dtype=np.uint8)
    for i in range(frames):
        frame = model.produce_frame(TRACK, i / 24)
    return frame


def png_b64(width: int, height: int, color: tuple[int, int, int], fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, fmt)
    return base64.b64encode(buffer.getvalue()).decode()


def started(model: Helios, ctx: RecordingContext, prompt: str = "first") -> None:
    model.dispatch("set_prompt", {"prompt": prompt})
    model.dispatch("start", {})
    ctx.clear()


def conforms(schema: dict[str, Any], data: dict[str, Any]) -> bool:
    """The message data has exactly the declared keys with the declared JSON types."""
    names = {"integer": int, "string": str, "boolean": bool, "object": dict}
    for key, value in data.items():
        prop = schema["properties"][key]
        options = prop.get("anyOf", [prop])
        if not any((o["type"] == "null" and value is None)
                   or (o["type"] != "null" and isinstance(value, names[o["type"]])
                       and (o["type"] != "integer" or not isinstance(value, bool))
                       and value in o.get("enum", [value]))
                   for o in options):
            return False
    return set(schema["required"]) <= set(data)


def test_initial_state_and_state_on_connect(helios: Helios, ctx: RecordingContext) -> None:
    helios.on_connected("client-1", 1)
    (message,) = ctx.sent()
    assert message.to == "client-1"
    assert message.data == {"running": False, "current_frame": 0, "current_chunk": 0,
                            "current_prompt": None, "paused": False, "scheduled_prompts": {}}
    helios.on_disconnected("client-1", 0)
    assert len(ctx.sent()) == 1
    assert helios.frame_rate == 24.0
    assert Helios.name == "helios"
    assert "synthetic stand-in" in Helios.description.lower()


def test_start_requires_a_prompt_at_chunk_zero(helios: Helios, ctx: RecordingContext) -> None:
    helios.dispatch("schedule_prompt", {"prompt": "later", "chunk": 3})
    helios.dispatch("start", {})
    assert events(ctx)[-1][EVENT_KEY] == "error"
    assert "chunk 0" in events(ctx)[-1]["message"]
    assert last_state(ctx)["running"] is False
    run(helios, 5)
    assert helios.state_data()["current_frame"] == 0  # nothing advances before start


def test_set_prompt_before_start_goes_to_chunk_zero_and_start_runs(
        helios: Helios, ctx: RecordingContext) -> None:
    helios.dispatch("set_prompt", {"prompt": "A serene mountain landscape"})
    assert events(ctx) == [{EVENT_KEY: "prompt_scheduled", "chunk": 0,
                            "prompt": "A serene mountain landscape"}]
    assert last_state(ctx)["scheduled_prompts"] == {"0": "A serene mountain landscape"}
    assert last_state(ctx)["current_prompt"] == "A serene mountain landscape"
    helios.dispatch("set_prompt", {"prompt": "replaced"})
    assert last_state(ctx)["scheduled_prompts"] == {"0": "replaced"}
    helios.dispatch("start", {})
    assert events(ctx)[-1] == {EVENT_KEY: "generation_started", "prompt": "replaced"}
    assert last_state(ctx) == {"running": True, "current_frame": 0, "current_chunk": 0,
                               "current_prompt": "replaced", "paused": False,
                               "scheduled_prompts": {"0": "replaced"}}
    helios.dispatch("start", {})
    assert events(ctx)[-1][EVENT_KEY] == "error"
    assert "already running" in events(ctx)[-1]["message"]


def test_frames_advance_one_per_call_in_33_frame_chunks(
        helios: Helios, ctx: RecordingContext) -> None:
    started(helios, ctx)
    run(helios, 10)
    assert helios.state_data()["current_frame"] == 10
    assert ctx.sent() == []  # no chatter inside a chunk
    run(helios, CHUNK_FRAMES - 10 + 1)  # enters chunk 1
    states = ctx.sent("state")
    assert [s.data["current_frame"] for s in states] == [33]
    assert states[0].data["current_chunk"] == 1
    run(helios, CHUNK_FRAMES)
    assert [s.data["current_chunk"] for s in ctx.sent("state")] == [1, 2]
    assert helios.state_data()["current_frame"] == 67


def test_set_prompt_while_running_goes_to_next_chunk_and_switches_there(
        helios: Helios, ctx: RecordingContext) -> None:
    started(helios, ctx)
    run(helios, 5)
    helios.dispatch("set_prompt", {"prompt": "second"})
    assert events(ctx) == [{EVENT_KEY: "prompt_scheduled", "chunk": 1, "prompt": "second"}]
    assert last_state(ctx)["current_prompt"] == "first"
    ctx.clear()
    run(helios, CHUNK_FRAMES - 5)  # last frame of chunk 0
    assert event_names(ctx) == []
    run(helios, 1)
    assert events(ctx) == [{EVENT_KEY: "prompt_switched", "frame": 33, "chunk": 1,
                            "new_prompt": "second", "previous_prompt": "first"}]
    assert last_state(ctx)["current_prompt"] == "second"


def test_schedule_prompt_overwrites_and_rejects_past_chunks(
        helios: Helios, ctx: RecordingContext) -> None:
    helios.dispatch("schedule_prompt", {"prompt": "a", "chunk": 0})
    helios.dispatch("schedule_prompt", {"prompt": "b", "chunk": 2})
    helios.dispatch("schedule_prompt", {"prompt": "c", "chunk": 2})
    assert last_state(ctx)["scheduled_prompts"] == {"0": "a", "2": "c"}
    assert [e["prompt"] for e in events(ctx)] == ["a", "b", "c"]
    helios.dispatch("start", {})
    run(helios, CHUNK_FRAMES + 3)  # inside chunk 1
    ctx.clear()
    helios.dispatch("schedule_prompt", {"prompt": "past", "chunk": 0})
    helios.dispatch("schedule_prompt", {"prompt": "begun", "chunk": 1})
    errors = events(ctx)
    assert [e[EVENT_KEY] for e in errors] == ["error", "error"]
    assert "chunk 0 is in the past" in errors[0]["message"]
    assert "chunk 1 is in the past" in errors[1]["message"]
    assert ctx.sent("state") == []
    helios.dispatch("schedule_prompt", {"prompt": "future", "chunk": 5})  # allowed while running
    assert events(ctx)[-1] == {EVENT_KEY: "prompt_scheduled", "chunk": 5, "prompt": "future"}
    helios.dispatch("schedule_prompt", {"prompt": "neg", "chunk": -1})  # bypassing validation
    assert "negative" in events(ctx)[-1]["message"]
    assert "-1" not in last_state(ctx)["scheduled_prompts"]


def test_schedule_at_the_current_chunk_on_its_boundary_is_accepted(
        helios: Helios, ctx: RecordingContext) -> None:
    started(helios, ctx)
    run(helios, CHUNK_FRAMES)  # frame 33 is next: chunk 1 has not begun
    helios.dispatch("schedule_prompt", {"prompt": "now", "chunk": 1})
    assert events(ctx)[-1][EVENT_KEY] == "prompt_scheduled"
    run(helios, 1)
    assert events(ctx)[-1] == {EVENT_KEY: "prompt_switched", "frame": 33, "chunk": 1,
                               "new_prompt": "now", "previous_prompt": "first"}


def test_pause_takes_effect_after_the_current_chunk(helios: Helios, ctx: RecordingContext) -> None:
    started(helios, ctx)
    run(helios, 10)
    helios.dispatch("pause", {})
    assert event_names(ctx) == []
    assert last_state(ctx)["paused"] is False
    helios.dispatch("pause", {})  # repeated while pending: no error
    assert event_names(ctx) == []
    run(helios, CHUNK_FRAMES - 10)
    assert event_names(ctx) == []
    run(helios, 1)
    assert events(ctx) == [{EVENT_KEY: "generation_paused", "frame": 33, "chunk": 1}]
    assert last_state(ctx)["paused"] is True
    assert last_state(ctx)["running"] is True
    run(helios, 20)
    assert helios.state_data()["current_frame"] == 33
    helios.dispatch("pause", {})
    assert "already paused" in events(ctx)[-1]["message"]


def test_pause_on_a_boundary_is_immediate_and_resume_continues(
        helios: Helios, ctx: RecordingContext) -> None:
    started(helios, ctx)
    helios.dispatch("pause", {})
    assert events(ctx) == [{EVENT_KEY: "generation_paused", "frame": 0, "chunk": 0}]
    run(helios, 3)
    assert helios.state_data()["current_frame"] == 0
    helios.dispatch("resume", {})
    assert events(ctx)[-1] == {EVENT_KEY: "generation_resumed", "frame": 0, "chunk": 0}
    run(helios, 3)
    assert last_state(ctx)["paused"] is False
    assert helios.state_data()["current_frame"] == 3
    helios.dispatch("resume", {})
    assert "not paused" in events(ctx)[-1]["message"]


def test_resume_cancels_a_pending_pause(helios: Helios, ctx: RecordingContext) -> None:
    started(helios, ctx)
    run(helios, 4)
    helios.dispatch("pause", {})
    helios.dispatch("resume", {})
    assert events(ctx) == [{EVENT_KEY: "generation_resumed", "frame": 4, "chunk": 0}]
    run(helios, CHUNK_FRAMES)
    assert "generation_paused" not in event_names(ctx)
    assert helios.state_data()["current_frame"] == 37


def test_pause_and_resume_before_start_are_errors(helios: Helios, ctx: RecordingContext) -> None:
    helios.dispatch("pause", {})
    helios.dispatch("resume", {})
    assert [e["message"] for e in events(ctx)] == ["pause: generation is not running",
                                                    "resume: generation is not running"]


def test_set_prompt_while_paused_targets_the_current_chunk_at_once(
        helios: Helios, ctx: RecordingContext) -> None:
    started(helios, ctx)
    run(helios, 2)
    helios.dispatch("pause", {})
    run(helios, CHUNK_FRAMES)
    ctx.clear()
    helios.dispatch("set_prompt", {"prompt": "while paused"})
    assert events(ctx) == [
        {EVENT_KEY: "prompt_scheduled", "chunk": 1, "prompt": "while paused"},
        {EVENT_KEY: "prompt_switched", "frame": 33, "chunk": 1, "new_prompt": "while paused",
         "previous_prompt": "first"},
    ]
    assert last_state(ctx)["current_prompt"] == "while paused"
    helios.dispatch("resume", {})
    ctx.clear()
    run(helios, 1)
    assert "prompt_switched" not in event_names(ctx)


def test_reset_returns_to_the_initial_state(helios: Helios, ctx: RecordingContext) -> None:
    helios.dispatch("set_seed", {"seed": 42})
    helios.dispatch("set_image", {"image_b64": png_b64(8, 8, (255, 0, 0))})
    started(helios, ctx)
    run(helios, 40)
    helios.dispatch("reset", {})
    assert events(ctx) == [{EVENT_KEY: "generation_reset", "frame": 40, "chunk": 1}]
    assert last_state(ctx) == {"running": False, "current_frame": 0, "current_chunk": 0,
                               "current_prompt": None, "paused": False, "scheduled_prompts": {}}
    helios.dispatch("start", {})
    assert events(ctx)[-1][EVENT_KEY] == "error"


def test_idle_card_lists_scheduled_prompts_and_truncates(
        helios: Helios, ctx: RecordingContext) -> None:
    empty = helios.produce_frame(TRACK, 0.0)
    for chunk in range(40):
        helios.dispatch("schedule_prompt", {"prompt": f"prompt number {chunk}", "chunk": chunk})
    listed = helios.produce_frame(TRACK, 0.0)
    assert listed.shape == empty.shape
    assert not np.array_equal(listed, empty)
    assert not np.array_equal(listed[300:340], empty[300:340])  # the list reaches the bottom


def test_set_seed_changes_the_picture(helios: Helios, ctx: RecordingContext) -> None:
    started(helios, ctx)
    helios.dispatch("set_seed", {"seed": 7})
    assert events(ctx) == [{EVENT_KEY: "seed_set", "seed": 7}]
    seven = helios.produce_frame(TRACK, 0.0)
    helios.dispatch("reset", {})
    helios.dispatch("set_seed", {"seed": 8})
    started(helios, ctx)
    eight = helios.produce_frame(TRACK, 0.0)
    assert not np.array_equal(seven, eight)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_set_image_cut_replaces_the_picture(helios: Helios, ctx: RecordingContext,
                                            fmt: str) -> None:
    started(helios, ctx)
    helios.dispatch("set_image", {"image_b64": png_b64(64, 48, (250, 10, 10), fmt)})
    assert events(ctx) == [{EVENT_KEY: "image_set", "width": 64, "height": 48,
                            "transition": "cut"}]
    frame = helios.produce_frame(TRACK, 0.0)
    assert np.abs(frame[180, 320].astype(int) - [250, 10, 10]).max() <= 4


def test_set_image_blend_crossfades_over_one_chunk(helios: Helios, ctx: RecordingContext) -> None:
    helios.dispatch("set_image", {"image_b64": png_b64(16, 16, (0, 0, 0))})
    started(helios, ctx)
    helios.dispatch("set_image", {"image_b64": png_b64(16, 16, (240, 240, 240)),
                                  "transition": "blend"})
    assert events(ctx)[-1]["transition"] == "blend"
    centre = [int(helios.produce_frame(TRACK, 0.0)[180, 320, 0]) for _ in range(CHUNK_FRAMES)]
    assert centre[0] < 20
    assert centre == sorted(centre)
    assert centre[-1] == 240
    assert 100 < centre[CHUNK_FRAMES // 2] < 140


def test_blend_from_no_image_starts_from_the_gradient(
        helios: Helios, ctx: RecordingContext) -> None:
    started(helios, ctx)
    gradient = helios.produce_frame(TRACK, 0.0)[180, 320].copy()
    helios.dispatch("set_image", {"image_b64": png_b64(16, 16, (255, 255, 255)),
                                  "transition": "blend"})
    first = helios.produce_frame(TRACK, 0.0)[180, 320]
    assert np.abs(first.astype(int) - gradient).max() < 40


def test_clear_image_goes_back_to_text_only(helios: Helios, ctx: RecordingContext) -> None:
    started(helios, ctx)
    plain = helios.produce_frame(TRACK, 0.0)
    helios.dispatch("reset", {})
    started(helios, ctx)
    helios.dispatch("set_image", {"image_b64": png_b64(16, 16, (1, 2, 3))})
    helios.dispatch("clear_image", {})
    assert event_names(ctx) == ["image_set", "image_cleared"]
    assert np.array_equal(helios.produce_frame(TRACK, 0.0), plain)


@pytest.mark.parametrize(
    ("image_b64", "fragment"),
    [
        ("not base64!!", "not valid base64"),
        (base64.b64encode(b"GIF89a....").decode(), "not a PNG or JPEG"),
        (base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 30).decode(), "IHDR"),
    ],
)
def test_set_image_with_bad_data_sends_an_error_event(
        helios: Helios, ctx: RecordingContext, image_b64: str, fragment: str) -> None:
    helios.dispatch("set_image", {"image_b64": image_b64})
    (error,) = events(ctx)
    assert error[EVENT_KEY] == "error"
    assert fragment in error["message"]
    assert "set_image.image_b64" in error["message"]
    assert ctx.sent("state") == []


def test_set_image_accepts_a_data_url(helios: Helios, ctx: RecordingContext) -> None:
    helios.dispatch("set_image", {"image_b64": "data:image/png;base64," + png_b64(4, 2, (9, 9, 9)),
                                  "transition": "cut"})
    assert events(ctx) == [{EVENT_KEY: "image_set", "width": 4, "height": 2,
                            "transition": "cut"}]


def test_session_start_and_end_reset_state(helios: Helios, ctx: RecordingContext) -> None:
    started(helios, ctx)
    run(helios, 3)
    helios.on_session_end()
    assert helios.state_data()["running"] is False
    helios.dispatch("set_prompt", {"prompt": "x"})
    helios.on_session_start()
    assert helios.state_data()["scheduled_prompts"] == {}


def test_every_message_matches_its_declared_schema(helios: Helios, ctx: RecordingContext) -> None:
    helios.on_connected("c", 1)
    helios.dispatch("set_seed", {"seed": 3})
    helios.dispatch("start", {})
    helios.dispatch("set_prompt", {"prompt": "p"})
    helios.dispatch("schedule_prompt", {"prompt": "q", "chunk": 1})
    helios.dispatch("start", {})
    helios.dispatch("set_image", {"image_b64": png_b64(4, 4, (0, 0, 0)), "transition": "blend"})
    helios.dispatch("clear_image", {})
    run(helios, 40)
    helios.dispatch("pause", {})
    run(helios, 40)
    helios.dispatch("resume", {})
    helios.dispatch("reset", {})
    state_schema = STATE_MESSAGE.json_schema()
    event_schema = EVENT_MESSAGE.json_schema()
    assert {m.type for m in ctx.sent()} == {"state", "event"}
    for message in ctx.sent():
        schema = state_schema if message.type == "state" else event_schema
        assert conforms(schema, dict(message.data)), message
    assert set(event_names(ctx)) == {
        "seed_set", "error", "prompt_scheduled", "generation_started", "image_set",
        "image_cleared", "prompt_switched", "generation_paused", "generation_resumed",
        "generation_reset"}


def test_options_size_fps_and_errors(ctx: RecordingContext) -> None:
    model = Helios(ctx, width=320, height="180", fps=30)
    assert model.frame_rate == 30.0
    assert model.output_track(TRACK).width == 320
    frame = model.produce_frame(TRACK, 0.0)
    assert frame.shape == (180, 320, 3)
    assert frame.dtype == np.uint8
    with pytest.raises(ModelOptionError, match="must be even"):
        Helios(ctx, width=321)
    with pytest.raises(ModelOptionError, match=r"unknown options \['colour'\]"):
        Helios(ctx, colour=1)
    with pytest.raises(ModelOptionError, match="option fps"):
        Helios(ctx, fps=0)
    with pytest.raises(LocalProtocolError, match="unknown output track"):
        model.produce_frame("webcam", 0.0)


def test_commands_and_frames_are_consistent_across_threads(
        helios: Helios, ctx: RecordingContext) -> None:
    started(helios, ctx)
    calls = 400

    def producer() -> None:
        for i in range(calls):
            helios.produce_frame(TRACK, i / 24)

    worker = threading.Thread(target=producer)
    worker.start()
    for i in range(100):
        helios.dispatch("set_prompt", {"prompt": f"p{i}"})
        helios.dispatch("set_seed", {"seed": i})
    worker.join()
    assert helios.state_data()["current_frame"] == calls
    frames = [m.data["current_frame"] for m in ctx.sent("state")]
    assert frames == sorted(frames)  # state messages are emitted in state order


def test_render_time_per_frame(ctx: RecordingContext) -> None:
    helios = Helios(ctx)
    helios.dispatch("set_prompt", {"prompt": "A peaceful forest at dawn, mist between trees"})
    helios.dispatch("start", {})
    count = 200
    began = time.perf_counter()
    for i in range(count):
        frame = helios.produce_frame(TRACK, i / 24)
    plain = (time.perf_counter() - began) / count * 1000
    helios.dispatch("set_image", {"image_b64": png_b64(320, 240, (10, 200, 30)),
                                  "transition": "blend"})
    began = time.perf_counter()
    for i in range(CHUNK_FRAMES):
        frame = helios.produce_frame(TRACK, i / 24)
    blend = (time.perf_counter() - began) / CHUNK_FRAMES * 1000
    print(f"\nhelios 640x360: {plain:.3f} ms/frame plain, {blend:.3f} ms/frame while blending")
    assert frame.shape == (360, 640, 3)
    assert frame.dtype == np.uint8
