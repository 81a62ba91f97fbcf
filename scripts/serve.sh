#!/usr/bin/env bash
# Serve the platform with gunicorn on 127.0.0.1:PORT (HOST overrides the address).
# WORKERS processes (default 2); ACCESS_LOG="" silences the log. WORKER_CLASS gevent (default: each worker holds
# WORKER_CONNECTIONS open connections, so the consoles' event streams do not take a thread each; measured in
# bench/bench_push.py and the README) or gthread (THREADS threads each, default 2).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${1:-${PORT:-5000}}"
WORKERS="${2:-${WORKERS:-2}}"
THREADS="${THREADS:-2}"
WORKER_CLASS="${WORKER_CLASS:-gevent}"
if [ "${WORKER_CLASS#gevent}" != "$WORKER_CLASS" ]; then  # gevent or gevent_pywsgi
  CLASS=(--worker-class "$WORKER_CLASS" --worker-connections "${WORKER_CONNECTIONS:-1000}")
else
  CLASS=(--worker-class gthread --threads "$THREADS")
fi
HOST="${HOST:-127.0.0.1}"
export SCHEDULER="${SCHEDULER:-true}"  # supervision and fallback rounds; one runner at a time by advisory lock
export WARM_CACHES="${WARM_CACHES:-true}"  # build the ownership index and geocoder when a worker starts
LOG=(--access-logfile "${ACCESS_LOG--}")
[ -z "${ACCESS_LOG-x}" ] && LOG=()
# Beside the web server: the sensor subscriber (with MQTT_URL) and the outbox sender (with DISTRICT_WEBHOOK_URL),
# one process each; each holds an advisory lock, so a second host's copies wait as standbys. SENSORS=false,
# DISTRICT_SENDER=false leave them out.
CHILDREN=()
if [ -n "${MQTT_URL:-}" ] && [ "${SENSORS:-true}" = true ]; then
  (cd "$ROOT" && exec .venv/bin/flask --app app sensors subscribe) & CHILDREN+=($!)
fi
if [ -n "${DISTRICT_WEBHOOK_URL:-}" ] && [ "${DISTRICT_SENDER:-true}" = true ]; then
  (cd "$ROOT" && exec .venv/bin/flask --app app district send) & CHILDREN+=($!)
fi
echo "serving on http://$HOST:$PORT (Ctrl-C stops it; 'make stop' stops the embedded database and broker)"
WEB=("$ROOT/.venv/bin/gunicorn" --chdir "$ROOT" --bind "$HOST:$PORT" --workers "$WORKERS"
     "${CLASS[@]}" "${LOG[@]}" --timeout 60 "app:create_app()")
if [ ${#CHILDREN[@]} -eq 0 ]; then
  exec "${WEB[@]}"  # nothing beside it: this process becomes gunicorn's master (bench/reliability.py relies on it)
fi
"${WEB[@]}" & MASTER=$!
# INT or TERM (Ctrl-C, a service manager) stops the web server and the processes beside it
trap 'kill -TERM "$MASTER" "${CHILDREN[@]}" 2>/dev/null || true' INT TERM
set +e
wait "$MASTER"; status=$?
kill -TERM "${CHILDREN[@]}" 2>/dev/null
wait "$MASTER" "${CHILDREN[@]}" 2>/dev/null
exit "$status"
