#!/usr/bin/env bash
# Installs Debian's sqlite3 command-line tool: the storage-retry tests hold OpenCode's database
# write-locked with it (@plue/testing's DbLock). Needs root and apt; does nothing when it is there.
set -euo pipefail
if command -v sqlite3 >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-sqlite3: sqlite3 is missing and cannot be installed here (needs root and apt-get)" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3 >/dev/null
sqlite3 --version
