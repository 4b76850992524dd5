#!/usr/bin/env bash
# The test command: the whole suite, including the real-browser and real-process tests.
#
# The browser test drives Debian's chromium. When it is missing and we may install it
# (root with apt), install it; otherwise the browser test skips locally and fails in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the browser test..." >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
exec .venv/bin/pytest -q "$@"
