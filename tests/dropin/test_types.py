"""The documented types behave as documented (issue 15 #3)."""

from __future__ import annotations

import dataclasses
import typing

import pytest

import reactor_anyio
from reactor_anyio import (
    Capabilities,
    LocalProtocolError,
    Reactor,
    ReactorState,
    ReactorStatus,
    TrackCapability,
)
from reactor_anyio.client.types import capabilities_dict, session_response_dict
from reactor_proto.bodies import parse_session
from tests.core.paired import descriptor

DOCUMENTED = ["Capabilities", "TrackCapability", "CommandCapability", "CreateSessionResponse",
              "ReactorState", "ReactorError", "ReactorEvent", "FrameCallback", "TrackKind",
              "TrackDirection", "MessageScope", "ReactorStatus", "ConnectionStats",
              "ConflictError", "VersionMismatchError", "fetch_jwt_token"]


def test_the_documented_names_are_exported() -> None:
    missing = [name for name in DOCUMENTED if not hasattr(reactor_anyio, name)]
    assert not missing and set(DOCUMENTED) <= set(reactor_anyio.__all__)


def test_literals_list_the_documented_values() -> None:
    assert set(typing.get_args(reactor_anyio.TrackKind)) == {"video", "audio"}
    assert set(typing.get_args(reactor_anyio.TrackDirection)) == {"recvonly", "sendonly"}
    assert {"status_changed", "session_id_changed", "message", "runtime_message",
            "track_received", "error", "session_expiration_changed",
            "capabilities_received"} <= set(typing.get_args(reactor_anyio.ReactorEvent))


def test_capabilities_are_plain_dicts_that_compare_with_their_json() -> None:
    snapshot = parse_session(descriptor())
    assert snapshot.capabilities is not None
    caps: Capabilities = capabilities_dict(snapshot.capabilities)
    assert type(caps) is dict and caps["tracks"][0]["name"] == "main_video"
    assert caps == {k: v for k, v in descriptor()["capabilities"].items()
                    if k in caps}
    info = session_response_dict(snapshot)
    assert info["session_id"] == "local" and info["capabilities"] == caps
    assert info["model"] == {"name": "helios"}


def test_reactor_state_is_a_dataclass_with_the_documented_fields() -> None:
    names = [f.name for f in dataclasses.fields(ReactorState)]
    assert names[:2] == ["status", "last_error"]
    state = ReactorState(ReactorStatus.READY, None)  # positional, as documented
    assert state.waiting_info is None


def test_model_tracks_accepts_track_capability_dicts() -> None:
    track: TrackCapability = {"name": "main_video", "kind": "video", "direction": "recvonly"}
    reactor = Reactor(model_name="helios", local=True, model_tracks=[track])
    (core,) = reactor._config.model_tracks or ()  # the config the machine was given
    assert (core.name, core.kind, core.direction) == ("main_video", "video", "recvonly")
    with pytest.raises(LocalProtocolError, match=r"model_tracks\[0\]"):
        Reactor(model_name="helios", local=True,
                model_tracks=[{"name": "x", "kind": "smell", "direction": "recvonly"}])  # type: ignore[list-item]
