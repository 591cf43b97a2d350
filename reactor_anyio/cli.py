"""The ``reactor`` command line: ``serve``, ``coordinator`` and ``demo``."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    from .coordinator.cli import add_coordinator_parser
    from .demo import add_demo_parser
    from .runtime.cli import add_serve_parser
    from .typegen import add_typegen_parser

    parser = argparse.ArgumentParser(
        prog="reactor",
        description="Reactor realtime-video protocol tools (sans-IO core, anyio adapters).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_serve_parser(subparsers)
    add_coordinator_parser(subparsers)
    add_demo_parser(subparsers)
    add_typegen_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if opts.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if opts.command is None:
        parser.print_help()
        return 0
    if opts.command == "serve":
        from .runtime.cli import run_serve

        return run_serve(opts)
    if opts.command == "coordinator":
        from .coordinator.cli import run_coordinator

        return run_coordinator(opts)
    if opts.command == "typegen":
        from .typegen import run_typegen

        return run_typegen(opts)
    from .demo import run_demo_command

    return run_demo_command(opts)
