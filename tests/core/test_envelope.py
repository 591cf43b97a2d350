"""``data``-channel envelopes, FileRef and runtime messages (docs/protocol §6.2-6.5, §9)."""

from __future__ import annotations

import json
import types
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.constants import MAX_DATA_CHANNEL_MESSAGE_BYTES
from reactor_proto.envelope import (
    RUNTIME_PING,
    Envelope,
    FileRef,
    InboundMessage,
    RuntimeMessageType,
    Scope,
    check_wire_value,
    clip_failed,
    command_rejected,
    decode_inbound,
    encode_command,
    encode_envelope,
    encode_runtime_message,
    encoded_size,
    file_uploaded,
    media_stats,
    merge_uploads,
    parse_envelope,
    session_ended,
)
from reactor_proto.errors import DecodeError, LocalProtocolError, MessageTooLargeError

IMAGE = FileRef(upload_id="3f0c", name="photo.jpg", mime_type="image/jpeg", size=48213)


# ---- encoding ------------------------------------------------------------------------------


def test_ping_text_is_exact() -> None:
    assert RUNTIME_PING == '{"scope":"runtime","data":{"type":"ping","data":{}}}'
    assert encode_runtime_message("ping") == RUNTIME_PING
    assert encode_runtime_message(RuntimeMessageType.PING, {}) == RUNTIME_PING


def test_encode_command_matches_the_transcript() -> None:
    text = encode_command("schedule_prompt", {"prompt": "A forest", "chunk": 0})
    assert text == ('{"scope":"application","data":{"type":"schedule_prompt",'
                    '"data":{"prompt":"A forest","chunk":0}}}')
    assert encode_command("start", {}) == (
        '{"scope":"application","data":{"type":"start","data":{}}}')


def test_top_level_file_refs_move_into_uploads() -> None:
    text = encode_command("set_image", {"image": IMAGE, "transition": "cut"})
    assert json.loads(text) == {"scope": "application", "data": {
        "type": "set_image", "data": {"transition": "cut"},
        "uploads": {"image": {"upload_id": "3f0c", "name": "photo.jpg",
                              "mime_type": "image/jpeg", "size": 48213}}}}


def test_nested_file_ref_is_refused_with_its_path() -> None:
    with pytest.raises(LocalProtocolError, match=r"set_image\.images\[0\]: a FileRef"):
        encode_command("set_image", {"images": [IMAGE]})


@pytest.mark.parametrize(("data", "needle"), [
    ({"x": float("nan")}, r"cmd\.x: JSON cannot carry the number nan"),
    ({"x": {"y": float("inf")}}, r"cmd\.x\.y: JSON cannot carry"),
    ({"x": {1, 2}}, r"cmd\.x: set is not JSON-serialisable"),
    ({"x": b"raw"}, r"cmd\.x: bytes"),
    ({1: "a"}, r"cmd: object keys must be strings, got int 1"),
    ({"x": "\ud800"}, r"cmd\.x: string is not valid Unicode"),
    ({"\udfff": 1}, r"cmd\.<key>: string is not valid Unicode"),
])
def test_encode_command_names_the_bad_key(data: dict[Any, Any], needle: str) -> None:
    with pytest.raises(LocalProtocolError, match=needle):
        encode_command("cmd", data)


def test_encode_command_refuses_deep_nesting() -> None:
    deep: Any = 1
    for _ in range(70):
        deep = [deep]
    with pytest.raises(LocalProtocolError, match="nested deeper than 64"):
        encode_command("cmd", {"x": deep})


@pytest.mark.parametrize("command", [None, 3, ""])
def test_encode_command_refuses_bad_command(command: Any) -> None:
    with pytest.raises(LocalProtocolError, match="command: expected a non-empty string"):
        encode_command(command, {})


def test_encode_command_refuses_non_mapping_data() -> None:
    with pytest.raises(LocalProtocolError, match="cmd: arguments must be an object"):
        encode_command("cmd", ["a"])  # type: ignore[arg-type]


def test_encode_normalises_mappings_and_tuples() -> None:
    data = types.MappingProxyType({"pair": (1, 2.5), "inner": types.MappingProxyType({"k": None})})
    assert json.loads(encode_command("cmd", data))["data"]["data"] == {
        "pair": [1, 2.5], "inner": {"k": None}}


def test_size_limit_is_measured_on_utf8_bytes() -> None:
    base = len(encode_command("c", {"s": ""}).encode())
    assert len(encode_command("c", {"s": "é" * 10}, max_bytes=base + 20)) == base + 10
    with pytest.raises(MessageTooLargeError, match=f"{base + 20} bytes exceeds the limit of "
                                                   f"{base + 19} bytes"):
        encode_command("c", {"s": "é" * 10}, max_bytes=base + 19)
    big = "x" * MAX_DATA_CHANNEL_MESSAGE_BYTES
    with pytest.raises(MessageTooLargeError, match="application message 'c'"):
        encode_command("c", {"s": big})


