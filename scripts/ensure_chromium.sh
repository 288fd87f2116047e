#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (/usr/bin/chromium) through Playwright; Playwright's own
# browser download does not work here. Installs the Debian packages only when Chromium is missing.
set -euo pipefail
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "Chromium is missing at $CHROMIUM: install it with sudo apt-get install -y chromium chromium-driver" >&2
    exit 2
fi
echo "Installing Debian packages: chromium chromium-driver"
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
[ -x "$CHROMIUM" ] || { echo "Chromium did not install at $CHROMIUM" >&2; exit 2; }
