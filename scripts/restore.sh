#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into the database in DATABASE_URL, or into a new one.
#
#   scripts/restore.sh FILE             into DATABASE_URL's database, which must be empty
#   FORCE=1 scripts/restore.sh FILE     replace what that database holds (the objects in the backup)
#   INTO=name scripts/restore.sh FILE   create database `name` on the same server and restore there
#
# One transaction: a restore that fails leaves the target as it was. Objects are created owned by
# the role in DATABASE_URL (--no-owner) and without the source's GRANTs (--no-privileges), so a
# backup restores on another server with other role names. PostGIS must be installed in the
# target (on the embedded cluster every new database has it; elsewhere a superuser runs
# `CREATE EXTENSION postgis` first); the backup's own CREATE EXTENSION is skipped.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/pgenv.sh
source "$ROOT/scripts/pgenv.sh"

file="${1:-}"
[ -n "$file" ] || die "usage: scripts/restore.sh FILE (FORCE=1 to replace a non-empty database, INTO=name for a new one)"
[ -r "$file" ] || die "cannot read $file"
[ -n "${DATABASE_URL:-}" ] || die "DATABASE_URL is not set (make restore sets it; see README)"
pg_env "$DATABASE_URL"
[ -x "$PGBIN/pg_restore" ] || die "pg_restore not found in $PGBIN (make system installs PostgreSQL 15)"
"$PGBIN/pg_restore" --list "$file" >/dev/null 2>&1 || die "$file is not a pg_dump custom-format backup"

if [ -n "${INTO:-}" ]; then
  [[ "$INTO" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "INTO must be a plain lower-case name (letters, digits, _)"
  exists="$(psql_q -c "SELECT count(*) FROM pg_database WHERE datname = '$INTO'")"
  [ "$exists" = 0 ] || die "database $INTO exists already; choose another name"
  psql_q -c "CREATE DATABASE \"$INTO\"" || die "cannot create database $INTO (the role needs CREATEDB)"
  export PGDATABASE="$INTO"
fi

# PostGIS first: the backup's tables need its types.
if [ "$(psql_q -c "SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")" = 0 ]; then
  psql_q -c "CREATE EXTENSION postgis" 2>/dev/null \
    || die "PostGIS is not installed in $PGDATABASE and this role may not install it: a superuser runs CREATE EXTENSION postgis there"
fi
# the trigram indexes of the case search (migration 0007) need pg_trgm (a trusted extension: the owner may create it)
if [ "$(psql_q -c "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")" = 0 ]; then
  psql_q -c "CREATE EXTENSION pg_trgm" 2>/dev/null \
    || die "pg_trgm is not installed in $PGDATABASE and this role may not install it: a superuser runs CREATE EXTENSION pg_trgm there"
fi

# Tables that are ours (not PostGIS's own): a non-empty target is only replaced when asked.
tables="$(psql_q -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'topology', 'tiger')
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                    AND d.deptype = 'e')")"
clean=()
if [ "$tables" != 0 ]; then
  [ "${FORCE:-0}" = 1 ] || die "$PGDATABASE already holds $tables tables; FORCE=1 replaces them, INTO=name restores into a new database" 3
  echo "restore.sh: replacing the $tables tables of $PGDATABASE (FORCE=1)" >&2
  clean=(--clean --if-exists)
fi

list="$(mktemp)"
trap 'rm -f "$list"' EXIT
# Everything but PostGIS's own objects: the extension (installed above; only its owner may comment
# on it) and its spatial_ref_sys table (the platform adds no coordinate systems of its own to it).
"$PGBIN/pg_restore" --list "$file" \
  | grep -v -E '^[0-9]+; [0-9]+ [0-9]+ (EXTENSION|COMMENT - EXTENSION|TABLE DATA public spatial_ref_sys) ' > "$list"

started=$SECONDS
"$PGBIN/pg_restore" --no-password --no-owner --no-privileges --single-transaction "${clean[@]}" \
  --use-list="$list" --dbname="$PGDATABASE" "$file" \
  || die "pg_restore failed; $PGDATABASE is unchanged (one transaction)"
restored="$(psql_q -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname = 'public'")"
echo "restore.sh: $file -> $PGDATABASE ($restored tables in public, $((SECONDS - started)) s)"