def test_encode_envelope_checks_its_fields() -> None:
    with pytest.raises(LocalProtocolError, match="scope: expected"):
        encode_envelope(Envelope(scope="bogus", type="t", data={}))  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="type: expected a string"):
        encode_envelope(Envelope(scope=Scope.RUNTIME, type=5, data={}))  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="data: arguments must be an object"):
        encode_envelope(Envelope(scope=Scope.RUNTIME, type="t", data=[1]))
    with pytest.raises(LocalProtocolError, match="uploads: expected a mapping"):
        encode_envelope(Envelope(scope=Scope.RUNTIME, type="t", data={},
                                 uploads=[IMAGE]))  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match=r"uploads\.x: expected str -> FileRef"):
        encode_envelope(Envelope(scope=Scope.RUNTIME, type="t", data={},
                                 uploads={"x": {"upload_id": "u"}}))  # type: ignore[dict-item]
    assert encode_envelope(Envelope(scope="runtime", type="t", data={})) == (  # type: ignore[arg-type]
        '{"scope":"runtime","data":{"type":"t","data":{}}}')


def test_file_ref_validation_and_json() -> None:
    assert FileRef.from_json(IMAGE.to_json()) == IMAGE
    assert FileRef.from_json({**IMAGE.to_json(), "extra": 1}) == IMAGE
    with pytest.raises(LocalProtocolError, match=r"FileRef\.name: expected a string"):
        FileRef(upload_id="u", name=3, mime_type="m", size=1)  # type: ignore[arg-type]
    for size in (-1, True, 1.0):
        with pytest.raises(LocalProtocolError, match=r"FileRef\.size"):
            FileRef(upload_id="u", name="n", mime_type="m", size=size)  # type: ignore[arg-type]


@pytest.mark.parametrize(("obj", "needle"), [
    ("x", "uploads.image: expected a JSON object"),
    ({"name": "n", "mime_type": "m", "size": 1}, "uploads.image.upload_id: required"),
    ({"upload_id": "", "name": "n", "mime_type": "m", "size": 1},
     "uploads.image.upload_id: must not be empty"),
    ({"upload_id": "u", "name": "n", "mime_type": "m", "size": -4},
     "uploads.image.size: must not be negative, got -4"),
    ({"upload_id": "u", "name": "n", "mime_type": "m", "size": True},
     "uploads.image.size: expected an integer"),
    ({"upload_id": "u", "name": "n", "mime_type": 7, "size": 1},
     "uploads.image.mime_type: expected a string"),
])
def test_file_ref_from_json_errors(obj: Any, needle: str) -> None:
    with pytest.raises(DecodeError, match=needle):
        FileRef.from_json(obj, path="uploads.image")


# ---- client-side decoding (lenient) --------------------------------------------------------


@pytest.mark.parametrize(("frame", "expected"), [
    ('{"scope":"application","data":{"type":"state","data":{"running":true}}}',
     InboundMessage(scope=Scope.APPLICATION, payload={"type": "state",
                                                      "data": {"running": True}})),
    ('{"scope":"runtime","data":{"type":"mediaStats","data":{}}}',
     InboundMessage(scope=Scope.RUNTIME, payload={"type": "mediaStats", "data": {}})),
    ('{"scope":"runtime","data":"odd"}', InboundMessage(scope=Scope.RUNTIME, payload="odd")),
    ('{"type":"state","data":{}}', InboundMessage(scope=None, payload={"type": "state",
                                                                       "data": {}})),
    ('{"scope":"other","data":{}}', InboundMessage(scope=None, payload={"scope": "other",
                                                                        "data": {}})),
    ('{"scope":"application"}', InboundMessage(scope=None, payload={"scope": "application"})),
    ("[1,2]", InboundMessage(scope=None, payload=[1, 2])),
    ("hello", InboundMessage(scope=None, payload="hello")),
    (b'{"scope":"application","data":{"type":"t"}}',
     InboundMessage(scope=Scope.APPLICATION, payload={"type": "t"})),
    (b"\xff\xfe", InboundMessage(scope=None, payload=b"\xff\xfe")),
    ("[" * 100 + "]" * 100, InboundMessage(scope=None, payload="[" * 100 + "]" * 100)),
])
def test_decode_inbound(frame: str | bytes, expected: InboundMessage) -> None:
    assert decode_inbound(frame) == expected


