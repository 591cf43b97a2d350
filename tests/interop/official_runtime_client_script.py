"""Child of tests/interop/test_official_runtime_connect.py, run inside the test's network
namespace by our dev venv's Python: ``python official_runtime_client_script.py URL ADDRESS``.

Our ``Reactor(local=True)`` connects to the official runtime at ``URL``, gathering ICE on
``ADDRESS`` (the namespace's client end: the runtime's libwebrtc never gathers on loopback),
waits for 30 decoded frames (at most 10 s), disconnects and prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any


async def main(url: str, address: str) -> dict[str, Any]:
    from reactor_anyio import Reactor

    shapes: list[tuple[int, ...]] = []
    async with Reactor(model_name="ramp", local=True, api_url=url,
                       ice_host_addresses=(address,)) as reactor:
        reactor.set_frame_callback(lambda frame: shapes.append(tuple(frame.shape)))
        started = time.monotonic()
        await asyncio.wait_for(reactor.connect(), 30)
        ready_ms = (time.monotonic() - started) * 1000
        deadline = time.monotonic() + 10.0  # a loaded machine may be slow to start the video
        while len(shapes) < 30 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        status = str(reactor.get_status())
        await reactor.disconnect()
    return {"ready_ms": ready_ms, "frames": len(shapes), "status": status,
            "shapes": sorted({str(s) for s in shapes})}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))), flush=True)
