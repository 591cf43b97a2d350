"""Step timestamps of a connect, taken the same way in any aiortc client (figure 1).

Imported by our bench child *and* by ``bench/official_connect.py`` in ``.venv-official`` (so
it imports nothing of ours: the standard library, aiortc and aioice only).  :func:`install`
wraps the aiortc entry points every aiortc client goes through, and the caller wraps its own
HTTP client with :func:`wrap_http` (ours: ``reactor_anyio.http.HttpClient.request``; the
official client: ``aiohttp.ClientSession._request``).  Each wrapped call records
``(label, start, end)`` in ``time.monotonic()`` seconds; one-off moments (SCTP established, a
data channel open) record ``start == end``.  :func:`events` returns them relative to a
``t0`` (the ``connect()`` call) for the parent to tabulate.

Wrapping costs a few microseconds per call: it is the same for both clients.

It also times imports in fresh interpreters (:func:`alternating_imports`): figure 1's
"import of the client" rows, ours beside ``reactor_sdk`` 0.8.0's (issue 20).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

_events: list[tuple[str, float, float]] = []


def record(label: str, start: float, end: float | None = None) -> None:
    _events.append((label, start, start if end is None else end))


def reset() -> None:
    _events.clear()


def events(t0: float) -> list[tuple[str, float, float]]:
    """Recorded steps since ``t0``: ``(label, start ms, duration ms)``, in start order."""
    out = [(label, (start - t0) * 1000, (end - start) * 1000)
           for label, start, end in _events if start >= t0]
    return sorted(out, key=lambda e: e[1])


def _wrap_async(owner: Any, name: str, label: str | Callable[..., str]) -> None:
    original = getattr(owner, name)
    if getattr(original, "__probe__", False):
        return

    @functools.wraps(original)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            return await original(*args, **kwargs)
        finally:
            text = label(*args, **kwargs) if callable(label) else label
            record(text, start, time.monotonic())

    wrapper.__probe__ = True  # type: ignore[attr-defined]
    setattr(owner, name, wrapper)


def _wrap_sync(owner: Any, name: str, label: str, *, classmethod_: bool = False) -> None:
    original = getattr(owner, name)
    if getattr(original, "__probe__", False):
        return

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            return original(*args, **kwargs)
        finally:
            record(label, start, time.monotonic())

    timed.__probe__ = True  # type: ignore[attr-defined]
    if classmethod_:
        setattr(owner, name, staticmethod(timed))  # original is already bound to the class
    else:
        setattr(owner, name, functools.wraps(original)(timed))


def wrap_http(owner: Any, name: str, describe: Callable[..., str]) -> None:
    """Time ``owner.name`` (an async HTTP call) as ``"HTTP " + describe(*args)``."""
    _wrap_async(owner, name, lambda *a, **k: "HTTP " + describe(*a, **k))


def install() -> None:
    """Wrap aiortc's connect steps (idempotent)."""
    from aiortc import RTCPeerConnection, rtcdatachannel, rtcdtlstransport, rtcsctptransport
    from aiortc.rtcicetransport import RTCIceTransport

    _wrap_sync(rtcdtlstransport.RTCCertificate, "generateCertificate", "DTLS certificate",
               classmethod_=True)
    _wrap_async(RTCPeerConnection, "createOffer", "createOffer")
    _wrap_async(RTCPeerConnection, "setLocalDescription", "setLocalDescription (ICE gather)")
    _wrap_async(RTCPeerConnection, "setRemoteDescription", "setRemoteDescription")
    _wrap_async(RTCIceTransport, "start", "ICE checks")
    _wrap_async(rtcdtlstransport.RTCDtlsTransport, "start", "DTLS handshake")

    sctp = rtcsctptransport.RTCSctpTransport
    set_state = sctp._set_state
    if not getattr(set_state, "__probe__", False):
        def sctp_state(self: Any, state: Any) -> None:
            if str(getattr(state, "name", state)).upper().endswith("ESTABLISHED"):
                record("SCTP established", time.monotonic())
            set_state(self, state)

        sctp_state.__probe__ = True  # type: ignore[attr-defined]
        sctp._set_state = sctp_state  # type: ignore[method-assign]

    channel = rtcdatachannel.RTCDataChannel
    ready = channel._setReadyState
    if not getattr(ready, "__probe__", False):
        def channel_state(self: Any, state: str) -> None:
            if state == "open":
                record(f"channel open: {self.label}", time.monotonic())
            ready(self, state)

        channel_state.__probe__ = True  # type: ignore[attr-defined]
        channel._setReadyState = channel_state  # type: ignore[method-assign]


# ---- import time, fresh interpreters ----------------------------------------------------------

#: run by ``python -c`` in a fresh interpreter: ``{preload}`` first (outside the window), then
#: the timed ``{statement}``; prints the wall and CPU milliseconds spent in the statement (CPU
#: time is the steadier of the two on a loaded machine)
IMPORT_SNIPPET = ("import time\n{preload}\nstarted = time.perf_counter()\n"
                  "cpu = time.process_time()\n{statement}\n"
                  "print((time.perf_counter() - started) * 1000, "
                  "(time.process_time() - cpu) * 1000)")


def bytecode_env(env: dict[str, str], cache: str) -> dict[str, str]:
    """``env`` with bytecode caching on, the caches under ``cache`` (outside the tree).

    An installed package imports from its ``.pyc`` files (pip compiles them); a checkout run
    with ``PYTHONDONTWRITEBYTECODE=1`` recompiles every module of ours at each import while
    ``reactor_sdk``'s come compiled: timing imports that way measured the compiler, not the
    import (it doubled ours).  Run one untimed import per side first to fill the cache."""
    out = dict(env)
    out.pop("PYTHONDONTWRITEBYTECODE", None)
    out["PYTHONPYCACHEPREFIX"] = cache
    return out


def import_ms(python: str, statement: str, *, preload: str = "",
              env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU milliseconds ``statement`` takes in a fresh ``python`` (interpreter
    start-up and ``preload`` excluded: the same for every client)."""
    import subprocess

    code = IMPORT_SNIPPET.format(preload=preload, statement=statement)
    proc = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    wall, cpu = proc.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def alternating_imports(sides: dict[str, tuple[str, str]], trials: int, *, preload: str = "",
                        env: dict[str, str] | None = None
                        ) -> dict[str, list[tuple[float, float]]]:
    """``trials`` fresh-interpreter import times (wall, CPU) per side
    (``name -> (python, statement)``), after one untimed import each, the sides alternating
    ABBA so that machine load falls on both alike."""
    names = list(sides)
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for python, statement in sides.values():  # untimed: fills the bytecode caches
        import_ms(python, statement, preload=preload, env=env)
    for index in range(trials):
        for name in names if index % 2 == 0 else reversed(names):
            python, statement = sides[name]
            out[name].append(import_ms(python, statement, preload=preload, env=env))
    return out
