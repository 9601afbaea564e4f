#!/usr/bin/env bash
# Installs Debian's PostgreSQL for the share service's PostgreSQL tests (a real server, started by
# the tests themselves as the unprivileged postgres user in a temporary directory: nothing here
# starts or configures a cluster). Needs root and apt; does nothing when initdb is already there.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && id postgres >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-postgres: PostgreSQL is missing and cannot be installed here (needs root and apt-get); its tests will be skipped" >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
# Debian's package starts a cluster of its own; the tests do not use it.
if command -v pg_ctlcluster >/dev/null 2>&1; then
  for version in /usr/lib/postgresql/*; do
    pg_ctlcluster "$(basename "$version")" main stop >/dev/null 2>&1 || true
  done
fi
ls /usr/lib/postgresql/*/bin/initdb
