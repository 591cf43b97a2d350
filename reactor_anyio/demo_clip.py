"""The demo's clip: the last few seconds as the runtime recorded them, through the protocol.

Kept small on purpose until the client has ``request_clip`` (issue 17, client side): it sends
the v0 runtime message ``requestClip`` with ``send_runtime_message``, waits for ``clipReady``
on the ``runtime_message`` event, fetches the playlist (following 202 + ``Retry-After``) and
its chunks with :class:`~reactor_anyio.http.HttpClient`, and writes a flat MP4 with
:func:`~reactor_anyio.recording.remux`.  Nothing is re-encoded on the client's side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from reactor_proto.recording import Clip, ClipFailure, parse_playlist, resolve_chunk_url
from reactor_proto.recording.vocabulary import decode_reply

from .client.reactor import Reactor
from .http import HttpClient
from .recording import remux
from .recording.fmp4 import concatenate

#: bound on the whole exchange: request, playlist, chunks
CLIP_TIMEOUT = 20.0


async def save_clip(reactor: Reactor, base_url: str, seconds: float, path: Path) -> Clip:
    """Ask for the last ``seconds`` seconds, download them, write ``path``; the clip."""
    clip, data = await fetch_clip(reactor, base_url, seconds)
    await anyio.to_thread.run_sync(remux, data, path)
    return clip


async def fetch_clip(reactor: Reactor, base_url: str, seconds: float) -> tuple[Clip, bytes]:
    """Ask for the last ``seconds`` seconds; the clip and its fragmented-MP4 bytes."""
    replies: list[Clip | ClipFailure] = []
    arrived = anyio.Event()

    def on_runtime_message(payload: Any) -> None:
        if isinstance(payload, dict):
            reply = decode_reply(str(payload.get("type")), payload.get("data"))
            if reply is not None:
                replies.append(reply)
                arrived.set()

    reactor.on("runtime_message", on_runtime_message)
    try:
        with anyio.fail_after(CLIP_TIMEOUT):
            await reactor.send_runtime_message("requestClip", {"duration_seconds": seconds})
            await arrived.wait()
            reply = replies[0]
            if isinstance(reply, ClipFailure):
                raise RuntimeError(f"clipFailed: {reply.reason}")
            data = await _download(base_url + reply.playlist_url)
    finally:
        reactor.off("runtime_message", on_runtime_message)
    return reply, data


async def _download(playlist_url: str) -> bytes:
    async with HttpClient() as http:
        while True:
            response = await http.request_json("GET", playlist_url, timeout=5.0)
            if response.status != 202:
                break
            retry = response.header("retry-after") or "1"
            await anyio.sleep(min(max(float(retry) if retry.isdigit() else 1.0, 0.2), 2.0))
        if response.status != 200:
            raise RuntimeError(f"GET /clips: {response.status}")
        playlist = parse_playlist((response.body or b"").decode())
        parts = []
        for uri in (playlist.init_uri, *(s.uri for s in playlist.segments)):
            chunk = await http.request_json("GET", resolve_chunk_url(playlist_url, uri),
                                            timeout=5.0)
            if chunk.status != 200:
                raise RuntimeError(f"GET {uri}: {chunk.status}")
            parts.append(chunk.body or b"")
    return concatenate(parts[0], parts[1:])
