#!/usr/bin/env bash
# The whole test suite: unit + property + end-to-end tests with branch coverage of the core,
# then every fuzz harness for a bounded number of inputs.  Installs what it needs first (the
# venv, and chromium + the official JS SDK for tests/browser).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/browser_deps.sh
bash scripts/audio_device_deps.sh
py=.venv/bin/python
$py -m coverage erase
$py -m coverage run -m pytest "$@"
$py -m coverage report --fail-under=95
$py fuzz/run.py --runs "${FUZZ_RUNS:-8000}"
