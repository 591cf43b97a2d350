"""Stepped generation in the client machine (§15; ``reactor_proto/client/stepping.py``),
sans-IO: options, the session request, the connect checks, what may be sent when, the
request's form, correlation and the step timeout, outcomes, and the bounded input buffer.
The paired tests run the client against the runtime machine in memory (``paired.py``);
the harness plays the model by answering ``StepRequested`` itself."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reactor_proto.bodies import SessionSnapshot
from reactor_proto.client import ClientConfig, Phase
from reactor_proto.client.events import OperationKind
from reactor_proto.client.requests import RequestBuilder
from reactor_proto.client.stepping import (
    EncodedFrame,
    StepCommand,
    StepInputs,
    build_request,
    check_connection,
    check_descriptor,
    check_options,
    encoded_frame,
    group,
    outcome,
    raw_frame,
    session_extra,
)
from reactor_proto.client.wire import ConnectionWire
from reactor_proto.envelope import FileRef
from reactor_proto.errors import (
    DataChannelChunkingRequiredError,
    DisconnectedError,
    GenerationModeMismatchError,
    InvalidStateError,
    LocalProtocolError,
    MessageTooLargeError,
    RequestTimeoutError,
    StepCommandFailedError,
    StepNotReadyError,
    StepRefusedError,
    StepResultTooLargeError,
    StepSessionEndedError,
)
from reactor_proto.runtime import StepOutcome, StepRequested
from reactor_proto.wire_v1 import (
    DataClientMessage,
    Frame,
    FrameEncoding,
    RequestStep,
    StepFailureCode,
    StepResult,
    TrackFrames,
    TrackKind,
    Wire,
    decode,
)

from .paired import CONNECT_BOUND, Endpoint, Paired

# ---- options and the session request -------------------------------------------------------


def test_options_are_checked() -> None:
    check_options("stepped", 5.0)
    check_options("streamed", None)
    for generation, timeout in [("batch", None), ("streamed", 1.0), ("stepped", 0),
                                ("stepped", float("inf")), ("stepped", True),
                                ("stepped", "5")]:
        with pytest.raises(LocalProtocolError):
            check_options(generation, timeout)
    with pytest.raises(LocalProtocolError, match="generation"):
        ClientConfig.create("helios", local=True, generation="Stepped")


def test_the_mode_travels_in_both_session_requests() -> None:
    local = RequestBuilder(ClientConfig.create("helios", local=True, generation="stepped"))
    assert json.loads(local.start_session().body)["generation"] == "stepped"
    plain = RequestBuilder(ClientConfig.create("helios", local=True))
    assert json.loads(plain.start_session().body) == {}  # unchanged for streamed sessions
    cloud = RequestBuilder(ClientConfig.create("helios", api_key="k", generation="stepped",
                                               extra_args={"a": 1}))
    body = json.loads(cloud.create_session(None).body)
    assert body["extra_configs"] == {"a": 1, "generation": "stepped"}
    assert session_extra(None, "streamed") is None


@pytest.mark.parametrize(("requested", "reported", "ok"), [
    ("streamed", None, True), ("streamed", "streamed", True), ("stepped", "stepped", True),
    ("stepped", None, False), ("stepped", "streamed", False), ("streamed", "stepped", False),
])
def test_the_descriptor_must_report_the_requested_mode(requested: str, reported: str | None,
                                                       ok: bool) -> None:
    snap = SessionSnapshot(session_id="s", state="READY", generation=reported)
    if ok:
        check_descriptor(requested, snap)
    else:
        with pytest.raises(GenerationModeMismatchError,
                           match="no generation mode" if reported is None else "runs"):
            check_descriptor(requested, snap)


def test_a_stepped_connection_needs_v1_and_chunking() -> None:
    check_connection("streamed", ConnectionWire(wire=Wire.V0))
    with pytest.raises(DataChannelChunkingRequiredError, match="v1"):
        check_connection("stepped", ConnectionWire(wire=Wire.V0))
    with pytest.raises(DataChannelChunkingRequiredError, match="chunking"):
        check_connection("stepped", ConnectionWire(wire=Wire.V1))
    check_connection("stepped", ConnectionWire(wire=Wire.V1, send_limit=1 << 20))


# ---- the request ---------------------------------------------------------------------------


def test_requests_are_built_and_checked() -> None:
    ref = FileRef(upload_id="u1", name="a.png", mime_type="image/png", size=3)
    frame = raw_frame(b"\0" * 12, (2, 2, 3))
    request = build_request({"prompt": "fox", "image": ref},
                            [StepCommand("go", {"n": 1, "file": ref}), {"command": "stop"}],
                            [("cam", frame), ("mic", raw_frame(b"\0" * 4, (1, 2),
                                                               dtype="int16")),
                             ("cam", frame)])
    assert request.state["image"] == ref.to_json()
    first, second = request.commands
    assert first.type == "go" and first.data == {"n": 1} and "file" in first.uploads
    assert second.type == "stop" and second.data == {}
    assert [(t.track, len(t.frames)) for t in request.media_input] == [("cam", 2), ("mic", 1)]
    assert build_request(None, None, []) == RequestStep()
    for state, commands in [([1], None), ({"": 1}, None), (None, "go"), (None, [3]),
                            (None, [{"command": ""}]), (None, [{"command": "a", "x": 1}]),
                            (None, [StepCommand("a", [1])])]:  # type: ignore[arg-type]
        with pytest.raises(LocalProtocolError):
            build_request(state, commands, [])


def test_frames_are_checked() -> None:
    for data, shape, dtype in [(b"\0" * 11, (2, 2, 3), "uint8"), (b"", (0, 2, 3), "uint8"),
                               (b"\0" * 4, (2, 2), "float32"), (b"\0" * 4, (), "uint8")]:
        with pytest.raises(LocalProtocolError):
            raw_frame(data, shape, dtype=dtype)
    unit = encoded_frame(EncodedFrame(b"\0\0\1\x65", 64, 48, user_data=b"u",
                                      capture_time_us=7))
    assert unit.encoding is FrameEncoding.H264 and unit.shape == (48, 64, 3)
    assert (unit.metadata, unit.capture_time_us) == (b"u", 7)
    for bad in [EncodedFrame(b"x", 64, 48, codec="vp8"), EncodedFrame(b"", 64, 48),
                EncodedFrame(b"x", 0, 48)]:
        with pytest.raises(LocalProtocolError):
            encoded_frame(bad)


# ---- outcomes ------------------------------------------------------------------------------

_ERRORS = {StepFailureCode.REFUSED: StepRefusedError,
           StepFailureCode.NOT_READY: StepNotReadyError,
           StepFailureCode.COMMAND_FAILED: StepCommandFailedError,
           StepFailureCode.RESULT_TOO_LARGE: StepResultTooLargeError,
           StepFailureCode.SESSION_ENDED: StepSessionEndedError}


@given(code=st.integers(0, 9), entry=st.none() | st.text(max_size=10),
       handler=st.none() | st.text(max_size=10), error=st.none() | st.text(max_size=10))
def test_every_failure_code_is_a_typed_error_and_never_a_silent_success(
        code: int, entry: str | None, handler: str | None, error: str | None) -> None:
    result = StepResult(failure_code=code, entry=entry, code=handler, error=error)
    failure = outcome(result)
    if code in (StepFailureCode.UNSPECIFIED, StepFailureCode.FAILED):
        assert failure is None  # the caller gets the result (with ``error`` when FAILED)
        return
    assert failure is not None
    expected = _ERRORS.get(StepFailureCode(code) if code <= 6 else None,  # type: ignore[call-overload]
                           StepRefusedError)
    assert type(failure) is expected and failure.entry == entry  # type: ignore[attr-defined]
    assert failure.code.startswith("step_")
    if isinstance(failure, StepCommandFailedError):
        assert failure.command_code == handler


# ---- the buffer ----------------------------------------------------------------------------


@settings(max_examples=60)
@given(pushes=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(1, 40)),
                       max_size=40),
       cap=st.integers(40, 200))
def test_the_buffer_is_bounded_keeps_order_and_drops_the_oldest(
        pushes: list[tuple[str, int]], cap: int) -> None:
    inputs = StepInputs(max_bytes=cap)
    for index, (track, size) in enumerate(pushes):
        inputs.push(track, Frame(data=bytes(size), capture_time_us=index))
        assert inputs.size <= cap
    kept = inputs.peek()
    stamps = [f.capture_time_us for _, f in kept]
    assert stamps == sorted(stamps)  # oldest first, and only the oldest were dropped
    assert stamps == list(range(len(pushes) - len(kept), len(pushes)))
    assert inputs.dropped == len(pushes) - len(kept)
    grouped = group(kept)
    assert sum(len(t.frames) for t in grouped) == len(kept)
    inputs.clear()
    assert len(inputs) == 0 and inputs.size == 0
    with pytest.raises(LocalProtocolError):
        inputs.push("a", Frame(data=bytes(cap + 1)))


# ---- paired with the runtime machine -------------------------------------------------------


def stepped(**options: Any) -> tuple[Paired, Endpoint]:
    net = Paired()
    e = net.add_client(seed=1, wire="auto", generation="stepped", **options)
    op = e.client.connect(net.now)
    assert net.run(CONNECT_BOUND, stop=lambda: e.done(op) is not None)
    assert e.phase() is Phase.READY and e.result(op).error is None
    return net, e


def answer_steps(net: Paired, outcome_: StepOutcome) -> int:
    """Play the model: finish every step the runtime handed out; how many."""
    done = 0
    for event in list(net.runtime_events):
        if isinstance(event, StepRequested) and event.request_id not in net.answered:
            net.answered.add(event.request_id)
            net.runtime.step_finished(event.connection_id, event.request_id, event.epoch,
                                      outcome_, net.now)
            done += 1
    return done


def run_step(net: Paired, e: Endpoint, outcome_: StepOutcome, *args: Any) -> Any:
    op = e.client.step(*args, net.now)
    for _ in range(200):
        if e.done(op) is not None:
            break
        net.run(0.05)
        answer_steps(net, outcome_)
    done = e.done(op)
    assert done is not None and done.kind is OperationKind.STEP
    return done


@pytest.fixture(autouse=True)
def _answered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Paired, "answered", set(), raising=False)


OUT = (TrackFrames(track="main_video", kind=TrackKind.VIDEO, rate=30.0,
                   frames=(Frame(encoding=FrameEncoding.RAW, dtype="uint8", shape=(2, 2, 3),
                                 data=bytes(12)),)),)


def test_a_step_round_trip_numbers_results_and_sends_on_data() -> None:
    net, e = stepped()
    ran = StepOutcome(tracks=OUT, elapsed=0.01)
    first = run_step(net, e, ran, {}, [{"command": "schedule_prompt",
                                        "data": {"prompt": "x", "chunk": 0}}], [])
    assert first.error is None and first.value.step == 1
    assert first.value.tracks[0].frames[0].shape == (2, 2, 3)
    sent = [s for s in e.sent if s.channel == "data"]
    body = decode(sent[-1].text[1:], DataClientMessage)  # one chunk header byte
    assert isinstance(body.payload, RequestStep) and body.request_id
    failed = run_step(net, e, StepOutcome(error="model broke", tracks=OUT), None, None, [])
    assert failed.error is None and failed.value.error == "model broke" and \
        failed.value.step == 2


def test_refusals_and_a_failed_command() -> None:
    net, e = stepped()
    refused = run_step(net, e, StepOutcome(), {"no_such": 1}, None, [])
    assert isinstance(refused.error, StepRefusedError) and refused.error.entry
    failed = run_step(net, e, StepOutcome(command_code="boom", entry="commands[0]"),
                      None, [{"command": "start"}], [])
    assert isinstance(failed.error, StepCommandFailedError)
    assert failed.error.command_code == "boom" and failed.error.entry == "commands[0]"
    with pytest.raises(LocalProtocolError, match="not an input track"):
        e.client.step(None, None, [("main_video", raw_frame(bytes(12), (2, 2, 3)))],
                      net.now)
    with pytest.raises(LocalProtocolError, match="not an input track"):
        e.client.push_step_frame("main_video", raw_frame(bytes(12), (2, 2, 3)))


def test_the_step_timeout_and_a_lost_connection() -> None:
    net, e = stepped(step_timeout=2.0)
    op = e.client.step(None, None, [], net.now)
    net.run(2.5)  # nobody plays the model
    done = e.done(op)
    assert done is not None and isinstance(done.error, RequestTimeoutError)
    op = e.client.step(None, None, [], net.now)
    e.client.disconnect(net.now)
    net.run(5.0)
    done = e.done(op)
    assert done is not None and isinstance(done.error, DisconnectedError)


def test_what_may_be_sent_when_and_what_a_refusal_leaves_buffered() -> None:
    net = Paired()
    e = net.add_client(seed=1, wire="auto", generation="stepped")
    with pytest.raises(InvalidStateError, match="not ready"):
        e.client.step(None, None, [], net.now)
    e.client.clear_step_inputs()
    streamed = net.add_client(seed=2, wire="auto")
    with pytest.raises(InvalidStateError, match="stepped"):
        streamed.client.step(None, None, [], net.now)
    with pytest.raises(InvalidStateError):
        streamed.client.clear_step_inputs()
    with pytest.raises(InvalidStateError):
        streamed.client.push_step_frame("webcam", raw_frame(bytes(12), (2, 2, 3)))

    net, e = stepped()
    e.client.push_step_frame("webcam", raw_frame(bytes(12), (2, 2, 3)))
    assert e.client.buffered_step_frames == 1
    with pytest.raises(LocalProtocolError):  # a bad request takes nothing from the buffer
        e.client.step([1], None, [], net.now)
    assert e.client.buffered_step_frames == 1
    e.client.clear_step_inputs()
    assert e.client.buffered_step_frames == 0


def test_too_large_a_request_sends_nothing_and_keeps_the_buffer() -> None:
    net, e = stepped()
    e.client._raw._state.wire.send_limit = 100  # a peer that declared a tiny limit
    e.client.push_step_frame("webcam", raw_frame(bytes(12), (2, 2, 3)))
    before = len(e.sent)
    with pytest.raises(MessageTooLargeError):
        e.client.step({"prompt": "x" * 500}, None, [], net.now)
    assert len(e.sent) == before and e.client.buffered_step_frames == 1


def test_a_stepped_client_refuses_a_streamed_session() -> None:
    net = Paired()
    e = net.add_client(seed=1, wire="auto")
    op = e.client.connect(net.now)
    assert net.run(CONNECT_BOUND, stop=lambda: e.done(op) is not None)
    other = net.add_client(seed=2, wire="auto", generation="stepped")
    op = other.client.connect(net.now)
    assert net.run(CONNECT_BOUND, stop=lambda: other.done(op) is not None)
    error = other.result(op).error
    assert isinstance(error, GenerationModeMismatchError)


def test_a_stepped_client_on_v0_fails_connect() -> None:
    net = Paired()
    e = net.add_client(seed=1, wire="v0", generation="stepped")
    op = e.client.connect(net.now)
    assert net.run(CONNECT_BOUND, stop=lambda: e.done(op) is not None)
    assert isinstance(e.result(op).error, DataChannelChunkingRequiredError)
