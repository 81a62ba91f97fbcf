#!/usr/bin/env bash
# Embedded PostGIS cluster for development and tests.
#
#   scripts/pg.sh start     create the cluster once (initdb, postgis in template1), start it
#   scripts/pg.sh stop      stop it (data is kept)
#   scripts/pg.sh status    say whether it runs
#   scripts/pg.sh url       print the DATABASE_URL of the application database
#   scripts/pg.sh destroy   stop it and delete its data
#
# The cluster listens on 127.0.0.1:$EMBEDDED_PG_PORT (default 54329) only, with password
# authentication; the password is generated once and kept in var/pg.password (mode 600).
# PostgreSQL refuses to run as root: as root the server runs as the `postgres` system user,
# otherwise as the invoking user. The data lives in var/pgdata; when the checkout is not
# reachable by that user (a checkout under a private home folder), it lives in
# /var/tmp/nanhui-pg-<hash of the checkout path> and var/pgdata is a symlink to it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="$ROOT/var"
PORT="${EMBEDDED_PG_PORT:-54329}"
DB_NAME="${EMBEDDED_PG_DB:-nanhui}"
DB_USER="nanhui"
SUPERUSER="nanhui_super"
PWFILE="$VAR/pg.password"
LINK="$VAR/pgdata"
PGBIN="${PGBIN:-$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || dirname "$(command -v pg_ctl)")}"

die() { echo "pg.sh: $*" >&2; exit 1; }

if [ "$(id -u)" = 0 ]; then
  RUNAS="${EMBEDDED_PG_USER:-postgres}"
  id "$RUNAS" >/dev/null 2>&1 || die "system user '$RUNAS' is missing (install postgresql-15, or set EMBEDDED_PG_USER)"
  as_pg() { (cd / && runuser -u "$RUNAS" -- "$@"); }
else
  RUNAS="$(id -un)"
  as_pg() { "$@"; }
fi

# Where the data directory really is (follows the symlink when there is one).
data_dir() {
  if [ -L "$LINK" ]; then readlink "$LINK"; else echo "$LINK"; fi
}

choose_data_dir() {
  mkdir -p "$VAR"
  [ -e "$LINK" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    mkdir -p "$LINK"; chmod 700 "$LINK"; return 0
  fi
  mkdir -p "$LINK"; chown "$RUNAS" "$LINK"; chmod 700 "$LINK"
  if as_pg test -w "$LINK" -a -x "$LINK"; then return 0; fi
  # The checkout is not reachable by $RUNAS: keep the data in a place it can reach.
  rmdir "$LINK"
  local hash; hash="$(printf '%s' "$ROOT" | sha1sum | cut -c1-10)"
  local outside="/var/tmp/nanhui-pg-$hash"
  mkdir -p "$outside"; chown "$RUNAS" "$outside"; chmod 700 "$outside"
  ln -s "$outside" "$LINK"
  echo "pg.sh: $ROOT is not reachable by '$RUNAS'; data kept in $outside (var/pgdata links to it)"
}

password() {
  if [ ! -s "$PWFILE" ]; then
    mkdir -p "$VAR"
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$PWFILE")
  fi
  cat "$PWFILE"
}

psql_super() {
  PGOPTIONS="-c client_min_messages=warning" PGPASSWORD="$(password)" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" "$@"
}

is_running() {
  local d; d="$(data_dir)"
  [ -d "$d" ] && as_pg "$PGBIN/pg_ctl" -D "$d" status >/dev/null 2>&1
}

init_cluster() {
  local d; d="$(data_dir)"
  [ -f "$d/PG_VERSION" ] && return 0
  [ -x "$PGBIN/initdb" ] || die "PostgreSQL 15 binaries not found in $PGBIN (make system installs them)"
  echo "pg.sh: creating the embedded cluster in $d"
  local pw tmp; pw="$(password)"; tmp="$(mktemp)"
  printf '%s\n' "$pw" > "$tmp"; chmod 600 "$tmp"
  [ "$(id -u)" = 0 ] && chown "$RUNAS" "$tmp"
  as_pg "$PGBIN/initdb" -D "$d" -U "$SUPERUSER" --pwfile="$tmp" --auth-local=scram-sha-256 \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$tmp"
  cat >> "$d/postgresql.conf" <<EOF
# embedded cluster (scripts/pg.sh)
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = ''
fsync = on
shared_buffers = 256MB
max_connections = 200
EOF
}

start() {
  choose_data_dir
  init_cluster
  local d; d="$(data_dir)"
  if ! is_running; then
    as_pg "$PGBIN/pg_ctl" -D "$d" -l "$d/server.log" -w -t 60 start >/dev/null \
      || { tail -20 "$d/server.log" >&2; die "the embedded PostgreSQL did not start (log above)"; }
  fi
  bootstrap
}

# Roles, the application database and PostGIS in template1 so that fresh test databases have it.
bootstrap() {
  local pw; pw="$(password)"
  psql_super -d postgres <<EOF
SELECT 'CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD ''$pw'''
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER') \gexec
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER'
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$DB_NAME') \gexec
EOF
  psql_super -d template1 -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
  psql_super -d "$DB_NAME" -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
}

case "${1:-}" in
  start) start; echo "pg.sh: PostGIS running on 127.0.0.1:$PORT (data: $(data_dir))" ;;
  stop)
    if is_running; then as_pg "$PGBIN/pg_ctl" -D "$(data_dir)" -m fast -w stop >/dev/null; echo "pg.sh: stopped"; else echo "pg.sh: not running"; fi ;;
  status) if is_running; then echo "running on 127.0.0.1:$PORT"; else echo "not running"; exit 3; fi ;;
  url) echo "postgresql+psycopg://$DB_USER:$(password)@127.0.0.1:$PORT/$DB_NAME" ;;
  destroy)
    if is_running; then as_pg "$PGBIN/pg_ctl" -D "$(data_dir)" -m fast -w stop >/dev/null; fi
    real="$(data_dir)"; rm -rf "$real" "$LINK" "$PWFILE"; echo "pg.sh: destroyed" ;;
  *) die "usage: scripts/pg.sh start|stop|status|url|destroy" ;;
esac
