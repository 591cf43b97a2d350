#!/usr/bin/env bash
# What tests/browser needs, installed idempotently (each step is skipped when already done):
#   * Debian's chromium (/usr/bin/chromium): the test drives the system browser, it never
#     downloads one (playwright's own browser download is not used);
#   * node and npm (Debian's, only if the machine has none);
#   * the pinned official JS SDK and esbuild: `npm ci` in tests/browser/js;
#   * playwright for Python: part of the `dev` extra, installed by scripts/bootstrap.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "$@" >/dev/null
}

if [ ! -x /usr/bin/chromium ]; then
  echo "browser_deps: installing chromium (Debian package)"
  apt_install chromium
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "browser_deps: installing nodejs and npm (Debian packages)"
  apt_install nodejs npm
fi

js=tests/browser/js
if [ ! -f "$js/node_modules/.package-lock.json" ] \
    || [ "$js/package-lock.json" -nt "$js/node_modules/.package-lock.json" ]; then
  echo "browser_deps: npm ci in $js"
  (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
fi

bash scripts/bootstrap.sh
.venv/bin/python -c 'import playwright.sync_api'
