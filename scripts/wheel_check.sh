#!/usr/bin/env bash
# The wheel stands alone: build it, install it without extras into a fresh venv outside the
# checkout, and run the demo from there.  Catches an import the package makes but does not
# declare (a dependency another package used to pull in) and any file the wheel leaves out.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)
work=$(mktemp -d)
serve_pid=""
trap '[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null; rm -rf "$work"' EXIT
.venv/bin/python -m pip wheel --no-deps -q --disable-pip-version-check -w "$work/dist" "$here" \
  2>&1 | grep -v 'is ignored: it is neither a file nor a directory' || true
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check "$work"/dist/*.whl 2>&1 \
  | grep -v 'is ignored: it is neither a file nor a directory' || true
cd "$work"   # outside the checkout: nothing can be imported from the source tree
"$work/venv/bin/python" -c 'import reactor_proto, reactor_anyio, reactor_trio_compat'
# the packages serve their names lazily (issue 20): resolve every public name of every package
"$work/venv/bin/python" - <<'PY'
import importlib
import pkgutil

for top in ("reactor_proto", "reactor_anyio"):  # reactor_trio_compat needs the trio extra
    package = importlib.import_module(top)
    names = [top] + [m.name for m in pkgutil.walk_packages(package.__path__, top + ".")
                     if m.ispkg]
    for name in names:
        module = importlib.import_module(name)
        for attribute in getattr(module, "__all__", ()):
            getattr(module, attribute)
PY
"$work/venv/bin/reactor" demo --seconds 3 --out "$work/out"
test -s "$work/out/demo.mp4"
test -s "$work/out/contact_sheet.png"
# the playground page (package data) is served from the installed wheel
"$work/venv/bin/reactor" serve --port 0 --fps 5 >"$work/serve.out" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$work/serve.out" && break; sleep 0.2; done
url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/serve.out" | head -1)
"$work/venv/bin/python" - "$url" <<'PY'
import sys
import urllib.request

from reactor_anyio.playground import STATIC_FILES

base = sys.argv[1]
for path in ["/", *(f"/playground/{name}" for name in STATIC_FILES)]:
    with urllib.request.urlopen(base + path, timeout=10) as response:
        assert response.status == 200 and response.read(), path
PY
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=""
echo "wheel check: installed alone, imported, demo ran, playground served"
