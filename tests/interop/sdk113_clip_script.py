"""Drive the official ``reactor-sdk==1.13.0`` clip API against our runtime or coordinator:
connect, watch a few seconds, ``download_clip(4, path)``; print a JSON summary as the last
line of stdout (the test decodes the file: this venv has no PyAV).

``python sdk113_clip_script.py <api_url> <path> [api_key model]``; runs in the side venv,
inside the test's network namespace, like ``sdk113_client_script.py``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from reactor_sdk import Reactor

OUTPUT = "main_video"


async def main(url: str, path: str, api_key: str | None, model: str) -> dict[str, Any]:
    reactor = (Reactor(model, local=True, api_url=url) if api_key is None
               else Reactor(model, api_key=api_key, api_url=url))
    frames = 0

    def count(_frame: Any) -> None:
        nonlocal frames
        frames += 1

    reactor.track(OUTPUT).on_frame(count)
    await asyncio.wait_for(reactor.connect(), 20)
    await asyncio.sleep(5.0)
    asked = time.monotonic()
    await asyncio.wait_for(reactor.download_clip(4.0, path), 60)
    in_hand = time.monotonic()
    await reactor.disconnect()
    return {"in_hand_ms": (in_hand - asked) * 1000, "frames": frames}


if __name__ == "__main__":
    key = sys.argv[3] if len(sys.argv) > 3 else None
    name = sys.argv[4] if len(sys.argv) > 4 else "reply_echo"
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], key, name))))
