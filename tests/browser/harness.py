"""Pieces of the browser test: the tools it needs, the SDK bundle, a static server for the
page, ``reactor serve`` as a subprocess and a headless Chromium recording its console.

Nothing here contacts an outside host: the page, the bundle and the runtime are all served
on 127.0.0.1 with ports chosen by the OS, and the browser runs with no ICE servers.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
JS = HERE / "js"
BUNDLE = JS / "dist" / "sdk.js"
CHROMIUM = Path(os.environ.get("REACTOR_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
READY = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
SERVE = "import sys\nfrom reactor_anyio.cli import main\nsys.exit(main())\n"


def missing_tools() -> list[str]:
    """What this machine lacks to run the browser test (empty when all is there)."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if shutil.which("node") is None or shutil.which("npm") is None:
        missing.append("node and npm")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package (pip install -e '.[dev]')")
    return missing


def build_bundle() -> Path:
    """``npm ci`` when node_modules is missing, then bundle the SDK's imperative API into one
    ES module (the package imports bare specifiers, which a page cannot resolve)."""
    if not (JS / "node_modules" / "@reactor-team" / "js-sdk").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, check=True,
                       stdout=subprocess.DEVNULL)
    entry = JS / "entry.mjs"
    inputs = (entry, JS / "package-lock.json", JS / "node_modules" / ".package-lock.json")
    newest = max(path.stat().st_mtime for path in inputs if path.exists())
    if not BUNDLE.exists() or BUNDLE.stat().st_mtime < newest:
        subprocess.run([str(JS / "node_modules" / ".bin" / "esbuild"), str(entry), "--bundle",
                        "--format=esm", "--platform=browser", "--log-level=warning",
                        "--define:process.env.NODE_ENV=\"production\"",
                        f"--outfile={BUNDLE}"], cwd=JS, check=True)
    return BUNDLE


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_server() -> Iterator[str]:
    """Serve page.html and the bundle (as /sdk.js) on 127.0.0.1, port 0; yields the base URL."""
    root = Path(tempfile.mkdtemp(prefix="reactor-page-"))
    shutil.copy(HERE / "page.html", root / "index.html")
    shutil.copy(BUNDLE, root / "sdk.js")
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="page-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(root, ignore_errors=True)


class Runtime:
    """``reactor serve --port 0`` in a subprocess; ``url`` once it printed its ready line."""

    def __init__(self, *args: str) -> None:
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, "serve", "--port", "0", *args], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = READY.search(line)
        if match is None:
            self.stop()
            raise RuntimeError(f"reactor serve did not start: {line!r} {self.stderr()}")
        self.url = match.group(1)

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self, timeout: float = 15.0) -> int:
        return stop_process(self.process, timeout)


def stop_process(process: subprocess.Popen[str], timeout: float = 15.0) -> int:
    """SIGTERM (a graceful stop, as a user's Ctrl-C), then kill after ``timeout``; closes the
    pipe the server's address was read from."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
    finally:
        assert process.stdout is not None
        process.stdout.close()


class ConsoleLog:
    """Every console message and page error of one browser page."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []

    def add(self, kind: str, text: str) -> None:
        self.entries.append((kind, text))

    def mark(self) -> int:
        return len(self.entries)

    def errors(self, since: int = 0) -> list[str]:
        """Errors and page errors, plus any data channel error whatever its level."""
        return [text for kind, text in self.entries[since:]
                if kind in ("error", "pageerror") or "Data channel error" in text]

    def warnings(self, since: int = 0) -> list[str]:
        return [text for kind, text in self.entries[since:] if kind == "warning"]


@contextmanager
def browser_page(page_url: str) -> Iterator[tuple[Any, ConsoleLog]]:
    """A fresh headless Chromium (own user-data-dir) with the test page loaded."""
    from playwright.sync_api import sync_playwright

    log = ConsoleLog()
    profile = tempfile.mkdtemp(prefix="reactor-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True,
                args=list(CHROMIUM_FLAGS), ignore_default_args=["--enable-automation"])
            try:
                page = context.pages[0] if context.pages else context.new_page()
                page.on("console", lambda msg: log.add(msg.type, msg.text))
                page.on("pageerror", lambda exc: log.add("pageerror", str(exc)))
                page.goto(page_url)
                page.wait_for_function("window.pageReady === true", timeout=15_000)
                yield page, log
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
