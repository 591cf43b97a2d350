"""The playground page (``GET /`` of ``reactor serve``) in headless Chromium.

The page speaks the protocol itself with the browser's RTCPeerConnection: connect, watch the
video advance, send commands through the forms generated from the model's schema, read the
message log, disconnect, and the runtime is back to READY.  The console must hold no error.
``REACTOR_SAVE_SCREENSHOT=1`` also stores the Helios screenshot as docs/assets/playground.png.
"""

from __future__ import annotations

import os
import shutil
import urllib.request
from pathlib import Path

import pytest

from .harness import ROOT, Runtime, browser_page
from .playground_helpers import (
    camera_page,
    connect,
    disconnect,
    distinct_frames,
    log_entries,
    require_browser,
    submit,
    video_changes,
    wait_log,
    wait_runtime_state,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(180)]

SCREENSHOT = ROOT / "docs" / "assets" / "playground.png"


@pytest.fixture(autouse=True)
def _browser() -> None:
    require_browser()


def test_page_is_served_with_a_strict_policy() -> None:
    runtime = Runtime("--model", "helios", "--fps", "10")
    try:
        with urllib.request.urlopen(f"{runtime.url}/", timeout=5) as response:
            assert response.headers["Content-Type"].startswith("text/html")
            policy = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "connect-src 'self'" in policy
        with urllib.request.urlopen(f"{runtime.url}/playground/app.js", timeout=5) as response:
            assert response.headers["Content-Type"].startswith("text/javascript")
        for path in ("/playground/../pyproject.toml", "/playground/%2e%2e/__init__.py",
                     "/playground/__init__.py", "/playground/"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"{runtime.url}{path}", timeout=5)
            assert refused.value.code == 404, path
    finally:
        runtime.stop()


def test_helios_in_the_playground(tmp_path: Path) -> None:
    runtime = Runtime("--model", "helios", "--fps", "15")
    try:
        with browser_page(f"{runtime.url}/") as (page, log):
            page.set_viewport_size({"width": 1400, "height": 900})
            connect(page)
            assert wait_runtime_state(runtime.url, "STREAMING") == "STREAMING"
            # forms come from the schema: required marks, bounds, an enum as a select
            assert page.locator('form[data-command="schedule_prompt"] .required').count() == 2
            assert page.get_attribute('form[data-command="schedule_prompt"] [name="chunk"]',
                                      "min") == "0"
            assert page.locator('form[data-command="set_image"] select').count() >= 1
            submit(page, "schedule_prompt", {"prompt": "a lighthouse at dusk", "chunk": "0"})
            submit(page, "start")
            wait_log(page, "message", "state ")
            samples = video_changes(page)
            assert distinct_frames(samples) >= 3, samples
            page.wait_for_selector("#stats dt", timeout=10_000)
            stats = page.inner_text("#stats")
            assert "framesPerSecond" in stats and "candidateType" in stats, stats
            page.evaluate("() => window.scrollTo(0, 0)")
            page.wait_for_timeout(400)
            shot = tmp_path / "playground.png"
            page.screenshot(path=str(shot))
            if os.environ.get("REACTOR_SAVE_SCREENSHOT") == "1":
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(shot, SCREENSHOT)
            sent = log_entries(page, "sent")
            assert any(s.startswith("schedule_prompt ") for s in sent), sent
            disconnect(page)
            assert wait_runtime_state(runtime.url, "READY") == "READY"
            page.wait_for_timeout(300)
            assert log.errors() == [], log.errors()
            assert page.locator("#error").is_hidden()
    finally:
        runtime.stop()


def test_echo_with_a_synthetic_canvas() -> None:
    runtime = Runtime("--model", "echo", "--fps", "15")
    try:
        with browser_page(f"{runtime.url}/") as (page, log):
            page.select_option("#source", "canvas")
            connect(page)
            wait_log(page, "sent", "published webcam (canvas)")
            samples = video_changes(page)
            assert distinct_frames(samples) >= 3, samples
            page.select_option('form[data-command="set_effect"] select[name="effect"]',
                               label='"mirror"')
            submit(page, "set_effect")
            wait_log(page, "message", 'effect {"effect":"mirror"}')
            disconnect(page)
            assert wait_runtime_state(runtime.url, "READY") == "READY"
            page.wait_for_timeout(300)
            assert log.errors() == [], log.errors()
    finally:
        runtime.stop()


def test_model_strings_are_text_never_markup(tmp_path: Path) -> None:
    runtime = Runtime("--model", "tests.browser.playground_models:Hostile")
    try:
        with browser_page(f"{runtime.url}/") as (page, log):
            connect(page)
            submit(page, "poke")
            wait_log(page, "message", "note ")
            upload = tmp_path / "hello.txt"
            upload.write_bytes(b"hello playground")
            page.set_input_files('form[data-command="load"] [name="file"]', str(upload))
            submit(page, "load")
            wait_log(page, "message", 'received {"name":"hello.txt","size":16}')
            # a command the model does not have: the runtime's commandRejected, shown as
            # the documented error text
            page.evaluate("() => window.playground.client.sendCommand('nope', {})")
            page.wait_for_selector("#error:not([hidden])", timeout=10_000)
            assert page.inner_text("#error").startswith("[gpu:COMMAND_REJECTED] nope: ")
            page.wait_for_timeout(300)
            assert page.evaluate("() => window.__pwned") is None
            assert page.locator("img, script:not([src])").count() == 0
            text = page.inner_text("body")
            assert '<img src=x onerror="window.__pwned=1">' in text
            assert "<script>window.__pwned=2</script>" in text  # a parameter's description
            disconnect(page)
            assert wait_runtime_state(runtime.url, "READY") == "READY"
            assert log.errors() == [], log.errors()
    finally:
        runtime.stop()


def test_echo_with_the_camera() -> None:
    """Chromium's fake camera (granted without a prompt) is published on ``webcam``."""
    runtime = Runtime("--model", "echo", "--fps", "15")
    try:
        with camera_page(f"{runtime.url}/") as (page, log):
            page.select_option("#source", "camera")
            connect(page)
            wait_log(page, "sent", "published webcam (camera)")
            assert distinct_frames(video_changes(page)) >= 3
            disconnect(page)
            assert wait_runtime_state(runtime.url, "READY") == "READY"
            page.wait_for_timeout(300)
            assert log.errors() == [], log.errors()
    finally:
        runtime.stop()