def test_decode_inbound_checks_size_before_parsing() -> None:
    with pytest.raises(DecodeError, match="data message: 11 bytes exceeds the limit of 10"):
        decode_inbound("not json!!!", max_bytes=10)
    with pytest.raises(DecodeError, match="exceeds"):
        decode_inbound(b"x" * 11, max_bytes=10)
    with pytest.raises(DecodeError, match="6 bytes exceeds the limit of 5"):
        decode_inbound("ééé", max_bytes=5)


# ---- runtime-side parsing (strict) ---------------------------------------------------------

GOOD = '{"scope":"application","data":{"type":"set_image","data":{"transition":"cut"},' \
       '"uploads":{"image":{"upload_id":"3f0c","name":"photo.jpg","mime_type":"image/jpeg",' \
       '"size":48213}}}}'


def test_parse_envelope_whole() -> None:
    envelope = parse_envelope(GOOD)
    assert envelope == Envelope(scope=Scope.APPLICATION, type="set_image",
                                data={"transition": "cut"}, uploads={"image": IMAGE})
    assert parse_envelope(GOOD.encode()) == envelope
    assert parse_envelope(RUNTIME_PING) == Envelope(scope=Scope.RUNTIME, type="ping", data={})
    nulls = '{"scope":"runtime","data":{"type":"t","data":{},"uploads":null}}'
    assert parse_envelope(nulls).uploads is None


@pytest.mark.parametrize(("frame", "needle"), [
    ("nope", "envelope: not valid JSON"),
    ("[]", "envelope: expected a JSON object"),
    ("{}", "envelope.scope: required field is missing"),
    ('{"scope":1,"data":{}}', "envelope.scope: expected a string"),
    ('{"scope":"model","data":{}}', "envelope.scope: unknown scope 'model'"),
    ('{"scope":"runtime"}', "envelope.data: required field is missing"),
    ('{"scope":"runtime","data":[]}', "envelope.data: expected an object"),
    ('{"scope":"runtime","data":{"data":{}}}', "envelope.data.type: required"),
    ('{"scope":"runtime","data":{"type":null,"data":{}}}',
     "envelope.data.type: expected a string, got null"),
    ('{"scope":"runtime","data":{"type":3,"data":{}}}', "envelope.data.type: expected a string"),
    ('{"scope":"runtime","data":{"type":"t"}}', "envelope.data.data: required"),
    ('{"scope":"runtime","data":{"type":"t","data":"x"}}', "envelope.data.data: expected an obj"),
    ('{"scope":"runtime","data":{"type":"t","data":{"a":[1e999]}}}',
     r"not valid JSON \(.*out of range\)"),
    ('{"scope":"runtime","data":{"type":"t","data":{},"uploads":[]}}',
     "envelope.data.uploads: expected an object"),
    ('{"scope":"runtime","data":{"type":"t","data":{},"uploads":{"f":{"upload_id":"u"}}}}',
     "envelope.data.uploads.f.size: required"),
    (b'{"scope":"\xff"}', "envelope: not valid UTF-8"),
    ('{"scope":"runtime","data":{"type":"\\ud800","data":{}}}',
     "envelope.data.type: string is not valid Unicode"),
    ('{"scope":"runtime","data":{"type":"t","data":{"a":' + "[" * 80 + "]" * 80 + "}}}",
     "nested deeper"),
])
def test_parse_envelope_names_the_problem(frame: str | bytes, needle: str) -> None:
    with pytest.raises(DecodeError, match=needle):
        parse_envelope(frame)


def test_parse_envelope_checks_size_before_parsing() -> None:
    with pytest.raises(DecodeError, match="envelope: 300000 bytes exceeds the limit") as info:
        parse_envelope("x" * 300_000)
    assert info.value.value == 300_000
    with pytest.raises(DecodeError, match="exceeds"):
        parse_envelope(RUNTIME_PING, max_bytes=len(RUNTIME_PING) - 1)


def test_every_prefix_is_refused_and_trailing_garbage_too() -> None:
    raw = GOOD.encode()
    for cut in range(len(raw)):
        with pytest.raises(DecodeError):
            parse_envelope(raw[:cut])
        assert decode_inbound(raw[:cut]).scope is None
    for garbage in ("x", "}", " {}", "\x00"):
        with pytest.raises(DecodeError, match="not valid JSON"):
            parse_envelope(GOOD + garbage)
        assert decode_inbound(GOOD + garbage) == InboundMessage(scope=None, payload=GOOD + garbage)
    assert parse_envelope(GOOD + " \n") == parse_envelope(GOOD)


