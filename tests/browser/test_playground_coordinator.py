"""The playground page on the coordinator emulator's ``/``: the production flow, with a key
the user types into the page (exchanged for a JWT through ``POST /tokens``)."""

from __future__ import annotations

import urllib.request

import pytest

from .harness import browser_page
from .playground_helpers import (
    Coordinator,
    connect,
    disconnect,
    distinct_frames,
    require_browser,
    submit,
    video_changes,
    wait_log,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(180)]

KEY = "rk_playground_test_key"


def test_coordinator_playground_with_a_typed_key() -> None:
    require_browser()
    coordinator = Coordinator(KEY, "--model", "helios")
    try:
        with urllib.request.urlopen(f"{coordinator.url}/playground/config.json") as response:
            config = response.read().decode()
        assert KEY not in config and '"coordinator"' in config  # the page never gets a key
        with browser_page(f"{coordinator.url}/") as (page, log):
            assert page.is_visible("#api-key")
            page.fill("#api-key", KEY)
            connect(page)
            submit(page, "schedule_prompt", {"prompt": "a harbour at night", "chunk": "0"})
            submit(page, "start")
            wait_log(page, "message", "state ")
            assert distinct_frames(video_changes(page)) >= 3
            disconnect(page)
            page.wait_for_timeout(300)
            assert log.errors() == [], log.errors()
    finally:
        coordinator.stop()
