"""Fixtures of the browser test: skipped with a reason when chromium, node or playwright is
missing, except under CI (``CI=true``), where a missing tool fails the test instead."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .harness import build_bundle, missing_tools, static_server


def _require_tools() -> None:
    missing = missing_tools()
    if not missing:
        return
    message = ("browser test needs " + ", ".join(missing)
               + "; run `bash scripts/browser_deps.sh`")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def page_url() -> Iterator[str]:
    """The test page (with the bundled SDK) served on 127.0.0.1."""
    _require_tools()
    build_bundle()
    with static_server() as url:
        yield url
