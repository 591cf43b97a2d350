"""Stepped generation in the runtime machine (docs/protocol §15): start options, what is
accepted when, the order of calls, numbering, limits and what a failure leaves."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reactor_proto.errors import InvalidStateError
from reactor_proto.http import HttpRequest
from reactor_proto.runtime import (
    SendData,
    SetInputFlow,
    SetOutputFlow,
    StartingInput,
    StepOutcome,
    StepPlan,
    StepRequested,
)
from reactor_proto.runtime.framing import declare_chunking
from reactor_proto.runtime.stepping import StartOptions, read_start_options
from reactor_proto.wire_v1 import (
    ChunkReassembler,
    Command,
    ControlClientMessage,
    DataClientMessage,
    DataServerMessage,
    Frame,
    FrameEncoding,
    MessageKind,
    Ping,
    PublishTrack,
    RequestStep,
    ResumeTrack,
    StepFailureCode,
    StepResult,
    TrackFrames,
    TrackKind,
    decode,
    encode,
    split_message,
)

from .runtime_harness import OFFER_BODY, Harness

PING = encode(ControlClientMessage(kind=MessageKind.NOTIFICATION, payload=Ping()))


def stepped(*, chunked: bool = True, peer_limit: int = 1 << 22, **start: Any,
            ) -> tuple[Harness, int]:
    harness = Harness()
    reply = harness.request("POST", "/start_session", {"generation": "stepped", **start})
    assert reply.status == 200 and reply.body["generation"] == "stepped", reply.body
    cid = harness.register()
    body = copy.deepcopy(OFFER_BODY)
    if chunked:
        body["sdp_offer"] = declare_chunking(str(body["sdp_offer"]), peer_limit)
    assert harness.offer(cid, body=body).status == 202
    harness.answer(cid)
    harness.machine.transport_connected(cid, harness.now)
    send(harness, cid, "control", PING)
    harness.take()
    return harness, cid


def send(harness: Harness, cid: int, label: str, body: bytes) -> None:
    conn = harness.machine.connections.get(cid)
    assert conn is not None
    frames = [body] if conn.framing is None else split_message(body, max_message_size=1 << 24)
    for frame in frames:
        (harness.data if label == "data" else harness.control)(cid, frame)


def request(harness: Harness, cid: int, step: RequestStep, request_id: str = "s") -> None:
    send(harness, cid, "data", encode(DataClientMessage(
        request_id=request_id, kind=MessageKind.REQUEST, payload=step)))


def results(harness: Harness, actions: list[Any] | None = None) -> list[DataServerMessage]:
    if actions is None:
        actions, _ = harness.take()
    joiner = ChunkReassembler()
    out = []
    for action in actions:
        if isinstance(action, SendData):
            assert isinstance(action.text, bytes)
            if action.text[0] > 1:  # a plain connection: protobuf starts with a tag
                out.append(decode(action.text, DataServerMessage))
                continue
            joiner.feed("data", action.text, now=0.0)
            out += [decode(m.data, DataServerMessage) for m in joiner.drain()]
    return out


def one_result(harness: Harness) -> StepResult:
    (message,) = results(harness)
    assert isinstance(message.payload, StepResult)
    return message.payload


def requested(harness: Harness) -> StepRequested:
    actions, events = harness.take()
    assert results(harness, actions) == []
    (event,) = [e for e in events if isinstance(e, StepRequested)]
    return event


def raw(shape: tuple[int, ...] = (2, 2, 3), size: int | None = None,
        dtype: str = "uint8") -> Frame:
    count = 1
    for dim in shape:
        count *= dim
    return Frame(encoding=FrameEncoding.RAW, dtype=dtype, shape=shape,
                 data=b"\x01" * (count if size is None else size))


RAN = StepOutcome(elapsed=0.01)


# ---- starting a stepped session -----------------------------------------------------------


def test_start_options_are_read_and_checked() -> None:
    assert read_start_options(None) == StartOptions()
    options = read_start_options({"generation": "stepped", "steps": 3, "session_id": "run-1",
                                  "starting_input": {"state": {"prompt": "x"},
                                                     "commands": [{"command": "start"}]}})
    assert options.steps == 3 and options.session_id == "run-1"
    assert [item[:2] for item in options.starting_input] == [
        ("starting_input.state.prompt", "set_prompt"),
        ("starting_input.commands[0]", "start")]


@pytest.mark.parametrize("body", [
    {"generation": "batch"}, {"generation": "stepped", "steps": 0},
    {"steps": 10_001}, {"steps": True}, {"session_id": ""}, {"session_id": "a/b"},
    {"starting_input": []}, {"starting_input": {"state": []}},
    {"starting_input": {"commands": {}}}, {"starting_input": {"commands": [1]}},
    {"starting_input": {"commands": [{"command": "start", "data": []}]}},
    {"starting_input": {"state": {"prompt": 3}}},       # refused by the model's contract
    {"starting_input": {"commands": [{"command": "nope"}]}},
])
def test_bad_start_bodies_are_400_and_start_nothing(body: dict[str, Any]) -> None:
    harness = Harness()
    reply = harness.request("POST", "/start_session", body)
    assert reply.status == 400, reply.body
    assert harness.state().value == "READY"


def test_the_descriptor_reports_the_mode_and_starting_input_is_queued() -> None:
    harness = Harness()
    assert harness.request("GET", "/session").body["generation"] == "streamed"
    reply = harness.request("POST", "/start_session", {
        "generation": "stepped", "starting_input": {"state": {"prompt": "fox"}}})
    assert reply.body["generation"] == "stepped"
    _, events = harness.take()
    (starting,) = [e for e in events if isinstance(e, StartingInput)]
    assert [(c.command, dict(c.args)) for c in starting.calls] == [
        ("set_prompt", {"prompt": "fox"})]
    assert harness.request("GET", "/session").body["generation"] == "stepped"
    harness.request("POST", "/stop_session")
    assert harness.request("GET", "/session").body["generation"] == "streamed"
    bad = read_start_options({"starting_input": {"commands": [{"command": "nope"}]}})
    with pytest.raises(InvalidStateError):
        harness.machine.start_session({}, harness.now, options=bad)


def test_stepped_outputs_stay_silent_and_live_input_is_dropped() -> None:
    harness = Harness()
    harness.request("POST", "/start_session", {"generation": "stepped"})
    cid = harness.connect()
    actions, _ = harness.take()
    assert SetOutputFlow(connection_id=cid, track="main_video", paused=True) in actions
    harness.control(cid, PING)
    harness.control(cid, encode(ControlClientMessage(kind=MessageKind.NOTIFICATION,
                                                     payload=ResumeTrack(name="main_video"))))
    harness.control(cid, encode(ControlClientMessage(
        request_id="p", kind=MessageKind.REQUEST, payload=PublishTrack(name="webcam"))))
    actions, _ = harness.take()
    assert not [a for a in actions if isinstance(a, SetOutputFlow)]
    assert SetInputFlow(connection_id=cid, track="webcam", enabled=False) in actions


# ---- what is accepted when ----------------------------------------------------------------


def test_a_streamed_session_and_a_plain_connection_are_refused() -> None:
    harness = Harness()
    harness.start()
    cid = harness.connect()
    harness.control(cid, PING)
    harness.take()
    request(harness, cid, RequestStep())
    result = one_result(harness)
    assert (result.failure_code, result.error) == (StepFailureCode.REFUSED,
                                                   "this session is not stepped")
    harness, cid = stepped(chunked=False)
    request(harness, cid, RequestStep())
    assert one_result(harness).error == "this connection cannot carry a step's result"


def test_a_request_becomes_sorted_state_setters_then_commands() -> None:
    harness, cid = stepped()
    request(harness, cid, RequestStep(
        state={"prompt": "fox"},
        commands=(Command(type="start"), Command(type="set_prompt",
                                                 data={"prompt": "b", "chunk": 2.0})),
        media_input=(TrackFrames(track="webcam", kind=TrackKind.VIDEO,
                                 frames=(raw(), raw((4, 2, 3)))),)))
    event = requested(harness)
    assert [(c.entry, c.command, dict(c.args)) for c in event.plan.calls] == [
        ("state.prompt", "set_prompt", {"prompt": "fox"}),
        ("commands[0]", "start", {}),
        ("commands[1]", "set_prompt", {"prompt": "b", "chunk": 2})]
    (media,) = event.plan.media
    assert [f.shape for f in media.frames] == [(2, 2, 3), (4, 2, 3)]


@pytest.mark.parametrize(("step", "entry"), [
    (RequestStep(state={"prompt": 3}), "state.prompt"),
    (RequestStep(state={"nope": 1}), "state.nope"),
    (RequestStep(commands=(Command(type="start"), Command(type="x"))), "commands[1]"),
    (RequestStep(commands=(Command(type="set_image", data={"image": {
        "upload_id": "u", "name": "a", "mime_type": "a/b", "size": 1}}),)), "commands[0]"),
    (RequestStep(media_input=(TrackFrames(track="main_video"),)), "media_input[0]"),
    (RequestStep(media_input=(TrackFrames(track="webcam"), TrackFrames(track="webcam"))),
     "media_input[1]"),
    (RequestStep(media_input=(TrackFrames(track="webcam", kind=TrackKind.AUDIO),)),
     "media_input[0]"),
    (RequestStep(media_input=(TrackFrames(track="webcam", frames=(raw(),) * 65),)),
     "media_input[0]"),
    (RequestStep(media_input=(TrackFrames(track="webcam", frames=(raw(size=3),)),)),
     "media_input[0].frames[0]"),
    (RequestStep(media_input=(TrackFrames(track="webcam", frames=(raw((2, 2)),)),)),
     "media_input[0].frames[0]"),
    (RequestStep(media_input=(TrackFrames(track="webcam", frames=(raw((0, 2, 3)),)),)),
     "media_input[0].frames[0]"),
    (RequestStep(media_input=(TrackFrames(track="webcam", frames=(
        raw(dtype="float32"),)),)), "media_input[0].frames[0]"),
    (RequestStep(media_input=(TrackFrames(track="webcam", frames=(
        Frame(encoding=FrameEncoding.H264),)),)), "media_input[0].frames[0]"),
    (RequestStep(media_input=(TrackFrames(track="webcam", frames=(
        Frame(encoding=FrameEncoding.H264, data=b"x", shape=(2, 2)),)),)),
     "media_input[0].frames[0]"),
    (RequestStep(media_input=(TrackFrames(track="webcam", frames=(
        Frame(encoding=FrameEncoding.UNSPECIFIED, data=b"x"),)),)),
     "media_input[0].frames[0]"),
])
def test_refused_requests_name_the_entry_and_change_nothing(step: RequestStep,
                                                            entry: str) -> None:
    harness, cid = stepped()
    request(harness, cid, step)
    actions, events = harness.take()
    assert not [e for e in events if isinstance(e, StepRequested)]
    (message,) = results(harness, actions)
    assert isinstance(message.payload, StepResult)
    assert message.payload.failure_code == StepFailureCode.REFUSED
    assert message.payload.entry == entry and message.payload.step == 0
    request(harness, cid, RequestStep(), "next")
    event = requested(harness)
    harness.machine.step_finished(cid, "next", event.epoch, RAN, harness.now)
    assert one_result(harness).step == 1  # a refusal took no number


# ---- outcomes -----------------------------------------------------------------------------


def test_outcomes_numbers_and_failures() -> None:
    outcomes = [
        (RAN, StepFailureCode.UNSPECIFIED, 1),
        (StepOutcome(command_code="my_code", entry="commands[0]", error="x failed"),
         StepFailureCode.COMMAND_FAILED, 0),
        (StepOutcome(refused=True, entry="media_input[0].frames[0]", error="bad"),
         StepFailureCode.REFUSED, 0),
        (StepOutcome(error="the model failed", elapsed=0.5), StepFailureCode.FAILED, 2),
        (StepOutcome(tracks=(TrackFrames(track="main_video", frames=(
            raw((512, 512, 3)),)),)), StepFailureCode.RESULT_TOO_LARGE, 3),
    ]
    harness, cid = stepped(peer_limit=100_000)
    machine = harness.machine
    for index, (outcome, code, number) in enumerate(outcomes):
        request(harness, cid, RequestStep(), f"r{index}")
        event = requested(harness)
        assert machine.step_finished(cid, f"r{index}", event.epoch, outcome, harness.now)
        result = one_result(harness)
        assert (result.failure_code, result.step) == (code, number), result
        if code == StepFailureCode.COMMAND_FAILED:
            assert (result.code, result.entry) == ("my_code", "commands[0]")
    # a second report for the same step is dropped: nothing is answered twice
    assert not machine.step_finished(cid, "r0", event.epoch, RAN, harness.now)
    assert harness.take() == ([], [])


def test_the_steps_limit_counts_steps_in_flight_and_ends_the_session() -> None:
    harness, cid = stepped(steps=2)
    machine = harness.machine
    request(harness, cid, RequestStep(), "a")
    first = requested(harness)
    request(harness, cid, RequestStep(), "b")
    second = requested(harness)
    request(harness, cid, RequestStep(), "c")
    assert one_result(harness).error == "the session already took its 2 steps"
    machine.step_finished(cid, "b", second.epoch,
                          StepOutcome(command_code="x", entry="commands[0]"), harness.now)
    assert one_result(harness).failure_code == StepFailureCode.COMMAND_FAILED
    request(harness, cid, RequestStep(), "d")   # the failed one freed its place
    third = requested(harness)
    machine.step_finished(cid, "a", first.epoch, RAN, harness.now)
    assert one_result(harness).step == 1
    machine.step_finished(cid, "d", third.epoch, RAN, harness.now)
    actions, _ = harness.take()
    (message,) = results(harness, actions)
    assert isinstance(message.payload, StepResult) and message.payload.step == 2
    assert harness.state().value == "READY"  # the second step completed the session


def test_a_request_id_in_flight_cannot_be_reused() -> None:
    harness, cid = stepped()
    request(harness, cid, RequestStep(), "a")
    event = requested(harness)
    request(harness, cid, RequestStep(), "a")
    assert one_result(harness).error == "a step with this request id is already running"
    harness.machine.step_finished(cid, "a", event.epoch, RAN, harness.now)
    assert one_result(harness).step == 1
    request(harness, cid, RequestStep(), "a")  # free again
    assert requested(harness).request_id == "a"


def test_steps_in_flight_are_answered_session_ended_once() -> None:
    harness, cid = stepped()
    request(harness, cid, RequestStep(), "a")
    event = requested(harness)
    harness.request("POST", "/stop_session")
    actions, _ = harness.take()
    (message,) = results(harness, actions)
    assert isinstance(message.payload, StepResult)
    assert message.payload.failure_code == StepFailureCode.SESSION_ENDED
    assert not harness.machine.step_finished(cid, "a", event.epoch, RAN, harness.now)


# ---- properties ---------------------------------------------------------------------------

_OPS = st.lists(st.one_of(
    st.tuples(st.just("request"), st.booleans()),
    st.tuples(st.just("finish"), st.sampled_from(["ran", "failed", "refused", "error"])),
    st.tuples(st.just("stale"), st.booleans()),
), max_size=30)


@settings(max_examples=120, deadline=None)
@given(ops=_OPS, limit=st.one_of(st.none(), st.integers(1, 5)))
def test_every_request_is_answered_once_and_numbers_have_no_gaps(
        ops: list[tuple[str, Any]], limit: int | None) -> None:
    harness, cid = stepped(**({} if limit is None else {"steps": limit}))
    machine = harness.machine
    pending: list[StepRequested] = []
    finished: list[StepRequested] = []
    sent: list[str] = []
    answers: list[DataServerMessage] = []
    outcomes = {"ran": RAN, "error": StepOutcome(error="model failed"),
                "failed": StepOutcome(command_code="c", entry="state.prompt"),
                "refused": StepOutcome(refused=True, entry="media_input[0]")}
    for index, (op, arg) in enumerate(ops):
        if harness.state().value != "STREAMING":
            break
        if op == "request":
            request_id = f"r{index}"
            sent.append(request_id)
            request(harness, cid, RequestStep(state={"prompt": "ok" if arg else 5}),
                    request_id)
        elif op == "finish" and pending:
            event = pending.pop(0)
            finished.append(event)
            machine.step_finished(cid, event.request_id, event.epoch, outcomes[arg],
                                  harness.now)
        elif op == "stale" and finished:
            event = finished[0]
            assert not machine.step_finished(cid, event.request_id, event.epoch, RAN,
                                             harness.now)
        actions, events = harness.take()
        pending += [e for e in events if isinstance(e, StepRequested)]
        answers += results(harness, actions)
        in_flight = len(pending)
        assert limit is None or in_flight <= limit
    if harness.state().value == "STREAMING":
        harness.request("POST", "/stop_session")
        actions, _ = harness.take()
        answers += results(harness, actions)
    ids = [m.request_id for m in answers]
    assert sorted(ids) == sorted(sent), "every request answered exactly once"
    numbers = [m.payload.step for m in answers
               if isinstance(m.payload, StepResult) and m.payload.step]
    assert numbers == list(range(1, len(numbers) + 1))
    assert limit is None or len(numbers) <= limit


# ---- stored results (§15.7) ---------------------------------------------------------------


def test_results_are_stored_and_served_when_the_model_asks() -> None:
    harness = Harness(step_results=True, step_results_max=2, step_results_max_bytes=10,
                      step_results_retention=60.0)
    reply = harness.request("POST", "/start_session",
                            {"generation": "stepped", "session_id": "r"})
    assert reply.body["step_results"] == {"enabled": True, "session_id": "r"}
    cid = harness.connect()
    assert harness.request("GET", "/sessions/r/steps").status == 404
    machine = harness.machine
    machine.send_model_message("note", {"n": 1}, now=harness.now)
    for number, files in enumerate(({"a.txt": ("text/plain", b"hello")},
                                    {"big.bin": ("", b"x" * 11)},
                                    {"b.txt": ("text/plain", b"bye")}), start=1):
        epoch = machine.stepper.accept(cid, f"r{number}", StepPlan())
        assert machine.step_finished(cid, f"r{number}", epoch, RAN, harness.now, files=files)
    harness.take()
    assert harness.request("GET", "/sessions/r/steps").body == {"steps": [2, 3]}
    stored = machine.step_store.get("r", 2, harness.now)
    assert stored is not None and stored.document["messages"] == []  # step 1 had it
    two = harness.request("GET", "/sessions/r/steps/2").body
    assert two["files"] == [] and two["save_error"] and two["session_id"] == "r"
    three = machine.handle_request(HttpRequest(
        method="GET", url="http://localhost:8080/sessions/r/steps/3/b.txt"), harness.now)
    assert three.status == 200 and three.body == b"bye"
    assert three.header("content-length") == "3"
    for missing in ("/sessions/r/steps/1", "/sessions/r/steps/x", "/sessions/r/steps/3/a.txt",
                    "/sessions/other/steps/3"):
        assert harness.request("GET", missing).status == 404, missing
    machine.send_model_message("note", {"n": 2}, now=harness.now)
    epoch = machine.stepper.accept(cid, "r4", StepPlan())
    machine.step_finished(cid, "r4", epoch, RAN, harness.now)
    fourth = machine.step_store.get("r", 4, harness.now)
    assert fourth is not None and fourth.document["messages"] == [
        {"type": "note", "data": {"n": 2}}]
    harness.now += 61
    assert harness.request("GET", "/sessions/r/steps").status == 404  # retention passed
    assert len(machine.step_store) == 0 and machine.step_store.stored_bytes == 0


def test_without_the_model_asking_nothing_is_stored() -> None:
    harness, cid = stepped()
    assert harness.request("GET", "/session").body["step_results"] == {"enabled": False}
    request(harness, cid, RequestStep())
    event = requested(harness)
    harness.machine.step_finished(cid, "s", event.epoch, RAN, harness.now,
                                  files={"a": ("text/plain", b"a")})
    assert one_result(harness).files == ()
    assert harness.request("GET", "/sessions/session-1/steps").status == 404


def test_the_coordinator_reads_the_generation_and_routes_step_results() -> None:
    from reactor_proto.coordinator.routes import RouteName, match_path, parse_create_session
    from reactor_proto.coordinator.runtime_link import start_session_request
    from reactor_proto.errors import DecodeError

    body = {"model": {"name": "m"}, "extra_configs": {"generation": "stepped"}}
    assert parse_create_session(body).generation == "stepped"
    assert parse_create_session({"model": {"name": "m"}}).generation == "streamed"
    with pytest.raises(DecodeError):
        parse_create_session({"model": {"name": "m"}, "extra_args": {"generation": "x"}})
    assert start_session_request().body == b"{}"
    stepped_start = start_session_request("stepped", "abc").body or b""
    assert read_start_options(json.loads(stepped_start)).session_id == "abc"
    route = match_path("/sessions/abc/steps/3/out.txt")
    assert route is not None and route.name is RouteName.STEPS
    assert route.rest == "/steps/3/out.txt"
    assert match_path("/sessions/abc/steps/3/out.txt/more") is None


def test_no_running_session_is_not_ready() -> None:
    from reactor_proto.runtime.stepping import Stepper

    result = Stepper().admit(running=False, chunked=True)
    assert result is not None and result.failure_code == StepFailureCode.NOT_READY
