"""The playground page: a browser UI for a model, served by ``reactor serve`` and by the
coordinator emulator on their own ``/``.

The page is static package data (``static/``): one HTML file, plain ES modules and a style
sheet, no build step and nothing fetched from another origin.  It speaks the protocol with
the browser's own ``RTCPeerConnection``.  Servers call :func:`playground_response` before
handing a request to their core; it answers only ``GET``/``HEAD`` of ``/`` and of the
allow-listed ``/playground/<file>`` names, so a path can never reach another file.

``/playground/config.json`` is the one generated answer: it tells the page which flow to
speak (``local``: ``/start_session``; ``coordinator``: ``/tokens`` then ``/sessions``, with
a key the user types).  It never carries a key or a token.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Literal

from reactor_proto.http import HttpRequest, HttpResponse

Mode = Literal["local", "coordinator"]

#: every file the page may load, with its content type (nothing else is ever read)
STATIC_FILES: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "playground.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "audio.js": "text/javascript; charset=utf-8",
    "client.js": "text/javascript; charset=utf-8",
    "flows.js": "text/javascript; charset=utf-8",
    "forms.js": "text/javascript; charset=utf-8",
    "media.js": "text/javascript; charset=utf-8",
    "stats.js": "text/javascript; charset=utf-8",
    "util.js": "text/javascript; charset=utf-8",
}

PREFIX = "/playground/"

#: only this origin: no outside script, style, image or connection; no framing, no plugins
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'; object-src 'none'")

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-cache"),
    # camera and microphone use is up to the page itself (echo-like models ask for them)
    ("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()"),
)


@functools.cache
def static_file(name: str) -> bytes:
    """The bytes of one allow-listed file (``KeyError`` for any other name)."""
    if name not in STATIC_FILES:
        raise KeyError(name)
    return (resources.files(__package__) / "static" / name).read_bytes()


def _reply(request: HttpRequest, content_type: str, body: bytes) -> HttpResponse:
    headers = (("Content-Type", content_type), *SECURITY_HEADERS)
    return HttpResponse(status=200, headers=headers,
                        body=b"" if request.method == "HEAD" else body)


def playground_response(request: HttpRequest, *, mode: Mode = "local",
                        model: str | None = None) -> HttpResponse | None:
    """The page's answer to ``request``, or ``None`` when the request is not the page's."""
    if request.method not in ("GET", "HEAD"):
        return None
    path = request.path
    if path == "/":
        return _reply(request, STATIC_FILES["index.html"], static_file("index.html"))
    if not path.startswith(PREFIX):
        return None
    name = path[len(PREFIX):]
    if name == "config.json":
        config = {"mode": mode, "model": model}
        return _reply(request, "application/json", json.dumps(config).encode("utf-8"))
    if name in STATIC_FILES:
        return _reply(request, STATIC_FILES[name], static_file(name))
    return None


__all__ = ["CONTENT_SECURITY_POLICY", "STATIC_FILES", "Mode", "playground_response",
           "static_file"]
