"""The official JS SDK in headless Chromium against ``reactor serve``: no console error.

Each session connects (local flow), waits for READY and a playing video, sends a command,
waits for a model message and ends; the browser console must hold no error, and in
particular no ``[WebRTCTransport] Data channel error`` (the runtime once aborted the SCTP
association while the SDK's data channel was still open; see ``PeerBase.close``).
"""

from __future__ import annotations

import time
import urllib.request
from typing import Any

import pytest

from .harness import Runtime, browser_page

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

SESSIONS = 10
TIMEOUT_MS = 20_000
COMMAND = {"command": "schedule_prompt", "args": {"prompt": "a lighthouse", "chunk": 0}}


def run_session(page: Any, url: str, end: str) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(
        "(options) => window.runSession(options)",
        {"url": url, "model": "helios", "end": end, "timeoutMs": TIMEOUT_MS, **COMMAND})
    return result


def settle(page: Any, seconds: float = 0.3) -> None:
    """Let late events (a data channel error arrives after the HTTP answer) reach the log."""
    page.wait_for_timeout(int(seconds * 1000))


def test_sdk_sessions_leave_a_clean_console(page_url: str) -> None:
    runtime = Runtime("--model", "helios", "--fps", "15")
    try:
        with browser_page(page_url) as (page, log):
            dirty = []
            started = time.monotonic()
            for index in range(SESSIONS):
                mark = log.mark()
                seen = run_session(page, runtime.url, "disconnect")
                settle(page)
                assert seen["errors"] == [], (index, seen)
                if log.errors(mark):
                    dirty.append(index)
            elapsed = time.monotonic() - started
            print(f"{SESSIONS} sessions in {elapsed:.1f} s; sessions with a console error: "
                  f"{len(dirty)} {dirty}; warnings: {log.warnings()}")
            assert log.errors() == [], (dirty, log.errors())
    finally:
        runtime.stop()


def test_browser_closing_first_leaves_a_clean_console(page_url: str) -> None:
    """The browser drops its transport without stop_session (a recoverable disconnect).
    The first session is left to the runtime's orphan timeout, the others are then
    stopped by the SDK (stop_session) at once."""
    orphan = 2.0  # not shorter: the timer also runs between start_session and the offer
    runtime = Runtime("--model", "helios", "--fps", "15", "--orphan-timeout", str(orphan))
    try:
        with browser_page(page_url) as (page, log):
            for index in range(3):
                seen = run_session(page, runtime.url, "transport")
                assert seen["errors"] == [], (index, seen)
                settle(page, orphan + 0.5 if index == 0 else 0.3)
                page.evaluate("() => window.finishSession()")
                settle(page)
            assert log.errors() == [], log.errors()
    finally:
        runtime.stop()


@pytest.mark.parametrize("how", ["sigterm", "stop_session"])
def test_runtime_ending_the_session_leaves_a_clean_console(page_url: str, how: str) -> None:
    """The runtime ends a live session: ``reactor serve`` stopped by SIGTERM, or the
    session stopped over HTTP by someone else than the SDK (as an operator would)."""
    runtime = Runtime("--model", "helios", "--fps", "15")
    try:
        with browser_page(page_url) as (page, log):
            run_session(page, runtime.url, "none")
            if how == "sigterm":
                assert runtime.stop() == 0, runtime.stderr()
            else:
                request = urllib.request.Request(f"{runtime.url}/stop_session", data=b"",
                                                 method="POST")
                with urllib.request.urlopen(request, timeout=10) as answer:
                    assert answer.status == 200
            page.evaluate("() => window.waitDown()")
            settle(page)
            print(f"{how}: {[text for _, text in log.entries[-4:]]}")
            assert log.errors() == [], log.errors()
    finally:
        runtime.stop()
