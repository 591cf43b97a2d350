"""The demo's clip: the last few seconds as the runtime recorded them, through the protocol.

Uses only the client's public clip API (docs/guide/recordings.md): ``request_clip`` on
whatever wire the connection speaks, then ``download_clip_as_file``, which fetches the
playlist and its chunks with our HTTP client and writes a flat MP4 with PyAV.  Nothing is
re-encoded on the client's side.
"""

from __future__ import annotations

from pathlib import Path

import anyio

from reactor_proto.recording import Clip

from .client.reactor import Reactor

#: bound on the whole exchange: request, playlist, chunks
CLIP_TIMEOUT = 20.0


async def save_clip(reactor: Reactor, base_url: str | None, seconds: float,
                    path: Path) -> Clip:
    """Ask for the last ``seconds`` seconds, write them at ``path`` as one MP4; the clip.
    (``base_url`` is not needed any more: the client resolves the clip's URLs against its
    own API URL; the argument stays for existing callers.)"""
    with anyio.fail_after(CLIP_TIMEOUT):
        clip = await reactor.request_clip(seconds)
        await reactor.download_clip_as_file(clip, path)
    return clip


async def fetch_clip(reactor: Reactor, base_url: str | None,
                     seconds: float) -> tuple[Clip, bytes]:
    """Ask for the last ``seconds`` seconds; the clip and its fragmented-MP4 bytes."""
    with anyio.fail_after(CLIP_TIMEOUT):
        clip = await reactor.request_clip(seconds)
        data = await reactor.download_clip_as_file(clip, remux=False)
    return clip, data
