"""``reactor coordinator``: run the coordinator emulator until SIGINT/SIGTERM.

API keys come from ``--api-key`` (repeatable) or from the environment variable
``REACTOR_COORDINATOR_API_KEYS`` (comma-separated), which keeps them out of ``ps``.  Nothing
prints a key: not the banner, not the logs, not an error.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

import anyio

from reactor_proto.errors import ReactorError

ENV_API_KEYS = "REACTOR_COORDINATOR_API_KEYS"


def add_coordinator_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``coordinator`` sub-command to ``subparsers`` (from ``add_subparsers``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "coordinator", help="run the production-API emulator (tokens, sessions, GPU queue)",
        description="Emulate the Reactor coordinator on a local port, hosting in-process "
                    "runtimes; test apps without GPUs or real API keys.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8081, help="port (0 picks a free one)")
    parser.add_argument("--api-key", action="append", default=[], dest="api_keys",
                        metavar="KEY", help=f"an accepted API key (repeatable); or set "
                        f"{ENV_API_KEYS}=key1,key2")
    parser.add_argument("--model", default="helios", help="model served by every GPU")
    parser.add_argument("--gpus", type=int, default=1, help="number of runtime slots")
    parser.add_argument("--assign-delay", type=float, default=0.0, metavar="S",
                        help="seconds the scheduler takes to hand a session a free GPU")
    parser.add_argument("--max-session-seconds", type=float, default=None, metavar="S",
                        help="close sessions this long after creation")
    parser.add_argument("--orphan-timeout", type=float, default=30.0, metavar="S",
                        help="reconnect grace window of each runtime")
    parser.add_argument("--faults", default=None, metavar="FILE",
                        help="JSON fault plan (see docs/faults.md)")
    return parser


def _api_keys(args: argparse.Namespace) -> list[str]:
    keys = [key for key in args.api_keys if key.strip()]
    keys += [key.strip() for key in os.environ.get(ENV_API_KEYS, "").split(",") if key.strip()]
    return keys


async def serve_coordinator(args: argparse.Namespace, keys: list[str]) -> None:
    from .server import CoordinatorEmulator

    emulator = CoordinatorEmulator(
        api_keys=keys, model=args.model, gpus=args.gpus, assign_delay=args.assign_delay,
        max_session_seconds=args.max_session_seconds, faults=args.faults, host=args.host,
        port=args.port, orphan_timeout=args.orphan_timeout)
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with emulator:
            print(f"listening on {emulator.url}", flush=True)
            async for _ in signals:
                break


def run_coordinator(args: argparse.Namespace) -> int:
    """Entry point of ``reactor coordinator``; returns the process exit status."""
    keys = _api_keys(args)
    if not keys:
        print(f"reactor coordinator: at least one --api-key (or {ENV_API_KEYS}) is required",
              file=sys.stderr)
        return 2
    try:
        anyio.run(serve_coordinator, args, keys)
    except (ReactorError, OSError, ValueError) as exc:
        # Messages name fields and files, never a key (keys are only compared, not shown).
        print(f"reactor coordinator: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130
    return 0
