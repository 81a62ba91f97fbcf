#!/usr/bin/env bash
# Serve the platform with gunicorn on 127.0.0.1:PORT (HOST overrides the address).
# WORKERS processes (default 2) with THREADS threads each (default 2); ACCESS_LOG="" silences the log.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${1:-${PORT:-5000}}"
WORKERS="${2:-${WORKERS:-2}}"
THREADS="${THREADS:-2}"
HOST="${HOST:-127.0.0.1}"
export SCHEDULER="${SCHEDULER:-true}"  # supervision and fallback rounds; one runner at a time by advisory lock
export WARM_CACHES="${WARM_CACHES:-true}"  # build the ownership index and geocoder when a worker starts
LOG=(--access-logfile "${ACCESS_LOG--}")
[ -z "${ACCESS_LOG-x}" ] && LOG=()
echo "serving on http://$HOST:$PORT (Ctrl-C stops it; 'make stop' stops the embedded database)"
exec "$ROOT/.venv/bin/gunicorn" --chdir "$ROOT" --bind "$HOST:$PORT" --workers "$WORKERS" \
  --worker-class gthread --threads "$THREADS" "${LOG[@]}" --timeout 60 "app:create_app()"
