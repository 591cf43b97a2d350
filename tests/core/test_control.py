"""The ``control`` channel codec (docs/protocol §6.6, C.3)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.control import (
    DEFAULT_ERROR_CODE,
    DEFAULT_ERROR_MESSAGE,
    INVALID_REQUEST,
    PAUSE_TRACK,
    PUBLISH_TRACK,
    PUBLISHER_SLOT_TAKEN,
    RESUME_TRACK,
    UNKNOWN_METHOD,
    UNKNOWN_TRACK,
    UNPUBLISH_TRACK,
    ControlErrorBody,
    ControlMessage,
    ControlNotification,
    ControlRequest,
    ControlResponse,
    decode_control,
    encode_control,
    error_response,
    ok_response,
    request_id_for,
    response_to_malformed,
    track_name_of,
    unknown_method_response,
)
from reactor_proto.errors import (
    ControlRequestError,
    DecodeError,
    LocalProtocolError,
    MessageTooLargeError,
)

REQUEST_TEXT = ('{"type":"request","method":"publish_track","request_id":"ctrl_1",'
                '"data":{"name":"webcam"}}')
OK_TEXT = '{"type":"response","method":"publish_track","request_id":"ctrl_1","data":{}}'
ERROR_TEXT = ('{"type":"response","method":"publish_track","request_id":"ctrl_1",'
              '"error":{"code":"PUBLISHER_SLOT_TAKEN","message":"publisher slot already taken"}}')
NOTIFY_TEXT = '{"type":"notification","event":"pause_track","data":{"name":"main_video"}}'

REQUEST = ControlRequest(method=PUBLISH_TRACK, request_id="ctrl_1", data={"name": "webcam"})


def test_names_are_the_wire_values() -> None:
    assert (PUBLISH_TRACK, UNPUBLISH_TRACK, PAUSE_TRACK, RESUME_TRACK) == (
        "publish_track", "unpublish_track", "pause_track", "resume_track")
    assert (PUBLISHER_SLOT_TAKEN, UNKNOWN_METHOD, UNKNOWN_TRACK, INVALID_REQUEST) == (
        "PUBLISHER_SLOT_TAKEN", "UNKNOWN_METHOD", "UNKNOWN_TRACK", "INVALID_REQUEST")


@pytest.mark.parametrize(("message", "text"), [
    (REQUEST, REQUEST_TEXT),
    (ok_response(REQUEST), OK_TEXT),
    (error_response(REQUEST, PUBLISHER_SLOT_TAKEN, "publisher slot already taken"), ERROR_TEXT),
    (ControlNotification(event=PAUSE_TRACK, data={"name": "main_video"}), NOTIFY_TEXT),
])
def test_protocol_examples_encode_and_decode(message: ControlMessage, text: str) -> None:
    assert encode_control(message) == text
    assert decode_control(text) == message
    assert decode_control(text.encode()) == message


def test_request_ids() -> None:
    assert [request_id_for(n) for n in (1, 2, 10)] == ["ctrl_1", "ctrl_2", "ctrl_10"]
    for bad in (0, -1, True, "1"):
        with pytest.raises(LocalProtocolError, match="n: expected a positive integer"):
            request_id_for(bad)  # type: ignore[arg-type]


def test_responses() -> None:
    ok = ok_response(REQUEST, {"granted": True})
    assert ok == ControlResponse(method=PUBLISH_TRACK, request_id="ctrl_1", data={"granted": True})
    assert ok.ok
    assert ok.to_exception() is None
    unknown = unknown_method_response(ControlRequest(method="fly", request_id="ctrl_3", data={}))
    assert unknown.error == ControlErrorBody(code=UNKNOWN_METHOD, message="Unknown method: 'fly'")
    assert not unknown.ok
    exc = unknown.to_exception()
    assert isinstance(exc, ControlRequestError)
    assert (exc.method, exc.code) == ("fly", UNKNOWN_METHOD)


@pytest.mark.parametrize(("text", "expected"), [
    ('{"type":"response","request_id":"ctrl_2"}',
     ControlResponse(method="", request_id="ctrl_2")),
    ('{"type":"response","method":"m","request_id":"ctrl_2","error":{}}',
     ControlResponse(method="m", request_id="ctrl_2",
                     error=ControlErrorBody(code=DEFAULT_ERROR_CODE,
                                            message=DEFAULT_ERROR_MESSAGE))),
    ('{"type":"response","method":"m","request_id":"","error":{"code":"X","message":null}}',
     ControlResponse(method="m", request_id="",
                     error=ControlErrorBody(code="X", message="unknown error"))),
    ('{"type":"response","method":"m","request_id":"r","error":null,"data":null,"extra":1}',
     ControlResponse(method="m", request_id="r")),
])
def test_response_defaults_follow_the_official_client(text: str,
                                                      expected: ControlResponse) -> None:
    assert decode_control(text) == expected
    assert (DEFAULT_ERROR_CODE, DEFAULT_ERROR_MESSAGE) == ("UNKNOWN", "unknown error")


@pytest.mark.parametrize(("text", "needle"), [
    ("nope", "control: not valid JSON"),
    ('"x"', "control: expected a JSON object"),
    ("{}", "control.type: required field is missing"),
    ('{"type":"command"}', "control.type: expected 'request', 'response' or 'notification', "
                           "got 'command'"),
    ('{"type":"request","method":"m","data":{}}', "control.request_id: required"),
    ('{"type":"request","method":"m","request_id":"","data":{}}',
     "control.request_id: must not be empty"),
    ('{"type":"request","method":"m","request_id":7,"data":{}}',
     "control.request_id: expected a string, got number 7"),
    ('{"type":"request","request_id":"r","data":{}}', "control.method: required"),
    ('{"type":"request","method":"m","request_id":"r"}', "control.data: required"),
    ('{"type":"request","method":"m","request_id":"r","data":[]}',
     "control.data: expected an object"),
    ('{"type":"request","method":"m","request_id":"r","data":{"x":-1e400}}',
     r"not valid JSON \(.*out of range\)"),
    ('{"type":"notification","data":{}}', "control.event: required"),
    ('{"type":"notification","event":"e","data":"x"}', "control.data: expected an object"),
    ('{"type":"response","method":"m"}', "control.request_id: required"),
    ('{"type":"response","method":3,"request_id":"r"}', "control.method: expected a string"),
    ('{"type":"response","request_id":"r","error":"boom"}', "control.error: expected an object"),
    ('{"type":"response","request_id":"r","error":{"code":5}}',
     "control.error.code: expected a string"),
    ('{"type":"notification","event":"\\udfff","data":{}}',
     "control.event: string is not valid Unicode"),
    ('{"type":"response","request_id":"r","data":{"x":[1e999]}}',
     r"not valid JSON \(.*out of range\)"),
])
def test_decode_names_the_problem(text: str, needle: str) -> None:
    with pytest.raises(DecodeError, match=needle):
        decode_control(text)


def test_decode_checks_size_before_parsing() -> None:
    with pytest.raises(DecodeError, match="control: 11 bytes exceeds the limit of 10 bytes"):
        decode_control("not json!!!", max_bytes=10)


def test_every_prefix_is_refused_and_trailing_garbage_too() -> None:
    raw = REQUEST_TEXT.encode()
    for cut in range(len(raw)):
        with pytest.raises(DecodeError):
            decode_control(raw[:cut])
    for garbage in ("x", "{}", "\x00"):
        with pytest.raises(DecodeError, match="not valid JSON"):
            decode_control(REQUEST_TEXT + garbage)
    assert decode_control(REQUEST_TEXT + "\r\n") == REQUEST


@pytest.mark.parametrize(("message", "needle"), [
    (ControlRequest(method=1, request_id="r", data={}), "method: expected a string"),  # type: ignore[arg-type]
    (ControlRequest(method="m", request_id="", data={}), "request_id: a request needs"),
    (ControlRequest(method="m", request_id="r", data=[]), "data: expected an object"),  # type: ignore[arg-type]
    (ControlRequest(method="m", request_id="r", data={"x": float("nan")}),
     r"data\.x: JSON cannot carry"),
    (ControlResponse(method="m", request_id=None), "request_id: expected a string"),  # type: ignore[arg-type]
    (ControlResponse(method="m", request_id="r", error=ControlErrorBody(code=1, message="x")),  # type: ignore[arg-type]
     "error.code: expected a string"),
    (ControlNotification(event="e\udc80", data={}), "string is not valid Unicode"),
    ("not a message", "not a control message: str"),
])
def test_encode_refuses_bad_fields(message: Any, needle: str) -> None:
    with pytest.raises(LocalProtocolError, match=needle):
        encode_control(message)


def test_encode_size_limit() -> None:
    with pytest.raises(MessageTooLargeError, match="control request"):
        encode_control(REQUEST, max_bytes=len(REQUEST_TEXT) - 1)
    assert encode_control(REQUEST, max_bytes=len(REQUEST_TEXT)) == REQUEST_TEXT


def test_track_name_of() -> None:
    assert track_name_of(REQUEST) == "webcam"
    assert track_name_of(ControlNotification(event=RESUME_TRACK, data={"name": "v"})) == "v"
    with pytest.raises(DecodeError, match=r"control\.data\.name: required"):
        track_name_of(ControlNotification(event=RESUME_TRACK, data={}))
    with pytest.raises(DecodeError, match=r"control\.data\.name: expected a string"):
        track_name_of(ControlRequest(method=PUBLISH_TRACK, request_id="r", data={"name": 1}))


@pytest.mark.parametrize(("text", "expected"), [
    (REQUEST_TEXT, None),
    ("garbage", None),
    ('{"type":"notification","data":{}}', None),
    ('{"type":"response"}', None),
    ('{"type":"request","method":"publish_track","data":{"name":"x"}}',
     ControlResponse(method="publish_track", request_id="", error=ControlErrorBody(
         code=INVALID_REQUEST, message="control.request_id: required field is missing"))),
    ('{"type":"request","method":"\\ud800","request_id":"ctrl_9","data":{"\\udc00":1}}',
     ControlResponse(method="", request_id="ctrl_9", error=ControlErrorBody(
         code=INVALID_REQUEST,
         message="control.data.<key>: string is not valid Unicode (lone surrogate) '\\udc00'"))),
    ('{"type":"request","method":5,"request_id":"ctrl_9","data":{}}',
     ControlResponse(method="", request_id="ctrl_9", error=ControlErrorBody(
         code=INVALID_REQUEST, message="control.method: expected a string, got number 5"))),
])
def test_response_to_malformed(text: str, expected: ControlResponse | None) -> None:
    assert response_to_malformed(text) == expected


# ---- properties ----------------------------------------------------------------------------

JSON_LEAVES = (st.none() | st.booleans() | st.integers(-(2**60), 2**60)
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8))
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=16,
)
OBJECTS = st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4)
NAMES = st.text(max_size=16)
MESSAGES: st.SearchStrategy[ControlMessage] = st.one_of(
    st.builds(ControlRequest, method=NAMES, request_id=st.text(min_size=1, max_size=12),
              data=OBJECTS),
    st.builds(ControlResponse, method=NAMES, request_id=NAMES,
              data=st.none() | OBJECTS,
              error=st.none() | st.builds(ControlErrorBody, code=NAMES, message=NAMES)),
    st.builds(ControlNotification, event=NAMES, data=OBJECTS),
)


@given(MESSAGES)
def test_round_trip(message: ControlMessage) -> None:
    text = encode_control(message)
    assert decode_control(text) == message
    assert decode_control(text.encode("utf-8")) == message
    assert json.loads(text)["type"] in ("request", "response", "notification")
    assert response_to_malformed(text) is None


@given(st.binary(max_size=64) | st.text(max_size=64))
def test_arbitrary_frames_never_escape_decode_error(frame: str | bytes) -> None:
    outcome: object
    try:
        outcome = decode_control(frame)
    except DecodeError as exc:
        outcome = exc
    if isinstance(outcome, DecodeError):
        assert outcome.field is not None
    else:
        assert isinstance(outcome, ControlRequest | ControlResponse | ControlNotification)
    reply = response_to_malformed(frame)
    assert reply is None or reply.error is not None
