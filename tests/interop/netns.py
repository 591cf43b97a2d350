"""A private network namespace for the native (libwebrtc) clients, which never gather ICE
candidates on loopback.

The namespace gets a veth pair whose two ends both stay inside it, each with an address of
a private 10.x subnet; the runtime binds one end and the client gathers on both.  Nothing is
routed out: the namespace has no other interface and no default route, so no traffic can
leave it.  Creating one needs root (``ip netns add``); :func:`unavailable_reason` says why it
cannot be made, and a test skips with that reason, except in CI, where it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import attrs


@attrs.frozen
class Namespace:
    name: str
    server_address: str
    client_address: str

    def exec_prefix(self) -> list[str]:
        """Prefix a command with this to run it inside the namespace."""
        return ["ip", "netns", "exec", self.name]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable_reason() -> str | None:
    """Why no namespace can be made here, or None when one can."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "creating a network namespace (`ip netns add`) needs root"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@contextmanager
def namespace(tag: str) -> Iterator[Namespace]:
    """A namespace ``rx-<tag>-<pid>`` with a veth pair inside; removed on exit."""
    pid = os.getpid()
    name = f"rx-{tag}-{pid}"
    subnet = f"10.{200 + pid % 50}.{pid // 50 % 250}"
    ns = Namespace(name=name, server_address=f"{subnet}.1", client_address=f"{subnet}.2")
    _ip("netns", "add", name)
    try:
        # both ends are created inside the namespace: neither ever sees the host's stack
        _ip("-n", name, "link", "add", "rxs", "type", "veth", "peer", "name", "rxc")
        _ip("-n", name, "addr", "add", f"{ns.server_address}/24", "dev", "rxs")
        _ip("-n", name, "addr", "add", f"{ns.client_address}/24", "dev", "rxc")
        for device in ("lo", "rxs", "rxc"):
            _ip("-n", name, "link", "set", device, "up")
        yield ns
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True, timeout=20)
