#!/usr/bin/env bash
# The main job: the demo on the built-in local runtime.  Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/reactor --help
