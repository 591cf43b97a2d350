"""``reactor serve`` as a subprocess: the ready line, /health, clean exit on signals."""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reactor_anyio.http import HttpClient
from reactor_anyio.runtime import add_serve_parser
from reactor_anyio.runtime.cli import _model_options

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
SERVE = (
    "import argparse, sys\n"
    "from reactor_anyio.runtime import add_serve_parser, run_serve\n"
    "parser = argparse.ArgumentParser(prog='reactor')\n"
    "add_serve_parser(parser.add_subparsers(dest='command'))\n"
    "sys.exit(run_serve(parser.parse_args(sys.argv[1:])))\n"
)
READY = re.compile(r"^listening on http://127\.0\.0\.1:(\d+)$")


@pytest.fixture
def anyio_backend() -> str:
    """asyncio only: ``reactor serve`` runs in a subprocess, so the test's own event loop
    only waits on it (backend-independent; a trio run would test nothing more)."""
    return "asyncio"


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", SERVE, "serve", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def parse(*args: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="reactor")
    add_serve_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve", *args])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_serve_prints_ready_line_answers_health_and_exits_on_signal(
        signum: signal.Signals) -> None:
    process = spawn("--port", "0", "--model", "echo", "--fps", "15")
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        match = READY.match(line)
        assert match, (line, process.stderr.read() if process.stderr else "")
        async with HttpClient() as http:
            response = await http.request_json(
                "GET", f"http://127.0.0.1:{match.group(1)}/health", timeout=5)
        assert response.status == 200
        assert json.loads(response.body) == {"status": "healthy", "model": "echo",
                                             "state": "READY"}
        started = time.monotonic()
        process.send_signal(signum)
        assert process.wait(timeout=5) == 0
        assert time.monotonic() - started < 5
        assert process.stdout.read() == ""  # the ready line is printed exactly once
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_refuses_bad_configuration_with_exit_code_2() -> None:
    for args in (("--model", "no_such_model"), ("--port-range", "50000-50100")):
        process = spawn("--port", "0", *args)
        _, stderr = process.communicate(timeout=20)
        assert process.returncode == 2, stderr
        assert stderr.startswith("reactor serve: ")


def test_serve_arguments() -> None:
    args = parse("--ice-server", "stun:a:1", "--ice-server", "turn:b:2", "--width", "320",
                 "--height", "180", "--fps", "12", "--port-range", "4000-4010",
                 "--orphan-timeout", "5", "--ping-timeout", "0")
    assert args.ice_server == ["stun:a:1", "turn:b:2"]
    assert args.port_range == (4000, 4010)
    assert (args.orphan_timeout, args.ping_timeout) == (5.0, 0.0)
    assert _model_options(args) == {"width": 320, "height": 180, "fps": 12.0}
    defaults = parse()
    assert (defaults.model, defaults.host, defaults.port) == ("helios", "127.0.0.1", 8080)
    assert _model_options(defaults) == {}
    for bad in ("10-5", "x-y", "80", "0-10"):
        with pytest.raises(SystemExit):
            parse("--port-range", bad)
