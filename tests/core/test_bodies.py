"""Client-role JSON bodies (docs/protocol §2-§5, §9): builders and response parsers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reactor_proto.bodies import (
    ClientInfo,
    IceCandidate,
    IceCandidates,
    IceServer,
    SdpAnswer,
    TrackMappingEntry,
    TransportDeclaration,
    UploadSlot,
    build_create_session,
    build_delete_session,
    build_ice_candidates,
    build_sdp_offer,
    build_start_session,
    build_upload_request,
    decode_json_body,
    parse_connection_registered,
    parse_created_session,
    parse_ice_servers,
    parse_sdp_answer,
    parse_session,
    parse_session_info,
    parse_token,
    parse_upload_slot,
)
from reactor_proto.errors import DecodeError, LocalProtocolError

INFO = ClientInfo(sdk_version="0.8.0", sdk_type="python")

# §7.4, verbatim apart from the command list (abridged).
HELIOS_SESSION = """{
  "session_id": "6f1c2a9e-2d5b-4d7e-9a61-0c2b7f1d9e33",
  "state": "WAITING",
  "cluster": "us-east-1a",
  "model": {"name": "helios", "version": "1.0.0"},
  "server_info": {"server_version": "2.10.1"},
  "selected_transport": {"protocol": "webrtc", "version": "1.0"},
  "capabilities": {
    "protocol_version": "1.0.0",
    "tracks": [{"name": "main_video", "kind": "video", "direction": "recvonly"}],
    "commands": [
      {"name": "set_seed", "description": "Set the RNG seed",
       "schema": {"seed": {"type": "integer", "required": true}}},
      {"name": "start",  "description": "Start generation (requires a prompt at chunk 0)",
       "schema": {}}
    ],
    "emission_fps": 24
  }
}"""

R2_DESCRIPTOR = """{
  "session_id": "local", "cluster": "local",
  "server_info": {"server_version": "2.10.1"},
  "selected_transport": {"protocol": "webrtc", "version": "1.0"},
  "model": {"name": "echo"},
  "capabilities": {"protocol_version": "0.0.0",
     "tracks": [{"name": "webcam", "kind": "video", "direction": "sendonly"},
                {"name": "main_video", "kind": "video", "direction": "recvonly"}],
     "commands": [], "emission_fps": null},
  "schema": {"openapi": "3.1.0", "info": {"title": "echo", "version": "v0.0.0"}, "paths": {}},
  "state": "WAITING"
}"""

R3_DESCRIPTOR = """{
  "session_id": "00000000-0000-0000-0000-000000000000",
  "state": "waiting", "cluster": "local", "model": {"name": "echo"},
  "server_info": {"server_version": "3.10.0"},
  "selected_transport": {"protocol": "webrtc", "version": "1.0"},
  "transports": [{"protocol": "webrtc", "version": "1.0"}],
  "recording": {"enabled": false, "chunk_seconds": 4},
  "step_results": {"enabled": false}, "generation": "streamed",
  "starting_input": {"applied": 2},
  "capabilities": {"protocol_version": "v0",
     "tracks": [{"name": "main_video", "kind": "video", "direction": "recvonly"}],
     "commands": []}
}"""


def body(text: str) -> Any:
    return decode_json_body(text.encode(), what="test body")


# ---- decode_json_body ------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"  \r\n"])
def test_empty_body_decodes_to_none(raw: bytes) -> None:
    assert decode_json_body(raw, what="answer") is None


def test_null_body_decodes_to_none() -> None:
    assert decode_json_body(b"null", what="answer") is None


def test_trailing_garbage_is_rejected() -> None:
    with pytest.raises(DecodeError, match="answer: not valid JSON"):
        decode_json_body(b'{"jwt": "x"} trailing', what="answer")


def test_oversize_body_is_rejected_before_parsing() -> None:
    with pytest.raises(DecodeError, match="exceeds the limit of 8 bytes") as info:
        decode_json_body(b'{"jwt": "abcdef"}', what="token", max_bytes=8)
    assert info.value.field == "token"


# ---- builders --------------------------------------------------------------------------------


def test_create_session_matches_the_documented_request() -> None:
    assert build_create_session("helios", INFO) == {
        "model": {"name": "helios"},
        "client_info": {"sdk_version": "0.8.0", "sdk_type": "python"},
        "supported_transports": [{"protocol": "webrtc", "version": "1.0"}],
    }


def test_create_session_sends_the_extra_bag_under_both_names() -> None:
    built = build_create_session("helios", INFO, model_version="1.0.0",
                                 extra_args={"fps": 24})
    assert built["model"] == {"name": "helios", "version": "1.0.0"}
    assert built["extra_args"] == {"fps": 24}
    assert built["extra_configs"] == {"fps": 24}
    assert built["extra_args"] is not built["extra_configs"]


def test_create_session_omits_an_empty_bag() -> None:
    assert "extra_args" not in build_create_session("helios", INFO, extra_args={})


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"model_name": ""}, "model_name"),
    ({"model_name": "m", "model_version": ""}, "model_version"),
])
def test_create_session_rejects_bad_arguments(kwargs: dict[str, Any], field: str) -> None:
    name = kwargs.pop("model_name")
    with pytest.raises(LocalProtocolError, match=field):
        build_create_session(name, INFO, **kwargs)


def test_start_session_body() -> None:
    assert build_start_session() == {}
    assert build_start_session({"a": 1}) == {"extra_args": {"a": 1}, "extra_configs": {"a": 1}}


def test_sdp_offer_matches_section_5_3() -> None:
    mapping = [TrackMappingEntry(mid="0", name="main_video", kind="video", direction="recvonly")]
    assert build_sdp_offer("v=0\r\n", INFO, mapping) == {
        "sdp_offer": "v=0\r\n",
        "client_info": {"sdk_version": "0.8.0", "sdk_type": "python"},
        "track_mapping": [{"mid": "0", "name": "main_video", "kind": "video",
                           "direction": "recvonly"}],
    }


@pytest.mark.parametrize(("entry", "field"), [
    (TrackMappingEntry(mid="0", name="t", kind="video", direction="inactive"),
     r"track_mapping\[0\]\.direction"),
    (TrackMappingEntry(mid="0", name="t", kind="text", direction="recvonly"),
     r"track_mapping\[0\]\.kind"),
    (TrackMappingEntry(mid="", name="t", kind="video", direction="recvonly"),
     r"track_mapping\[0\]\.mid"),
])
def test_sdp_offer_refuses_bad_mapping(entry: TrackMappingEntry, field: str) -> None:
    with pytest.raises(LocalProtocolError, match=field):
        build_sdp_offer("v=0", INFO, [entry])


def test_sdp_offer_refuses_empty_sdp() -> None:
    with pytest.raises(LocalProtocolError, match="sdp_offer"):
        build_sdp_offer("", INFO, [])


def test_ice_candidates_matches_section_5_4() -> None:
    cands = IceCandidates(candidates=(IceCandidate(candidate="candidate:1", sdp_mid="0",
                                                   sdp_mline_index=0),), is_final=False)
    assert build_ice_candidates(cands, INFO) == {
        "candidates": [{"candidate": "candidate:1", "sdp_mid": "0", "sdp_mline_index": 0}],
        "is_final": False,
        "client_info": {"sdk_version": "0.8.0", "sdk_type": "python"},
    }


def test_upload_request() -> None:
    assert build_upload_request("photo.jpg", 48213, "image/jpeg") == {
        "name": "photo.jpg", "size": 48213, "mime_type": "image/jpeg"}


@pytest.mark.parametrize(("args", "field"), [
    (("", 1, "a/b"), "name"), (("n", 0, "a/b"), "size"), (("n", True, "a/b"), "size"),
    (("n", 1, ""), "mime_type"),
])
def test_upload_request_refuses_bad_arguments(args: tuple[Any, ...], field: str) -> None:
    with pytest.raises(LocalProtocolError, match=field):
        build_upload_request(*args)


def test_delete_session_body() -> None:
    assert build_delete_session(None) is None
    assert build_delete_session("done") == {"reason": "done"}


# ---- parsers: documented examples ------------------------------------------------------------


def test_token() -> None:
    assert parse_token(body('{"jwt": "eyJ.abc.def", "expires_at": 1}')) == "eyJ.abc.def"


@pytest.mark.parametrize(("obj", "message"), [
    ({}, "token.jwt: required field is missing"),
    ({"jwt": ""}, "token.jwt: expected a non-empty string"),
    ({"jwt": 5}, "token.jwt: expected a non-empty string|token.jwt: expected a string"),
    ([], "token: expected a JSON object, got array"),
    (None, "token: expected a JSON object, got null"),
])
def test_token_errors_name_the_field(obj: Any, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse_token(obj)


def test_created_session_section_3_3() -> None:
    created = parse_created_session(body(
        '{"session_id": "s1", "model": {"name": "helios"}, "state": "CREATED",'
        ' "server_info": {"server_version": "9.9"}, "cluster": "eu"}'))
    assert (created.session_id, created.model_name, created.state) == ("s1", "helios", "CREATED")
    assert (created.server_version, created.cluster) == ("9.9", "eu")


def test_created_session_optional_fields() -> None:
    created = parse_created_session({"session_id": "s1", "model": {"name": "m"},
                                     "state": "CREATED"})
    assert created.server_version is None
    assert created.cluster is None


def test_created_session_missing_model_name() -> None:
    with pytest.raises(DecodeError, match=r"created_session\.model\.name") as info:
        parse_created_session({"session_id": "s", "model": {}, "state": "CREATED"})
    assert info.value.field == "created_session.model.name"


def test_production_session_section_7_4() -> None:
    snap = parse_session(body(HELIOS_SESSION))
    assert snap.session_id == "6f1c2a9e-2d5b-4d7e-9a61-0c2b7f1d9e33"
    assert (snap.model_name, snap.model_version, snap.server_version) == \
        ("helios", "1.0.0", "2.10.1")
    assert snap.selected_transport == TransportDeclaration(protocol="webrtc", version="1.0")
    assert snap.capabilities is not None
    assert [t.name for t in snap.capabilities.tracks] == ["main_video"]
    assert snap.capabilities.emission_fps == 24
    assert snap.is_ready
    assert not snap.is_terminal
    assert snap.schema is None
    assert snap.expires_at is None


def test_r2_descriptor_carries_the_schema() -> None:
    snap = parse_session(body(R2_DESCRIPTOR))
    assert snap.state == "WAITING"
    assert snap.is_ready
    assert snap.schema is not None
    assert snap.schema["openapi"] == "3.1.0"
    assert snap.capabilities is not None
    assert [t.direction for t in snap.capabilities.tracks] == ["sendonly", "recvonly"]


def test_r3_descriptor_lower_case_state() -> None:
    snap = parse_session(body(R3_DESCRIPTOR))
    assert snap.state == "waiting"
    assert snap.session_id == "00000000-0000-0000-0000-000000000000"
    assert snap.is_ready
    assert not snap.is_terminal


@pytest.mark.parametrize("state", ["CLOSED", "INACTIVE", "closed", "Inactive"])
def test_terminal_states(state: str) -> None:
    assert parse_session({"session_id": "s", "state": state}).is_terminal


def test_session_not_ready_while_pending() -> None:
    snap = parse_session({"session_id": "s", "state": "PENDING", "cluster": None,
                          "selected_transport": None, "capabilities": {}})
    assert not snap.is_ready
    assert snap.capabilities is None
    assert snap.selected_transport is None
    assert snap.cluster is None


def test_session_expires_at_extension() -> None:
    snap = parse_session({"session_id": "s", "state": "ACTIVE", "expires_at": 1700000000.5})
    assert snap.expires_at == 1700000000.5


@pytest.mark.parametrize(("obj", "field"), [
    ({"state": "X"}, "session.session_id"),
    ({"session_id": "s", "state": "X", "selected_transport": {"protocol": "webrtc"}},
     "session.selected_transport.version"),
    ({"session_id": "s", "state": "X", "capabilities": "yes"}, "session.capabilities"),
    ({"session_id": "s", "state": "X", "capabilities": {"protocol_version": "1"}},
     "session.capabilities.tracks"),
    ({"session_id": "s", "state": "X", "expires_at": "soon"}, "session.expires_at"),
    ({"session_id": "s", "state": "X", "schema": []}, "session.schema"),
    ({"session_id": "s", "state": "X", "model": {"name": 3}}, "session.model.name"),
])
def test_session_errors_name_the_field(obj: dict[str, Any], field: str) -> None:
    with pytest.raises(DecodeError) as info:
        parse_session(obj)
    assert info.value.field == field
    assert field in str(info.value)


def test_session_info_section_3_5() -> None:
    info = parse_session_info(body('{"session_id": "s", "state": "ACTIVE", "cluster": "c"}'))
    assert (info.session_id, info.state, info.cluster) == ("s", "ACTIVE", "c")
    assert parse_session_info({"session_id": "s", "state": "ACTIVE"}).cluster is None


def test_ice_servers_section_5_1() -> None:
    servers = parse_ice_servers(body("""{"ice_servers": [
      {"uris": ["stun:stun.l.google.com:19302"]},
      {"uris": ["turn:turn.example:3478?transport=udp"],
       "credentials": {"username": "u", "password": "p"}}]}"""))
    assert servers == (
        IceServer(urls=("stun:stun.l.google.com:19302",)),
        IceServer(urls=("turn:turn.example:3478?transport=udp",), username="u",
                  credential="p"),
    )


def test_ice_servers_empty_list_and_urls_spelling() -> None:
    assert parse_ice_servers({"ice_servers": []}) == ()
    assert parse_ice_servers({"ice_servers": [{"urls": "stun:a"}]}) == \
        (IceServer(urls=("stun:a",)),)


@pytest.mark.parametrize(("obj", "field"), [
    ({}, "ice_servers.ice_servers"),
    ({"ice_servers": [{}]}, "ice_servers.ice_servers[0].uris"),
    ({"ice_servers": [{"uris": 5}]}, "ice_servers.ice_servers[0].uris"),
    ({"ice_servers": [{"uris": []}]}, "ice_servers.ice_servers[0].uris"),
    ({"ice_servers": [{"uris": ["stun:a", ""]}]}, "ice_servers.ice_servers[0].uris[1]"),
    ({"ice_servers": [{"uris": ["a"], "credentials": {"username": 1}}]},
     "ice_servers.ice_servers[0].credentials.username"),
])
def test_ice_servers_errors(obj: dict[str, Any], field: str) -> None:
    with pytest.raises(DecodeError) as info:
        parse_ice_servers(obj)
    assert info.value.field == field


def test_connection_registered_ignores_track_map() -> None:
    assert parse_connection_registered(body('{"connection_id": 4821, "track_map": {}}')) == 4821


@pytest.mark.parametrize("cid", [1000, 1001, 5000, 9999])
def test_connection_registered_accepts_server_ids(cid: int) -> None:
    # 1000 is tolerated on purpose: [R2] can mint it (F20).
    assert parse_connection_registered({"connection_id": cid}) == cid


@pytest.mark.parametrize("cid", [999, 10000, -1, True, "4821", 4821.0, None])
def test_connection_registered_rejects(cid: Any) -> None:
    with pytest.raises(DecodeError) as info:
        parse_connection_registered({"connection_id": cid})
    assert info.value.field == "connection.connection_id"


def test_sdp_answer_section_5_3() -> None:
    answer = parse_sdp_answer(body('{"sdp_answer": "v=0\\r\\n", "connection_id": 4821}'))
    assert answer == SdpAnswer(sdp="v=0\r\n", connection_id=4821)
    assert parse_sdp_answer({"sdp_answer": "v=0"}).connection_id is None


@pytest.mark.parametrize(("obj", "field"), [
    ({"sdp_answer": ""}, "sdp_answer.sdp_answer"),
    ({"connection_id": 4821}, "sdp_answer.sdp_answer"),
    ({"sdp_answer": "v=0", "connection_id": 12}, "sdp_answer.connection_id"),
])
def test_sdp_answer_errors(obj: dict[str, Any], field: str) -> None:
    with pytest.raises(DecodeError) as info:
        parse_sdp_answer(obj)
    assert info.value.field == field


def test_pending_answer_bodies_decode_to_none() -> None:
    # [R2] answers 202 with `null`, [R3] with nothing: both mean "pending".
    assert decode_json_body(b"null", what="sdp answer") is None
    assert decode_json_body(b"", what="sdp answer") is None


def test_upload_slot_section_9() -> None:
    slot = parse_upload_slot(body(
        '{"presigned_id": "3f0c", "presigned_url": "http://localhost:8080/uploads/3f0c",'
        ' "path": "sessions/local/uploads/3f0c/photo.jpg"}'))
    assert slot == UploadSlot(presigned_id="3f0c",
                              presigned_url="http://localhost:8080/uploads/3f0c",
                              path="sessions/local/uploads/3f0c/photo.jpg")


def test_upload_slot_missing_url() -> None:
    with pytest.raises(DecodeError, match=r"upload_slot\.presigned_url"):
        parse_upload_slot({"presigned_id": "x", "path": "p"})


def test_built_bodies_are_json_serialisable() -> None:
    text = json.dumps(build_create_session("m", INFO, extra_args={"k": [1]}))
    assert json.loads(text)["extra_configs"] == {"k": [1]}
