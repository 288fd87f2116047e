#!/usr/bin/env bash
# Installs the Debian tools the suite drives (docker-compose validates the compose file) when missing.
set -euo pipefail
missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "Missing Debian packages: ${missing[*]} — install them: sudo apt-get install -y ${missing[*]}" >&2
        exit 2
    fi
    echo "Installing Debian packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
