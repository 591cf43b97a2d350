"""The 1.13.0 side of figure 14 (``bench/receive_cpu_sdk.py``): run in ``.venv-sdk113`` inside
the namespace, ``python sdk113_receive_script.py API_URL WARM MEASURED``.

Connects the unmodified ``reactor-sdk==1.13.0`` to ``reactor serve --model helios``, starts
the stream as a user would (``schedule_prompt``, ``start``), lets ``WARM`` frames pass, then
prints (last line, JSON) this process's CPU per frame over the next ``MEASURED`` frames of
``Track.on_frame`` (RGB numpy arrays, converted by the native library).  Standalone: the side
venv has none of our packages.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from reactor_sdk import Reactor


async def main(url: str, warm: int, measured: int) -> dict[str, Any]:
    frames = 0
    shape: list[int] = []

    def on_frame(frame: Any) -> None:
        nonlocal frames
        frames += 1
        if not shape:
            shape.extend(int(n) for n in frame.shape)

    reactor = Reactor("helios", local=True, api_url=url)
    reactor.track("main_video").on_frame(on_frame)
    await asyncio.wait_for(reactor.connect(), 30)
    try:
        await reactor.send_command("schedule_prompt", {"prompt": "A forest", "chunk": 0})
        await reactor.send_command("start", {})
        deadline = time.monotonic() + 60
        while frames < warm and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        first, cpu, wall = frames, time.process_time(), time.monotonic()
        while frames < first + measured and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        got = frames - first
        return {"cpu_ms_per_frame": (time.process_time() - cpu) * 1000 / max(got, 1),
                "fps": got / max(time.monotonic() - wall, 1e-9), "frames": got,
                "shape": shape}
    finally:
        await reactor.disconnect()


if __name__ == "__main__":
    result = asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    print(json.dumps(result), flush=True)
