#!/usr/bin/env bash
# Back up the database in DATABASE_URL: one pg_dump file in custom format, compressed, holding
# everything (boundary versions and their history, cases and their events, reports and the bytes
# of their uploaded photos, which live in the database; users, settings, the audit log).
#
#   scripts/backup.sh [FOLDER]     default var/backups (BACKUP_DIR overrides); prints the file's path
#
# The file is readable by its owner only (it holds personal data and password hashes). It is
# written under a temporary name and renamed when complete, then checked by listing its contents.
# Works as root and as an ordinary user: pg_dump is a client and connects over the URL.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/pgenv.sh
source "$ROOT/scripts/pgenv.sh"

[ -n "${DATABASE_URL:-}" ] || die "DATABASE_URL is not set (make backup sets it; see README)"
pg_env "$DATABASE_URL"
[ -x "$PGBIN/pg_dump" ] || die "pg_dump not found in $PGBIN (make system installs PostgreSQL 15)"

folder="${1:-${BACKUP_DIR:-$ROOT/var/backups}}"
umask 077
mkdir -p "$folder"
file="$folder/$PGDATABASE-$(date -u +%Y%m%dT%H%M%SZ).dump"
[ -e "$file" ] && die "$file exists already"
partial="$file.partial"
trap 'rm -f "$partial"' EXIT

started=$SECONDS
"$PGBIN/pg_dump" --format=custom --compress=6 --no-password --file="$partial" \
  || die "pg_dump failed; nothing was written"
entries="$("$PGBIN/pg_restore" --list "$partial" | grep -c -v '^;')" || die "the dump cannot be read back"
mv "$partial" "$file"
trap - EXIT
echo "backup.sh: $PGDATABASE -> $file ($(du -h "$file" | cut -f1), $entries entries, $((SECONDS - started)) s)" >&2
echo "$file"
