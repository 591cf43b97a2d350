"""Steps of the playground browser tests: drive the page served by ``reactor serve`` the way a
user would (buttons, generated forms) and read what it shows."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from typing import Any

import pytest

from .harness import CHROMIUM, stop_process

TIMEOUT_MS = 20_000

#: draws the <video> into a canvas and returns a cheap digest of its pixels
SAMPLE_VIDEO = """() => {
  const video = document.getElementById('video');
  if (!video.videoWidth) return null;
  const canvas = document.createElement('canvas');
  canvas.width = 64; canvas.height = 36;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(video, 0, 0, 64, 36);
  const data = ctx.getImageData(0, 0, 64, 36).data;
  let sum = 0, weighted = 0;
  for (let i = 0; i < data.length; i += 4) {
    const v = data[i] + data[i + 1] + data[i + 2];
    sum += v; weighted = (weighted + v * (i + 1)) % 1000000007;
  }
  return [sum, weighted, video.currentTime];
}"""


def require_browser() -> None:
    """Skip (fail under CI) without Debian's chromium or the playwright package."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package (pip install -e '.[dev]')")
    if not missing:
        return
    message = "playground test needs " + ", ".join(missing) + "; run `bash scripts/browser_deps.sh`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def wait_runtime_state(url: str, state: str, timeout: float = 10.0) -> str:
    """Poll ``GET /session`` until the runtime reports ``state``; returns the last one seen."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        seen = str(get_json(f"{url}/session").get("state"))
        if seen == state:
            return seen
        time.sleep(0.1)
    return seen


def connect(page: Any) -> None:
    page.click("#connect")
    page.wait_for_selector('#status[data-status="ready"]', timeout=TIMEOUT_MS)


def disconnect(page: Any) -> None:
    page.click("#disconnect")
    page.wait_for_selector('#status[data-status="disconnected"]', timeout=TIMEOUT_MS)


def submit(page: Any, command: str, values: dict[str, str] | None = None) -> None:
    """Fill a generated form's fields (by parameter name) and press its Send button."""
    form = f'form[data-command="{command}"]'
    page.wait_for_selector(form, timeout=TIMEOUT_MS)
    for name, value in (values or {}).items():
        page.fill(f'{form} [name="{name}"]', value)
    page.click(f"{form} button[type=submit]")


def log_entries(page: Any, kind: str | None = None) -> list[str]:
    entries: list[dict[str, str]] = page.evaluate("() => window.playground.state.log")
    return [e["text"] for e in entries if kind is None or e["kind"] == kind]


def wait_log(page: Any, kind: str, prefix: str) -> None:
    page.wait_for_function(
        "([kind, prefix]) => window.playground.state.log.some("
        "(e) => e.kind === kind && e.text.startsWith(prefix))",
        arg=[kind, prefix], timeout=TIMEOUT_MS)


def video_changes(page: Any, samples: int = 6, gap_ms: int = 300) -> list[Any]:
    """Wait for a decoded frame, then sample the video a few times; returns the samples."""
    page.wait_for_function(
        "() => { const v = document.getElementById('video');"
        " return v.videoWidth > 0 && v.currentTime > 0; }", timeout=TIMEOUT_MS)
    seen = []
    for _ in range(samples):
        seen.append(page.evaluate(SAMPLE_VIDEO))
        page.wait_for_timeout(gap_ms)
    return seen


def distinct_frames(samples: list[Any]) -> int:
    return len({(s[0], s[1]) for s in samples if s is not None})


class Coordinator:
    """``reactor coordinator --port 0`` in a subprocess (key given through the environment,
    so it never shows in ``ps``); ``url`` once it printed its ready line."""

    def __init__(self, key: str, *args: str) -> None:
        import subprocess
        import sys
        import tempfile

        from .harness import READY, ROOT, SERVE

        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in stop()
        env = {**os.environ, "REACTOR_COORDINATOR_API_KEYS": key}
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, "coordinator", "--port", "0", *args], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = READY.search(line)
        if match is None:
            self.stop()
            raise RuntimeError(f"reactor coordinator did not start: {line!r}")
        self.url = match.group(1)

    def stop(self, timeout: float = 15.0) -> int:
        try:
            return stop_process(self.process, timeout)
        finally:
            self.log.close()


FAKE_CAMERA_FLAGS = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")


def camera_page(page_url: str) -> Any:
    """Like ``harness.browser_page``, with Chromium's fake camera granted without a prompt."""
    import shutil
    import tempfile
    from contextlib import contextmanager

    from playwright.sync_api import sync_playwright

    from .harness import CHROMIUM_FLAGS, ConsoleLog

    @contextmanager
    def opened() -> Any:
        log = ConsoleLog()
        profile = tempfile.mkdtemp(prefix="reactor-chromium-")
        try:
            with sync_playwright() as pw:
                context = pw.chromium.launch_persistent_context(
                    profile, executable_path=str(CHROMIUM), headless=True,
                    args=[*CHROMIUM_FLAGS, *FAKE_CAMERA_FLAGS],
                    ignore_default_args=["--enable-automation"])
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

    return opened()
