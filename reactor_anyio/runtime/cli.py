"""``reactor serve``: run a :class:`LocalRuntime` until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

from reactor_proto.errors import ReactorError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def _port_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        bounds = (int(low), int(high))
    except ValueError:
        bounds = (0, 0)
    if not sep or not 1 <= bounds[0] <= bounds[1] <= 65535:
        raise argparse.ArgumentTypeError(f"--port-range: expected MIN-MAX within 1-65535, "
                                         f"got {text!r}")
    return bounds


def add_serve_parser(subparsers: Any) -> None:
    """Add the ``serve`` sub-command to an ``argparse`` sub-parsers object."""
    parser = subparsers.add_parser(
        "serve", help="run the local runtime serving one model",
        description="Serve one model over the Reactor local protocol (official clients "
                    "connect with local=True to http://localhost:8080).")
    parser.add_argument("--model", default="helios",
                        help="helios, echo or package.module:Class (default: helios)")
    parser.add_argument("--host", default=DEFAULT_HOST, help="bind address (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (default: 8080)")
    parser.add_argument("--ice-server", action="append", default=[], metavar="URL",
                        help="STUN/TURN server for the runtime and its clients (repeatable); "
                             "none by default")
    parser.add_argument("--orphan-timeout", type=float, default=30.0, metavar="S",
                        help="reconnect grace after the last client leaves (0 disables)")
    parser.add_argument("--ping-timeout", type=float, default=20.0, metavar="S",
                        help="drop a connection that sent no ping for S seconds (<= 0 disables)")
    parser.add_argument("--ice-host-address", action="append", default=None, metavar="ADDR",
                        help="gather ICE host candidates on this address only (repeatable; "
                             "default: loopback when bound to loopback, else every address)")
    parser.add_argument("--port-range", type=_port_range, default=None, metavar="MIN-MAX",
                        help="UDP port range for ICE (not supported by aioice: refused)")
    parser.add_argument("--width", type=int, default=None, help="output width (model option)")
    parser.add_argument("--height", type=int, default=None, help="output height (model option)")
    parser.add_argument("--fps", type=float, default=None, help="frame rate (model option)")
    parser.add_argument("--record", action=argparse.BooleanOptionalAction, default=True,
                        help="record the output video and serve clips (default: on)")
    parser.add_argument("--clip-max-seconds", type=float, default=300.0, metavar="S",
                        help="longest clip a request gets (default: 300)")
    parser.add_argument("--chunk-seconds", type=float, default=4.0, metavar="S",
                        help="recording chunk length (default: 4)")


def _model_options(args: argparse.Namespace) -> dict[str, Any]:
    return {key: value for key in ("width", "height", "fps")
            if (value := getattr(args, key, None)) is not None}


async def _serve(args: argparse.Namespace) -> None:
    from reactor_anyio.webrtc.heap import limit_arenas

    from .server import LocalRuntime

    limit_arenas()  # our own process: bound glibc's per-thread arenas (issue 21, heap.py)
    runtime = LocalRuntime(
        args.model, host=args.host, port=args.port, model_options=_model_options(args),
        orphan_timeout=args.orphan_timeout, ping_timeout=args.ping_timeout,
        ice_servers=tuple(args.ice_server), port_range=args.port_range,
        ice_host_addresses=getattr(args, "ice_host_address", None),
        record=getattr(args, "record", True),
        clip_max_seconds=getattr(args, "clip_max_seconds", 300.0),
        chunk_seconds=getattr(args, "chunk_seconds", 4.0))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with runtime:
            print(f"listening on {runtime.url}", flush=True)
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)


def run_serve(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; 0 on a clean stop, 2 on a configuration error."""
    try:
        asyncio.run(_serve(args))
    except ReactorError as exc:
        print(f"reactor serve: {exc.message}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"reactor serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0
