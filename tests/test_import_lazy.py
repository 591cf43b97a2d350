"""The client's import stays light (issue 20): ``import reactor_anyio`` and ``from reactor_anyio
import Reactor`` load what a client needs and nothing of the runtime, the coordinator, the
recorder, the playground, typegen, the trio bridge or the h11 server.  (numpy is imported, as
reactor-sdk 0.8.0 imports it: the first frame needs it; the v1 codec and protobuf are imported
by the warm-up thread the import starts, beside the application's own start-up.)

The packages serve their public names lazily (``reactor_proto.lazy``); every name of every
``__all__`` still resolves, to the very object its submodule defines.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

#: module prefixes a client import must not load (each is loaded on first use)
NOT_FOR_A_CLIENT = (
    "reactor_anyio.runtime", "reactor_proto.runtime", "reactor_anyio.coordinator",
    "reactor_proto.coordinator", "reactor_anyio.recording.recorder",
    "reactor_anyio.recording.audio", "reactor_anyio.playground", "reactor_proto.typegen",
    "reactor_anyio.typegen", "reactor_anyio.models", "reactor_anyio.sdk", "reactor_anyio.cli",
    "reactor_trio_compat", "trio", "hypothesis", "reactor_anyio.http.server",
    "reactor_proto.http.server", "reactor_anyio.webrtc.server_peer",
)

LAZY_PACKAGES = (
    "reactor_anyio", "reactor_anyio.webrtc", "reactor_anyio.http", "reactor_anyio.recording",
    "reactor_anyio.coordinator", "reactor_anyio.runtime", "reactor_anyio.models",
    "reactor_anyio.sdk", "reactor_proto.wire_v1", "reactor_proto.recording",
    "reactor_proto.bodies", "reactor_proto.http", "reactor_proto.schema", "reactor_proto.runtime",
)


def loaded_after(statement: str) -> set[str]:
    """Modules a fresh interpreter holds after ``statement`` that it did not before."""
    code = ("import sys\nbefore = set(sys.modules)\n" + statement +
            "\nprint('\\n'.join(sorted(set(sys.modules) - before)))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=True)
    return set(proc.stdout.split())


def offenders(modules: set[str]) -> list[str]:
    return sorted(m for m in modules
                  if any(m == p or m.startswith(p + ".") for p in NOT_FOR_A_CLIENT))


def test_import_reactor_anyio_loads_almost_nothing() -> None:
    loaded = loaded_after("import reactor_anyio")
    ours = sorted(m for m in loaded if m.startswith(("reactor_anyio", "reactor_proto")))
    assert ours == ["reactor_anyio", "reactor_proto", "reactor_proto.errors",
                    "reactor_proto.lazy"]
    assert "aiortc" not in loaded


def test_importing_the_client_skips_what_a_client_does_not_need() -> None:
    loaded = loaded_after("from reactor_anyio import Reactor, ReactorStatus")
    assert "reactor_anyio.client.reactor" in loaded
    assert offenders(loaded) == []


def test_the_typed_sdk_import_adds_no_runtime() -> None:
    loaded = loaded_after("from reactor_anyio import Reactor, HeliosModel")
    assert "reactor_anyio.sdk.helios" in loaded
    assert offenders(loaded) == ["reactor_anyio.sdk", "reactor_anyio.sdk.helios"]


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_public_name_resolves_to_its_definition(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert set(names) <= set(dir(module))
    for name in names:
        value = getattr(module, name)
        assert value is not None, f"{package}.{name}"
        assert getattr(module, name) is value  # cached in the package after the first look-up


def test_a_lazy_name_is_the_submodules_object() -> None:
    from reactor_anyio import FrameSource, Reactor
    from reactor_anyio.client.reactor import Reactor as Defined
    from reactor_anyio.webrtc.tracks import NdarrayVideoTrack
    from reactor_proto.wire_v1 import sniff
    from reactor_proto.wire_v1.sniff import sniff as sniff_function

    assert Reactor is Defined
    assert FrameSource is NdarrayVideoTrack
    assert sniff is sniff_function  # not shadowed by the submodule of the same name


def test_an_unknown_name_is_an_attribute_error() -> None:
    import reactor_anyio

    with pytest.raises(AttributeError, match="NoSuchName"):
        reactor_anyio.NoSuchName  # noqa: B018
    with pytest.raises(ImportError):
        exec("from reactor_anyio import NoSuchName")


def test_a_submodule_reads_as_an_attribute_without_an_import() -> None:
    loaded = loaded_after("import reactor_proto.bodies as b\nb.server.CreateSessionRequest")
    assert "reactor_proto.bodies.server" in loaded
