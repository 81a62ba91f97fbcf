#!/usr/bin/env bash
# Embedded MQTT broker (Debian's mosquitto) for the sensors, for development and tests.
#
#   scripts/mqtt.sh start     write the broker's configuration once, start it
#   scripts/mqtt.sh stop      stop it
#   scripts/mqtt.sh status    say whether it runs
#   scripts/mqtt.sh url       print the MQTT_URL of the broker (mqtt://user:password@127.0.0.1:port)
#
# The broker listens on 127.0.0.1:$EMBEDDED_MQTT_PORT (default 18839) only, with a user name and
# password (anonymous clients are refused): the password is generated once and kept in
# var/mqtt.password (mode 600). As root the broker drops to the `mosquitto` system user (the `user`
# option of its configuration; EMBEDDED_MQTT_USER overrides it), otherwise it runs as the invoking
# user. Its configuration, password file, pid file and log live in var/mqtt; when the checkout is not
# reachable by that user, in /var/tmp/nanhui-mqtt-<hash of the checkout path> (var/mqtt links to it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="$ROOT/var"
PORT="${EMBEDDED_MQTT_PORT:-18839}"
MQTT_USER="nanhui"
PWFILE="$VAR/mqtt.password"
LINK="$VAR/mqtt"
BROKER="${MOSQUITTO:-/usr/sbin/mosquitto}"

die() { echo "mqtt.sh: $*" >&2; exit 1; }

if [ "$(id -u)" = 0 ]; then
  RUNAS="${EMBEDDED_MQTT_USER:-mosquitto}"
  id "$RUNAS" >/dev/null 2>&1 || die "system user '$RUNAS' is missing (install mosquitto, or set EMBEDDED_MQTT_USER)"
  as_broker() { (cd / && runuser -u "$RUNAS" -- "$@"); }
else
  RUNAS="$(id -un)"
  as_broker() { "$@"; }
fi

run_dir() {
  if [ -L "$LINK" ]; then readlink "$LINK"; else echo "$LINK"; fi
}

choose_run_dir() {
  mkdir -p "$VAR"
  [ -e "$LINK" ] && return 0
  mkdir -p "$LINK"; chmod 700 "$LINK"
  [ "$(id -u)" != 0 ] && return 0
  chown "$RUNAS" "$LINK"
  if as_broker test -w "$LINK" -a -x "$LINK"; then return 0; fi
  rmdir "$LINK"
  local hash; hash="$(printf '%s' "$ROOT" | sha1sum | cut -c1-10)"
  local outside="/var/tmp/nanhui-mqtt-$hash"
  mkdir -p "$outside"; chown "$RUNAS" "$outside"; chmod 700 "$outside"
  ln -s "$outside" "$LINK"
  echo "mqtt.sh: $ROOT is not reachable by '$RUNAS'; broker files kept in $outside (var/mqtt links to it)"
}

password() {
  if [ ! -s "$PWFILE" ]; then
    mkdir -p "$VAR"
    (umask 077; head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$PWFILE")
  fi
  cat "$PWFILE"
}

pid() {
  local f; f="$(run_dir)/mosquitto.pid"
  [ -s "$f" ] && cat "$f"
}

is_running() {
  local p; p="$(pid 2>/dev/null)" || return 1
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && grep -q mosquitto "/proc/$p/comm" 2>/dev/null
}

configure() {
  local d; d="$(run_dir)"
  [ -x "$BROKER" ] || die "$BROKER not found (make system installs mosquitto)"
  # Written at every start: the port may have changed. The password file is made by mosquitto_passwd.
  local tmp; tmp="$(mktemp)"
  (umask 077; printf '%s:%s\n' "$MQTT_USER" "$(password)" > "$tmp")
  mosquitto_passwd -U "$tmp" >/dev/null 2>&1 || die "mosquitto_passwd failed"
  install -m 600 "$tmp" "$d/passwd"; rm -f "$tmp"
  cat > "$d/mosquitto.conf" <<EOF
# embedded broker (scripts/mqtt.sh); rewritten at every start
listener $PORT 127.0.0.1
allow_anonymous false
password_file $d/passwd
persistence false
pid_file $d/mosquitto.pid
log_dest file $d/mosquitto.log
log_type error
log_type warning
log_type notice
connection_messages true
max_queued_messages 100000
user $RUNAS
EOF
  chmod 600 "$d/mosquitto.conf"
  [ "$(id -u)" = 0 ] && chown "$RUNAS" "$d/passwd" "$d/mosquitto.conf"
  return 0
}

start() {
  choose_run_dir
  is_running && return 0
  configure
  local d; d="$(run_dir)"
  rm -f "$d/mosquitto.pid"
  # Started as root it opens the listener and drops to `user`; as another user the option is ignored.
  "$BROKER" -c "$d/mosquitto.conf" -d || { tail -20 "$d/mosquitto.log" >&2 2>/dev/null; die "mosquitto did not start"; }
  for _ in $(seq 50); do
    if is_running && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  tail -20 "$d/mosquitto.log" >&2 2>/dev/null
  die "mosquitto did not listen on 127.0.0.1:$PORT (log above)"
}

stop() {
  if is_running; then
    local p; p="$(pid)"
    kill "$p"
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    echo "mqtt.sh: stopped"
  else
    echo "mqtt.sh: not running"
  fi
}

case "${1:-}" in
  start) start; echo "mqtt.sh: mosquitto running on 127.0.0.1:$PORT (as $RUNAS)" ;;
  stop) stop ;;
  status) if is_running; then echo "running on 127.0.0.1:$PORT"; else echo "not running"; exit 3; fi ;;
  url) echo "mqtt://$MQTT_USER:$(password)@127.0.0.1:$PORT" ;;
  *) die "usage: scripts/mqtt.sh start|stop|status|url" ;;
esac
