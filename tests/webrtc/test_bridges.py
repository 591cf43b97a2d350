"""The peer-factory table keyed by async library, and the client's peer options."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from reactor_anyio import Reactor
from reactor_anyio.client.options import PeerOptions
from reactor_anyio.webrtc import (
    BRIDGE_MODULES,
    ClientPeer,
    Peer,
    PeerFactory,
    peer_factory_builder,
    register_peer_factory,
)
from reactor_anyio.webrtc import bridges as bridges_module
from reactor_proto.bodies import IceServer
from reactor_proto.errors import InvalidStateError, LocalProtocolError

from .conftest import TRACKS

ROOT = Path(__file__).resolve().parents[2]


def test_asyncio_is_built_in_and_trio_is_named_not_imported() -> None:
    assert peer_factory_builder("asyncio") is bridges_module.asyncio_peer_factory
    assert BRIDGE_MODULES["trio"][0] == "reactor_trio_compat.factory"
    # The client package never imports the bridge by name: only the table names it.
    for path in (ROOT / "reactor_anyio").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import reactor_trio_compat" not in text, path
        assert "from reactor_trio_compat" not in text, path


def test_an_asyncio_client_never_imports_the_trio_bridge() -> None:
    code = ("import sys; from reactor_anyio import Reactor; "
            "from reactor_anyio.webrtc import peer_factory_builder; "
            "peer_factory_builder('asyncio'); Reactor('m', local=True); "
            "assert 'reactor_trio_compat' not in sys.modules, 'bridge imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


def test_unknown_library_is_refused() -> None:
    with pytest.raises(InvalidStateError, match=r"'curio' is not supported.*asyncio or trio"):
        peer_factory_builder("curio")


def test_a_bridge_module_that_fails_to_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BRIDGE_MODULES, "nolib", ("reactor_anyio.no_such_bridge", "pip nothing"))
    with pytest.raises(InvalidStateError, match=r"no_such_bridge, which did not import.*nothing"):
        peer_factory_builder("nolib")


def test_a_bridge_module_that_does_not_register(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BRIDGE_MODULES, "quiet", ("json", "nothing to install"))
    with pytest.raises(InvalidStateError, match="'quiet' is not supported"):
        peer_factory_builder("quiet")


def test_registration_adds_and_replaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bridges_module, "_builders", dict(bridges_module._builders))

    def builder(*, host_addresses: Sequence[str] | None, frame_capacity: int) -> PeerFactory:
        raise AssertionError("not called")

    register_peer_factory("mylib", builder)
    assert peer_factory_builder("mylib") is builder
    register_peer_factory("asyncio", builder)
    assert peer_factory_builder("asyncio") is builder


@pytest.mark.anyio
async def test_the_asyncio_factory_builds_a_client_peer() -> None:
    factory = peer_factory_builder("asyncio")(host_addresses=("127.0.0.1",), frame_capacity=3)
    peer = factory(TRACKS, [IceServer(urls=("stun:127.0.0.1:9",))])
    try:
        assert isinstance(peer, ClientPeer)
    finally:
        await peer.close()


def test_peer_options_defaults_follow_the_api_host() -> None:
    local = PeerOptions.create("http://localhost:8080", ice_host_addresses=None,
                               ice_servers=None, frame_buffer=1, peer_factory=None)
    assert local.ice.host_addresses == ("127.0.0.1",)
    assert local.ice.ice_servers == () and local.factory is None
    remote = PeerOptions.create("https://api.example", ice_host_addresses=None,
                                ice_servers=["stun:s"], frame_buffer=2, peer_factory=None)
    assert remote.ice.host_addresses is None
    assert remote.ice.ice_servers == (IceServer(urls=("stun:s",)),)
    chosen = PeerOptions.create("https://api.example", ice_host_addresses=["::1"],
                                ice_servers=None, frame_buffer=1, peer_factory=None)
    assert chosen.ice.host_addresses == ("::1",)


@pytest.mark.parametrize(("options", "message"), [
    ({"ice_servers": [{"urls": []}]}, r"ice_servers\[0\]\.urls"),
    ({"ice_servers": "stun:a"}, "sequence of ICE servers"),
    ({"ice_host_addresses": ["localhost"]}, "not an IP address"),
    ({"peer_factory": 5}, "peer_factory: expected a callable"),
])
def test_bad_peer_options_fail_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        Reactor("m", local=True, **options)


def test_a_given_factory_gets_the_session_servers_then_the_extra_ones() -> None:
    calls: list[tuple[Sequence[Any], Sequence[IceServer]]] = []

    def factory(tracks: Sequence[Any], ice_servers: Sequence[IceServer]) -> Peer:
        calls.append((tracks, ice_servers))
        return None  # type: ignore[return-value]

    options = PeerOptions.create("http://127.0.0.1:1", ice_host_addresses=None,
                                 ice_servers=[{"urls": "turn:x", "username": "u"}],
                                 frame_buffer=1, peer_factory=factory)
    session = IceServer(urls=("stun:session",))
    options.bind()(TRACKS, [session])  # no async library needed: the factory is the caller's
    assert calls == [(TRACKS, (session, IceServer(urls=("turn:x",), username="u")))]
