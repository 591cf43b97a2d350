#!/usr/bin/env bash
# The wheel stands alone: build it, install it without extras into a fresh venv outside the
# checkout, and run the demo from there.  Catches an import the package makes but does not
# declare (a dependency another package used to pull in) and any file the wheel leaves out.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m pip wheel --no-deps -q --disable-pip-version-check -w "$work/dist" "$here" \
  2>&1 | grep -v 'is ignored: it is neither a file nor a directory' || true
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check "$work"/dist/*.whl 2>&1 \
  | grep -v 'is ignored: it is neither a file nor a directory' || true
cd "$work"   # outside the checkout: nothing can be imported from the source tree
"$work/venv/bin/python" -c 'import reactor_proto, reactor_anyio, reactor_trio_compat'
"$work/venv/bin/reactor" demo --seconds 3 --out "$work/out"
test -s "$work/out/demo.mp4"
test -s "$work/out/contact_sheet.png"
echo "wheel check: installed alone, imported, demo ran"
