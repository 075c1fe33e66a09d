#!/usr/bin/env bash
# Makes a headless browser available to the dashboard's browser test: Debian's chromium and
# chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver), installed when missing and
# running as root. Where that is impossible the test skips itself and says how to install them.
#
# Idempotent; never fails the build. Usage: scripts/install-browser.sh
set -uo pipefail

say() { echo "install-browser: $*"; }

if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  say "chromium and chromedriver present ($(chromium --version 2>/dev/null | head -1))"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  say "no browser: install Debian's chromium and chromium-driver as root"
  say "  (apt-get install chromium chromium-driver); the dashboard browser test skips until then"
  exit 0
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
say "installing the Debian packages chromium and chromium-driver"
# apt's own output names its mirrors: keep it in the log, shown to nobody.
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >"$log" 2>&1; then
  apt-get update -q >"$log" 2>&1 || true
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >"$log" 2>&1; then
    say "apt-get install chromium chromium-driver failed; the dashboard browser test will skip"
    exit 0
  fi
fi
say "installed $(chromium --version 2>/dev/null | head -1)"
