"""The coordinator passes on its runtime's wire marker (``server_info.wire``) and never makes
one up: a client with ``wire="auto"`` then speaks v1 through the coordinator exactly when the
hosting runtime serves it, and the official cloud's session bodies (which have no marker) are
what a session of an unmarked runtime looks like."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reactor_proto.bodies.client import parse_session
from reactor_proto.client.wire import choose_wire
from reactor_proto.coordinator.runtime_link import (
    MAX_SERVER_WIRES,
    RuntimeDescriptor,
    parse_descriptor,
)
from reactor_proto.http import HttpResponse
from reactor_proto.wire_v1 import Wire

from .coordinator_harness import Driver, body_of

MARKED = {"server_version": "fake", "wire": ["v0", "v1"]}


def _descriptor(server_info: Any) -> RuntimeDescriptor:
    body = {"session_id": "local", "state": "WAITING", "server_info": server_info}
    return parse_descriptor(HttpResponse(status=200, body=json.dumps(body).encode()))


def _marked_driver(server_info: dict[str, Any] | None = None, **config: Any) -> Driver:
    d = Driver(**config)
    d.runtimes[0].server_info = dict(MARKED if server_info is None else server_info)
    return d


@pytest.mark.parametrize(("server_info", "expected"), [
    ({"server_version": "3.10.0"}, None),              # the official runtime: no marker
    ({"wire": ["v0", "v1"]}, ("v0", "v1")),
    ({"wire": []}, ()),                                # reported, serving nothing named
    ({"wire": "v1"}, None),                            # not a list: absent, as the client reads it
    ({"wire": ["v1", 3, None, "v0"]}, ("v1", "v0")),   # non-strings dropped
    ("not an object", None),
    (None, None),
])
def test_descriptor_reads_the_marker_leniently(server_info: Any,
                                               expected: tuple[str, ...] | None) -> None:
    assert _descriptor(server_info).server_wires == expected


def test_descriptor_marker_is_bounded() -> None:
    wires = [f"v{i}" for i in range(3 * MAX_SERVER_WIRES)]
    assert _descriptor({"wire": wires}).server_wires == tuple(wires[:MAX_SERVER_WIRES])


def test_hosted_session_carries_the_runtime_marker() -> None:
    d = _marked_driver(assign_delay=2.0)
    jwt = d.token()
    created = body_of(d.create(jwt))
    assert created["server_info"] == {"server_version": "0.1.0"}   # no runtime yet
    sid = created["session_id"]
    assert "wire" not in body_of(d.get(jwt, sid))["server_info"]   # PENDING
    d.advance(2.0)
    waiting = body_of(d.get(jwt, sid))
    assert waiting["state"] == "WAITING"
    # the coordinator's own version stays; only the marker comes from the runtime
    assert waiting["server_info"] == {"server_version": "0.1.0", "wire": ["v0", "v1"]}
    d.runtimes[0].connect()
    active = body_of(d.get(jwt, sid))
    assert active["state"] == "ACTIVE"
    assert active["server_info"]["wire"] == ["v0", "v1"]
    # /info is the cloud's short view and stays as it was
    assert "server_info" not in body_of(d.get(jwt, sid, "/info"))


def test_unmarked_runtime_gives_the_cloud_shape() -> None:
    d = Driver()
    jwt = d.token()
    sid = d.create_id(jwt)
    body = body_of(d.get(jwt, sid))
    assert body["state"] == "WAITING"
    assert body["server_info"] == {"server_version": "0.1.0"}


def test_marker_is_dropped_when_the_session_leaves_its_runtime() -> None:
    d = _marked_driver()
    jwt = d.token()
    sid = d.create_id(jwt)
    assert body_of(d.get(jwt, sid))["server_info"]["wire"] == ["v0", "v1"]
    d.machine.runtime_failed(0, d.now)
    d.drain()
    lost = body_of(d.get(jwt, sid))
    assert lost["state"] == "INACTIVE"
    assert "wire" not in lost["server_info"]


def test_marker_is_dropped_when_the_session_closes() -> None:
    d = _marked_driver()
    jwt = d.token()
    sid = d.create_id(jwt)
    assert d.delete(jwt, sid).status == 200
    closed = body_of(d.get(jwt, sid))
    assert closed["state"] == "CLOSED"
    assert "wire" not in closed["server_info"]


@pytest.mark.parametrize(("server_info", "wire"), [
    (MARKED, Wire.V1),
    # a v1-capable official version behind a coordinator is not enough: the version the
    # client sees is the coordinator's own
    ({"server_version": "3.10.0"}, Wire.V0),
])
def test_auto_chooses_by_the_passed_on_marker(server_info: dict[str, Any], wire: Wire) -> None:
    d = _marked_driver(server_info)
    jwt = d.token()
    sid = d.create_id(jwt)
    snapshot = parse_session(body_of(d.get(jwt, sid)))
    assert choose_wire("auto", local=False, snapshot=snapshot) is wire
    assert choose_wire("v0", local=False, snapshot=snapshot) is Wire.V0
