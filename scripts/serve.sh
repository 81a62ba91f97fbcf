#!/usr/bin/env bash
# Serve the platform with gunicorn on 127.0.0.1:PORT (HOST overrides the address).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${1:-${PORT:-5000}}"
WORKERS="${2:-2}"
HOST="${HOST:-127.0.0.1}"
echo "serving on http://$HOST:$PORT (Ctrl-C stops it; 'make stop' stops the embedded database)"
exec "$ROOT/.venv/bin/gunicorn" --chdir "$ROOT" --bind "$HOST:$PORT" --workers "$WORKERS" \
  --access-logfile - --timeout 60 "app:create_app()"
