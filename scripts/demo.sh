#!/usr/bin/env bash
# The main job: the demo on the built-in local runtime.  Installs what it needs first.
# Writes demo-out/demo.mp4 and demo-out/contact_sheet.png (also copied into the docs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/reactor demo --out demo-out --copy-sheet docs/assets/contact_sheet.png "$@"
