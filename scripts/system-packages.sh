#!/usr/bin/env bash
# Debian packages the tests use as real peers, installed when missing (root with apt):
#   chromium            the browser tests (Playwright drives Debian's chromium)
#   prometheus          the PromQL differential test and the remote-write test
#   monitoring-plugins  the Nagios-plugin check tests
#   dovecot-imapd       the help desk's IMAP tests (the tests start it as a plain process)
#   openssl             certificates for the TLS tests
#   smartmontools       the SMART parser test against the real smartctl
# No init system starts the installed servers here; on a machine with one, prometheus
# and dovecot may start their own services, which the tests do not use.
set -euo pipefail
packages=(chromium prometheus monitoring-plugins dovecot-imapd openssl smartmontools)
needed=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || needed+=("$package")
done
[ ${#needed[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing Debian packages (tests that need them will skip): ${needed[*]}" >&2
  exit 0
fi
echo "installing Debian packages for the tests: ${needed[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
