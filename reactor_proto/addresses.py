"""Which hosts are this machine's own: the one loopback rule of the library.

Two decisions rest on it: the client refuses to send an API key over plain ``http`` unless the
host is loopback, and both adapters gather ICE host candidates on loopback only when the other
end is on loopback.  A host is loopback when it is

* an IPv4 address in ``127.0.0.0/8``;
* the IPv6 address ``::1`` (with or without a zone such as ``%lo``), or an IPv4-mapped
  ``::ffff:127.x.y.z`` (Python before 3.13 calls that one not loopback; we decide it here
  so the answer does not depend on the interpreter);
* either IPv6 form in URL brackets, ``[::1]`` (exactly one pair; an IPv4 address or a name in
  brackets is not a URL host and is not loopback);
* the name ``localhost``, in any case, with or without the root's trailing dot.

Other names (``ip6-localhost``, ``foo.localhost``) resolve to loopback only by convention of
some resolvers, so they are not trusted: the check guards a credential.
"""

from __future__ import annotations

import ipaddress
from typing import Final

_LOCALHOST_NAMES: Final = frozenset({"localhost", "localhost."})


def _is_loopback_ip(text: str, *, ipv6_only: bool) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        return address.is_loopback or (mapped is not None and mapped.is_loopback)
    return not ipv6_only and address.is_loopback


def is_loopback_host(host: str) -> bool:
    """True when ``host`` (a URL host or a bind address) names this machine's loopback."""
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCALHOST_NAMES:
        return True
    if host.startswith("[") and host.endswith("]"):
        return _is_loopback_ip(host[1:-1], ipv6_only=True)
    return _is_loopback_ip(host, ipv6_only=False)