def test_merge_uploads() -> None:
    envelope = Envelope(scope=Scope.APPLICATION, type="t", data={"image": "keep", "a": 1},
                        uploads={"image": IMAGE, "mask": IMAGE})
    assert merge_uploads(envelope) == {"image": "keep", "a": 1, "mask": IMAGE.to_json()}
    assert merge_uploads(Envelope(scope=Scope.APPLICATION, type="t", data={"a": 1})) == {"a": 1}
    with pytest.raises(LocalProtocolError, match="data: expected an object, got array"):
        merge_uploads(Envelope(scope=Scope.APPLICATION, type="t", data=[1]))


# ---- runtime messages ----------------------------------------------------------------------


def test_runtime_message_constructors() -> None:
    rejected = command_rejected("set_image", "unknown upload")
    assert encode_envelope(rejected) == (
        '{"scope":"runtime","data":{"type":"commandRejected",'
        '"data":{"command":"set_image","reason":"unknown upload"}}}')
    assert command_rejected(None, "bad").data == {"command": None, "reason": "bad"}
    assert clip_failed("no recording").data == {"reason": "no recording"}
    assert session_ended("stopped").type == "sessionEnded"
    assert media_stats(10).data == {"video": {"aggregateQos": 10}}
    assert parse_envelope(encode_envelope(file_uploaded(IMAGE))).data == IMAGE.to_json()


@pytest.mark.parametrize("call", [
    lambda: command_rejected(3, "r"),  # type: ignore[arg-type]
    lambda: command_rejected("c", None),  # type: ignore[arg-type]
    lambda: media_stats(11),
    lambda: media_stats(True),
    lambda: session_ended(b"x"),  # type: ignore[arg-type]
])
def test_runtime_message_constructors_refuse_bad_values(call: Any) -> None:
    with pytest.raises(LocalProtocolError):
        call()


def test_helpers() -> None:
    assert encoded_size("é", 10) == 2
    assert encoded_size("x" * 20, 10) == 20
    assert encoded_size(b"abc", 10) == 3
    check_wire_value({"a": [1.5, {"b": 2, "c": "é"}]}, "p")
    with pytest.raises(DecodeError, match=r"p\.a\[1\]\.b: number out of range") as info:
        check_wire_value({"a": [1, {"b": float("-inf")}]}, "p")
    assert info.value.field == "p.a[1].b"
    with pytest.raises(DecodeError, match=r"p\.a: string is not valid Unicode"):
        check_wire_value({"a": "x\udc00"}, "p")
    with pytest.raises(DecodeError, match=r"p\.<key>: string is not valid Unicode") as info:
        check_wire_value({"\ud800": 1}, "p")
    with pytest.raises(DecodeError, match=r"p\.\\ud800: number out of range") as info:
        check_wire_value({"\ud800": float("nan")}, "p")
    assert info.value.field == "p.\\ud800"


# ---- properties ----------------------------------------------------------------------------

JSON_LEAVES = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8))
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=20,
)
OBJECTS = st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=5)
FILE_REFS = st.builds(FileRef, upload_id=st.text(min_size=1, max_size=8),
                      name=st.text(max_size=8), mime_type=st.text(max_size=8),
                      size=st.integers(0, 2**40))
ENVELOPES = st.builds(
    Envelope, scope=st.sampled_from(Scope), type=st.text(max_size=12), data=OBJECTS,
    uploads=st.none() | st.dictionaries(st.text(max_size=6), FILE_REFS, max_size=3))


@given(ENVELOPES)
def test_envelope_round_trip(envelope: Envelope) -> None:
    text = encode_envelope(envelope)
    assert parse_envelope(text) == envelope
    assert parse_envelope(text.encode()) == envelope
    inbound = decode_inbound(text)
    assert inbound.scope == envelope.scope
    assert inbound.payload["type"] == envelope.type
    assert inbound.payload["data"] == envelope.data


@given(st.text(min_size=1, max_size=12), OBJECTS,
       st.dictionaries(st.text(max_size=6), FILE_REFS, max_size=3))
def test_command_round_trip(command: str, arguments: dict[str, Any],
                            refs: dict[str, FileRef]) -> None:
    data: dict[str, Any] = {**arguments, **refs}
    envelope = parse_envelope(encode_command(command, data))
    assert envelope.scope is Scope.APPLICATION
    assert envelope.type == command
    assert envelope.uploads == (refs or None)
    assert merge_uploads(envelope) == {k: v.to_json() if isinstance(v, FileRef) else v
                                       for k, v in data.items()}


@given(st.binary(max_size=64) | st.text(max_size=64))
def test_arbitrary_frames_never_escape_the_documented_errors(frame: str | bytes) -> None:
    assert isinstance(decode_inbound(frame), InboundMessage)
    outcome: object
    try:
        outcome = parse_envelope(frame)
    except DecodeError as exc:
        outcome = exc
    if isinstance(outcome, DecodeError):
        assert outcome.field is not None
    else:
        assert isinstance(outcome, Envelope)
