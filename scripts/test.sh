#!/usr/bin/env bash
# The test command: the whole suite, including the real-browser and real-process tests.
#
# Some tests use real Debian programs (chromium, prometheus, dovecot, ...): they are
# installed when missing and we may (root with apt); otherwise those tests skip locally
# and fail in CI (CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-packages.sh
exec .venv/bin/pytest -q "$@"
