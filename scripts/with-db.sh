#!/usr/bin/env bash
# Run a command with DATABASE_URL and SECRET_KEY set. Without DATABASE_URL, the embedded
# PostGIS (scripts/pg.sh) is started and used.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${DATABASE_URL:-}" ]; then
  "$ROOT/scripts/pg.sh" start >&2
  DATABASE_URL="$("$ROOT/scripts/pg.sh" url)"
  export DATABASE_URL
fi
if [ -z "${SECRET_KEY:-}" ]; then
  # One key shared by every worker and kept across restarts, so sessions survive both.
  mkdir -p "$ROOT/var"
  [ -s "$ROOT/var/secret_key" ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$ROOT/var/secret_key")
  SECRET_KEY="$(cat "$ROOT/var/secret_key")"
  export SECRET_KEY
fi
exec "$@"
