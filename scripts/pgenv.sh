# Sourced by backup.sh and restore.sh: libpq settings from a DATABASE_URL, and the PostgreSQL 15 tools.
#
# The URL is split into PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE (percent-decoded), so the
# password never appears on a command line (where `ps` would show it to every local user).
# PGBIN overrides the tools' folder (pg_dump must be as new as the server it dumps).

PGBIN="${PGBIN:-$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || dirname "$(command -v pg_dump || echo /usr/bin/pg_dump)")}"

die() { echo "$(basename "$0"): $1" >&2; exit "${2:-1}"; }

# pg_env URL: export the libpq variables for URL (postgresql:// or postgresql+psycopg://).
pg_env() {
  local exports
  exports="$(python3 - "$1" <<'PY'
import shlex, sys
from urllib.parse import parse_qs, unquote, urlsplit

url = urlsplit(sys.argv[1])
if not url.scheme.startswith("postgresql"):
    sys.exit("DATABASE_URL must be a postgresql:// URL")
values = {
    "PGHOST": url.hostname or "", "PGPORT": str(url.port or ""), "PGUSER": unquote(url.username or ""),
    "PGPASSWORD": unquote(url.password or ""), "PGDATABASE": unquote(url.path.lstrip("/")),
    "PGSSLMODE": "", "PGTARGETSESSIONATTRS": "",
}
query = parse_qs(url.query)
if query.get("host"):  # several hosts (?host=db1:5432&host=db2:5432): libpq takes comma-separated lists
    hosts = [h.rsplit(":", 1) if ":" in h else [h, ""] for h in query["host"]]
    values["PGHOST"] = ",".join(h for h, _ in hosts)
    values["PGPORT"] = ",".join(p or "5432" for _, p in hosts)
for key, option in (("PGSSLMODE", "sslmode"), ("PGTARGETSESSIONATTRS", "target_session_attrs")):
    if query.get(option):
        values[key] = query[option][0]
if not values["PGDATABASE"]:
    sys.exit("DATABASE_URL names no database")
for key, value in values.items():
    print(f"export {key}={shlex.quote(value)}" if value else f"unset {key}")
PY
)" || die "cannot read DATABASE_URL"
  eval "$exports"
}

# psql_q SQL...: run SQL on $PGDATABASE quietly, stop at the first error, print bare values.
psql_q() {
  PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 --no-password "$@"
}
