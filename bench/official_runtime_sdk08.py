"""Runner for ``reactor-sdk==0.8.0`` against the official runtime (figure
``official_runtime_connect``), executed by ``.venv-official``'s Python inside the figure's
network namespace, never imported by the suite:
``.venv-official/bin/python bench/official_runtime_sdk08.py --host-address 10.x.y.2``.

It is ``bench/official_connect.py`` (the unmodified client, timed step by step, one
``BENCH-RESULT`` line) with one difference: aioice gathers on the address given here instead
of on loopback only, because the official runtime's ICE agents (libwebrtc in 3.x, libnice in
2.x) never gather on loopback, so the two peers meet on the namespace's veth pair.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import official_connect  # bench/official_connect.py, by path (nothing of ours is installed)


def gather_on(addresses: list[str]) -> None:
    """Replace aioice's host-address discovery: candidates on ``addresses`` only."""
    import aioice.ice

    def chosen(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
        return list(addresses)

    aioice.ice.get_host_addresses = chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--host-address", action="append", required=True)
    parser.add_argument("--model", default="ramp")
    opts = parser.parse_args(argv)
    addresses = opts.host_address
    official_connect.restrict_ice_to_loopback = lambda: gather_on(addresses)
    return official_connect.main(["--model", opts.model, "--connects", "1"])


if __name__ == "__main__":
    sys.exit(main())
