"""The playground's routes without a browser: the allow-list, content types, the security
headers, and that every file the page loads is shipped (so the wheel carries it)."""

from __future__ import annotations

import re

import pytest

from reactor_anyio.playground import STATIC_FILES, playground_response, static_file
from reactor_proto.http import HttpRequest

BASE = "http://127.0.0.1:8080"


def get(path: str, method: str = "GET") -> HttpRequest:
    return HttpRequest(method=method, url=f"{BASE}{path}")


def test_root_is_the_page_with_a_strict_policy() -> None:
    response = playground_response(get("/"))
    assert response is not None and response.status == 200
    assert response.header("Content-Type") == "text/html; charset=utf-8"
    policy = response.header("Content-Security-Policy") or ""
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "connect-src 'self'" in policy and "http" not in policy
    assert response.header("X-Content-Type-Options") == "nosniff"
    assert response.body == static_file("index.html")


@pytest.mark.parametrize("name", sorted(STATIC_FILES))
def test_every_allowed_file_is_shipped(name: str) -> None:
    response = playground_response(get(f"/playground/{name}"))
    assert response is not None and response.status == 200
    assert response.header("Content-Type") == STATIC_FILES[name]
    assert response.body


@pytest.mark.parametrize("path", [
    "/playground/", "/playground/../__init__.py", "/playground/%2e%2e/__init__.py",
    "/playground/__init__.py", "/playground/static/app.js", "/playground/app.js/",
    "/playground//app.js", "/index.html", "/start_session", "/session", "/health",
])
def test_other_paths_go_to_the_core(path: str) -> None:
    assert playground_response(get(path)) is None


def test_only_get_and_head() -> None:
    assert playground_response(get("/", "POST")) is None
    head = playground_response(get("/playground/app.js", "HEAD"))
    assert head is not None and head.status == 200 and head.body == b""


def test_config_names_the_flow_and_never_a_key() -> None:
    local = playground_response(get("/playground/config.json"))
    assert local is not None and local.body == b'{"mode": "local", "model": null}'
    remote = playground_response(get("/playground/config.json"), mode="coordinator",
                                 model="helios")
    assert remote is not None and b'"coordinator"' in remote.body


def test_the_page_loads_only_allowed_same_origin_files() -> None:
    """Every module, style sheet and import names an allow-listed local file."""
    html = static_file("index.html").decode()
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    for name in STATIC_FILES:
        if name.endswith(".js"):
            refs += [f"/playground/{m}" for m in
                     re.findall(r'from "\./([^"]+)"', static_file(name).decode())]
    for ref in refs:
        if ref == "data:,":
            continue
        assert ref.startswith("/playground/"), ref
        assert ref.removeprefix("/playground/") in STATIC_FILES, ref


def test_model_strings_never_meet_inner_html() -> None:
    for name in STATIC_FILES:
        if name.endswith(".js"):
            text = static_file(name).decode()
            assert "innerHTML" not in text and "insertAdjacentHTML" not in text, name
            assert "document.write" not in text and "eval(" not in text, name
