"""Runner for the official client (``reactor-sdk==0.8.0``), executed by ``.venv-official``'s
Python, never imported by the suite: ``.venv-official/bin/python bench/official_connect.py``.

It connects ``reactor_sdk.Reactor(model_name=..., local=True)`` (always
``http://localhost:8080``: the official client has no other local address) and prints one
``BENCH-RESULT {json}`` line with, per connect (``--connects N`` in a row, the first one
cold), the wall time from the ``connect()`` call to the READY status event and the SDK's own
``total_ms`` timing.

The client runs unmodified.  One thing is patched, as the suite's rules allow: aioice's
host-address discovery (``aioice.ice.get_host_addresses``), so ICE gathers only on loopback
(aioice leaves 127.0.0.1 out, and this machine may not send to other addresses).

For figure 1's step-by-step table it loads ``bench/connect_probe.py`` (by path: nothing of
ours is installed in this venv), which timestamps aiortc's steps and aiohttp's requests, and
reports READY, the first decoded frame (its frame callback) and the import time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import connect_probe  # bench/connect_probe.py, by path

RESULT_PREFIX = "BENCH-RESULT "
FIRST_FRAME_LIMIT = 3.0


def http_label(method: str, url: Any) -> str:
    """As ``bench.connect_ready.http_label`` (kept in step by hand: no shared import)."""
    path = re.sub(r"^[a-z]+://[^/]+", "", str(url)).split("?", 1)[0]
    path = re.sub(r"/sessions/[^/]+", "/sessions/{id}", path)
    path = re.sub(r"/connections/[^/]+", "/connections/{c}", path)
    return f"{method.upper()} {path}"


def restrict_ice_to_loopback() -> None:
    import aioice.ice

    def loopback_only(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
        return ["127.0.0.1"] if use_ipv4 else []

    aioice.ice.get_host_addresses = loopback_only


async def connect_once(model: str, limit_s: float) -> dict[str, Any]:
    from reactor_sdk import Reactor, ReactorStatus  # type: ignore[import-not-found]

    reactor = Reactor(model_name=model, local=True)
    ready = asyncio.Event()
    first_frame: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def on_frame(frame: Any) -> None:
        if not first_frame.done():
            first_frame.set_result(time.monotonic())

    reactor.on_status(ReactorStatus.READY)(lambda status: ready.set())
    reactor.set_frame_callback(on_frame)
    started = time.monotonic()
    await asyncio.wait_for(reactor.connect(), limit_s)
    await asyncio.wait_for(ready.wait(), limit_s)
    ready_ms = (time.monotonic() - started) * 1000
    timings = getattr(reactor, "_connection_timings", None)
    total_ms = getattr(timings, "total_ms", None)
    try:
        frame_at: float | None = await asyncio.wait_for(first_frame, FIRST_FRAME_LIMIT)
    except TimeoutError:
        frame_at = None
    steps = connect_probe.events(started)
    await asyncio.wait_for(reactor.disconnect(), limit_s)
    return {"ready_ms": ready_ms, "sdk_total_ms": total_ms, "steps": steps,
            "first_frame_ms": None if frame_at is None else (frame_at - started) * 1000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--model", default="helios")
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--connects", type=int, default=1,
                        help="connect/disconnect this many times in a row (first = cold)")
    opts = parser.parse_args(argv)
    restrict_ice_to_loopback()
    connect_probe.install()
    started = time.monotonic()
    import aiohttp
    import reactor_sdk  # noqa: F401 - timed: what a user's first import costs

    import_ms = (time.monotonic() - started) * 1000
    connect_probe.wrap_http(aiohttp.ClientSession, "_request",
                            lambda self, method, url, *a, **k: http_label(method, url))

    async def connects() -> list[dict[str, Any]]:
        return [await connect_once(opts.model, opts.timeout) for _ in range(opts.connects)]

    results = asyncio.run(connects())
    print(RESULT_PREFIX + json.dumps({"ready_ms": [r["ready_ms"] for r in results],
                                      "sdk_total_ms": [r["sdk_total_ms"] for r in results],
                                      "import_ms": import_ms, "connects": results}),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
