#!/usr/bin/env bash
# Run a command with MQTT_URL set. Without MQTT_URL, the embedded mosquitto (scripts/mqtt.sh) is started and used.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${MQTT_URL:-}" ]; then
  "$ROOT/scripts/mqtt.sh" start >&2
  MQTT_URL="$("$ROOT/scripts/mqtt.sh" url)"
  export MQTT_URL
fi
exec "$@"
