#!/usr/bin/env bash
# Installs Debian's Chromium for the viewer test (the share service's page opened in a real
# headless browser). Needs root and apt; does nothing when chromium is already there.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-browser: chromium is missing and cannot be installed here (needs root and apt-get); the viewer test will be skipped" >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
chromium --version
