#!/usr/bin/env bash
# Creates .venv (if needed) and installs this project with its test and trio extras.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,trio]' 2>&1 \
    | grep -v 'is ignored: it is neither a file nor a directory' || true
  .venv/bin/python -c 'import reactor_proto, reactor_anyio, aiortc, trio, hypothesis'
  rm -f .venv/.installed-*; touch "$stamp"
fi
