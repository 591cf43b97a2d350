"""Server-role JSON bodies, and build → parse round trips for every body codec."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.bodies import (
    ClientInfo,
    CreatedSession,
    IceCandidate,
    IceCandidates,
    IceServer,
    SdpOffer,
    SessionInfo,
    SessionSnapshot,
    TrackMappingEntry,
    TransportDeclaration,
    UploadRequest,
    UploadSlot,
    build_connection_registered,
    build_create_session,
    build_created_session,
    build_delete_session,
    build_error_detail,
    build_health,
    build_ice_candidates,
    build_ice_servers,
    build_offer_accepted,
    build_sdp_answer,
    build_sdp_offer,
    build_session,
    build_session_info,
    build_start_session,
    build_token,
    build_upload_request,
    build_upload_slot,
    decode_json_body,
    parse_connection_registered,
    parse_create_session_request,
    parse_created_session,
    parse_delete_session_request,
    parse_ice_candidates,
    parse_ice_servers,
    parse_sdp_answer,
    parse_sdp_offer,
    parse_session,
    parse_session_info,
    parse_start_session_request,
    parse_token,
    parse_upload_request,
    parse_upload_slot,
)
from reactor_proto.capabilities import Capabilities, TrackCapability
from reactor_proto.errors import DecodeError, LocalProtocolError
from reactor_proto.jsonfields import dumps

INFO = ClientInfo(sdk_version="0.8.0", sdk_type="python")


def wire(obj: Any) -> Any:
    """Through the real encoder and decoder, as bytes on the wire."""
    return decode_json_body(dumps(obj).encode("utf-8"), what="body")


# ---- request parsers -------------------------------------------------------------------------


def test_create_session_request_section_3_3() -> None:
    req = parse_create_session_request(wire({
        "model": {"name": "helios"},
        "client_info": {"sdk_version": "0.8.0", "sdk_type": "python"},
        "supported_transports": [{"protocol": "webrtc", "version": "1.0"}],
        "extra_configs": {"a": 1, "b": 1}, "extra_args": {"b": 2}}))
    assert req.model_name == "helios"
    assert req.model_version is None
    assert req.client_info == INFO
    assert req.supported_transports == (TransportDeclaration(protocol="webrtc", version="1.0"),)
    assert req.extra_args == {"a": 1, "b": 2}  # extra_args wins on a shared key


@pytest.mark.parametrize(("obj", "field"), [
    ({"client_info": {"sdk_version": "1", "sdk_type": "js"}}, "create_session.model"),
    ({"model": {"name": ""}, "client_info": {}}, "create_session.model.name"),
    ({"model": {"name": "m"}}, "create_session.client_info"),
    ({"model": {"name": "m"}, "client_info": {"sdk_type": "js"}},
     "create_session.client_info.sdk_version"),
    ({"model": {"name": "m"}, "client_info": {"sdk_version": "1", "sdk_type": "js"},
      "supported_transports": [{"protocol": "webrtc"}]},
     "create_session.supported_transports[0].version"),
    ({"model": {"name": "m"}, "client_info": {"sdk_version": "1", "sdk_type": "js"},
      "extra_args": []}, "create_session.extra_args"),
])
def test_create_session_request_errors(obj: dict[str, Any], field: str) -> None:
    with pytest.raises(DecodeError) as info:
        parse_create_session_request(obj)
    assert info.value.field == field


def test_start_session_request_bodies() -> None:
    assert parse_start_session_request(None).extra_args == {}
    assert parse_start_session_request({}).extra_args == {}
    assert parse_start_session_request({"extra_configs": {"x": 1}}).extra_args == {"x": 1}
    with pytest.raises(DecodeError, match=r"start_session\.extra_args"):
        parse_start_session_request({"extra_args": "no"})


def test_delete_session_request_bodies() -> None:
    assert parse_delete_session_request(None) is None
    assert parse_delete_session_request({"reason": "bye"}) == "bye"
    with pytest.raises(DecodeError, match=r"delete_session\.reason"):
        parse_delete_session_request({"reason": 1})


def test_sdp_offer_section_5_3() -> None:
    offer = parse_sdp_offer(wire({
        "sdp_offer": "v=0", "client_info": {"sdk_version": "0.8.0", "sdk_type": "python"},
        "track_mapping": [{"mid": "0", "name": "main_video", "kind": "video",
                           "direction": "recvonly"}], "ice_servers": []}))
    assert offer == SdpOffer(sdp="v=0", client_info=INFO, track_mapping=(
        TrackMappingEntry(mid="0", name="main_video", kind="video", direction="recvonly"),))


def test_sdp_offer_legacy_without_mapping() -> None:
    assert parse_sdp_offer({"sdp_offer": "v=0"}) == SdpOffer(sdp="v=0")


@pytest.mark.parametrize(("mapping", "field"), [
    ([{"mid": "0", "name": "v", "kind": "video", "direction": "sendrecv"}],
     "sdp_offer.track_mapping[0].direction"),
    ([{"mid": "0", "name": "v", "kind": "data", "direction": "recvonly"}],
     "sdp_offer.track_mapping[0].kind"),
    ([{"mid": 0, "name": "v", "kind": "video", "direction": "recvonly"}],
     "sdp_offer.track_mapping[0].mid"),
    ([{"mid": "0", "name": "v", "kind": "video", "direction": "recvonly"},
      {"mid": "0", "name": "w", "kind": "video", "direction": "sendonly"}],
     "sdp_offer.track_mapping[1].mid"),
    ("nope", "sdp_offer.track_mapping"),
])
def test_sdp_offer_strict_mapping(mapping: Any, field: str) -> None:
    # [R2] crashes with a 500 on a bad direction; we refuse with a DecodeError (422/400).
    with pytest.raises(DecodeError) as info:
        parse_sdp_offer({"sdp_offer": "v=0", "track_mapping": mapping})
    assert info.value.field == field


def test_sdp_offer_requires_sdp() -> None:
    with pytest.raises(DecodeError, match=r"sdp_offer\.sdp_offer"):
        parse_sdp_offer({"sdp_offer": ""})


def test_ice_candidates_section_5_4() -> None:
    parsed = parse_ice_candidates(wire({
        "candidates": [{"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host",
                        "sdp_mid": "0", "sdp_mline_index": 0}],
        "is_final": False, "client_info": {"sdk_version": "1", "sdk_type": "python"},
        "session_id": "local"}))
    assert parsed.candidates[0].sdp_mline_index == 0
    assert parsed.is_final is False
    assert parse_ice_candidates({"candidates": []}) == IceCandidates(candidates=())


@pytest.mark.parametrize(("obj", "field"), [
    ({}, "ice_candidates.candidates"),
    ({"candidates": [{"candidate": "c", "sdp_mline_index": -1}]},
     "ice_candidates.candidates[0].sdp_mline_index"),
    ({"candidates": [{}]}, "ice_candidates.candidates[0].candidate"),
    ({"candidates": [], "is_final": "yes"}, "ice_candidates.is_final"),
])
def test_ice_candidates_errors(obj: dict[str, Any], field: str) -> None:
    with pytest.raises(DecodeError) as info:
        parse_ice_candidates(obj)
    assert info.value.field == field


def test_upload_request_section_9() -> None:
    assert parse_upload_request(wire({"name": "a.png", "size": 3, "mime_type": "image/png",
                                      "upload_id": "u1"})) == \
        UploadRequest(name="a.png", size=3, mime_type="image/png", upload_id="u1")


@pytest.mark.parametrize(("obj", "message"), [
    ({"size": 1, "mime_type": "a/b"}, r"upload\.name: required"),
    ({"name": "", "size": 1, "mime_type": "a/b"}, r"upload\.name: expected a non-empty"),
    ({"name": "n", "size": 0, "mime_type": "a/b"}, r"upload\.size: expected an integer > 0"),
    ({"name": "n", "size": 1.5, "mime_type": "a/b"}, r"upload\.size"),
    ({"name": "n", "size": 1, "mime_type": ""}, r"upload\.mime_type"),
])
def test_upload_request_errors(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse_upload_request(obj)


# ---- response builders -----------------------------------------------------------------------


def test_response_builders_documented_shapes() -> None:
    assert build_token("j") == {"jwt": "j"}
    assert build_offer_accepted(4821) == {"connection_id": 4821}
    assert build_sdp_answer("v=0", None) == {"sdp_answer": "v=0"}
    assert build_sdp_answer("v=0", 1001) == {"sdp_answer": "v=0", "connection_id": 1001}
    assert build_error_detail("Session not found") == {"detail": "Session not found"}
    assert build_health(state="READY", model="echo") == \
        {"status": "healthy", "model": "echo", "state": "READY"}
    assert build_health(status="unhealthy", state="loading", detail="x") == \
        {"status": "unhealthy", "state": "loading", "detail": "x"}
    assert build_session_info(SessionInfo(session_id="s", state="ACTIVE")) == \
        {"session_id": "s", "state": "ACTIVE"}
    assert build_ice_servers([IceServer(urls=("turn:x",), username="u")]) == \
        {"ice_servers": [{"uris": ["turn:x"], "credentials": {"username": "u"}}]}


def test_connection_registered_track_map_forms() -> None:
    caps = Capabilities(protocol_version="0.0.0", tracks=(
        TrackCapability(name="v", kind="video", direction="recvonly"),))
    with_caps = build_connection_registered(4821, caps)
    assert with_caps["track_map"]["tracks"] == [{"name": "v", "kind": "video",
                                                  "direction": "recvonly"}]
    assert build_connection_registered(4821, {"raw": 1})["track_map"] == {"raw": 1}
    assert build_connection_registered(4821) == {"connection_id": 4821}


@pytest.mark.parametrize("cid", [999, 10_000, True, "1001"])
def test_builders_refuse_bad_connection_ids(cid: Any) -> None:
    with pytest.raises(LocalProtocolError, match="connection_id"):
        build_offer_accepted(cid)


def test_builders_refuse_empty_values() -> None:
    with pytest.raises(LocalProtocolError, match="jwt"):
        build_token("")
    with pytest.raises(LocalProtocolError, match="sdp_answer"):
        build_sdp_answer("", 1001)


# ---- round trips -----------------------------------------------------------------------------

text = st.text(max_size=12)
word = st.text(min_size=1, max_size=12)
opt_word = st.none() | word
json_scalar = st.none() | st.booleans() | st.integers(-10**6, 10**6) | text
bags = st.dictionaries(word, json_scalar, max_size=3)
client_infos = st.builds(ClientInfo, sdk_version=text, sdk_type=text)
cids = st.integers(1000, 9999)
mappings = st.lists(st.builds(TrackMappingEntry, mid=word, name=word,
                              kind=st.sampled_from(["video", "audio"]),
                              direction=st.sampled_from(["recvonly", "sendonly"])),
                    max_size=4, unique_by=lambda e: e.mid)
tracks = st.lists(st.builds(TrackCapability, name=word, kind=st.sampled_from(["video", "audio"]),
                            direction=st.sampled_from(["recvonly", "sendonly"])),
                  min_size=1, max_size=3, unique_by=lambda t: t.name)
capabilities = st.builds(Capabilities, protocol_version=text, tracks=tracks.map(tuple),
                         emission_fps=st.none() | st.floats(0, 240))
snapshots = st.builds(
    SessionSnapshot, session_id=word, state=word, cluster=st.none() | text,
    model_name=st.none() | text, model_version=st.none() | text,
    server_version=st.none() | text,
    selected_transport=st.none() | st.builds(TransportDeclaration, protocol=word, version=word),
    capabilities=st.none() | capabilities,
    schema=st.none() | st.just({"openapi": "3.1.0", "paths": {}}),
    expires_at=st.none() | st.floats(0, 4e9))


@given(word, opt_word, client_infos, bags)
def test_create_session_round_trip(name: str, version: str | None, info: ClientInfo,
                                   extra: dict[str, Any]) -> None:
    req = parse_create_session_request(wire(build_create_session(
        name, info, model_version=version, extra_args=extra)))
    assert (req.model_name, req.model_version, req.client_info) == (name, version, info)
    assert req.extra_args == extra
    assert req.supported_transports == (TransportDeclaration(protocol="webrtc", version="1.0"),)


@given(bags, st.none() | text)
def test_start_and_delete_round_trip(extra: dict[str, Any], reason: str | None) -> None:
    assert parse_start_session_request(wire(build_start_session(extra))).extra_args == extra
    built = build_delete_session(reason)
    assert parse_delete_session_request(None if built is None else wire(built)) == reason


@given(word, client_infos, mappings)
def test_sdp_offer_round_trip(sdp: str, info: ClientInfo,
                              mapping: list[TrackMappingEntry]) -> None:
    assert parse_sdp_offer(wire(build_sdp_offer(sdp, info, mapping))) == \
        SdpOffer(sdp=sdp, client_info=info, track_mapping=tuple(mapping))


@given(st.builds(IceCandidates, candidates=st.lists(st.builds(
    IceCandidate, candidate=text, sdp_mid=st.none() | text,
    sdp_mline_index=st.none() | st.integers(0, 64)), max_size=3).map(tuple),
    is_final=st.booleans()), client_infos)
def test_ice_candidates_round_trip(cands: IceCandidates, info: ClientInfo) -> None:
    assert parse_ice_candidates(wire(build_ice_candidates(cands, info))) == cands


@given(word, st.integers(1, 2**40), word)
def test_upload_request_round_trip(name: str, size: int, mime: str) -> None:
    assert parse_upload_request(wire(build_upload_request(name, size, mime))) == \
        UploadRequest(name=name, size=size, mime_type=mime)


@given(word, st.builds(CreatedSession, session_id=word, model_name=word, state=word,
                       server_version=st.none() | text, cluster=st.none() | text))
def test_token_and_created_session_round_trip(jwt: str, created: CreatedSession) -> None:
    assert parse_token(wire(build_token(jwt))) == jwt
    assert parse_created_session(wire(build_created_session(created))) == created


@given(snapshots)
def test_session_round_trip(snapshot: SessionSnapshot) -> None:
    assert parse_session(wire(build_session(snapshot))) == snapshot


@given(st.builds(SessionInfo, session_id=word, state=word, cluster=st.none() | text))
def test_session_info_round_trip(info: SessionInfo) -> None:
    assert parse_session_info(wire(build_session_info(info))) == info


@given(st.lists(st.builds(IceServer, urls=st.lists(word, min_size=1, max_size=3).map(tuple),
                          username=st.none() | text, credential=st.none() | text), max_size=3))
def test_ice_servers_round_trip(servers: list[IceServer]) -> None:
    assert parse_ice_servers(wire(build_ice_servers(servers))) == tuple(servers)


@given(cids, word, st.none() | cids)
def test_connection_and_answer_round_trip(cid: int, sdp: str, answer_cid: int | None) -> None:
    assert parse_connection_registered(wire(build_connection_registered(cid))) == cid
    answer = parse_sdp_answer(wire(build_sdp_answer(sdp, answer_cid)))
    assert (answer.sdp, answer.connection_id) == (sdp, answer_cid)


@given(st.builds(UploadSlot, presigned_id=word, presigned_url=word, path=word))
def test_upload_slot_round_trip(slot: UploadSlot) -> None:
    assert parse_upload_slot(wire(build_upload_slot(slot))) == slot
