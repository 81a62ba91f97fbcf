"""Backup and restore (scripts/backup.sh, scripts/restore.sh): the test database, with an uploaded
photo in it, restores into a fresh database with the same counts and checksums; a non-empty target
is refused unless FORCE=1."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]

TABLES = ("cases", "case_events", "reports", "attachments", "boundary_versions", "station_coverage", "grid_cells",
          "audit_log", "users")
PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # every byte value, to see bytea come back whole


def fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Row count and md5 of every row's text, in id order, per table."""
    engine = create_engine(url)
    with engine.connect() as conn:
        found = {
            table: tuple(conn.execute(text(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM {table} t"
            )).one())
            for table in TABLES
        }
    engine.dispose()
    return found


def run(script: str, url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "scripts" / script), *args], env=dict(os.environ, DATABASE_URL=url, **env),
                          capture_output=True, text=True, timeout=300)


def test_a_backup_restores_to_identical_counts_and_checksums(app, database_url, make_database, make_user, spots,
                                                             tmp_path):
    p = spots()
    filed = app.test_client().post(
        "/api/v1/reports", headers={"Authorization": f"Bearer {make_user('intake')[2]}"},
        data={"report": json.dumps({"channel": "patrol", "category": "01004", "description": "井盖缺失",
                                    "lon": p.x, "lat": p.y}),
              "photos": [(io.BytesIO(PHOTO), "井盖.png")]},
        content_type="multipart/form-data",
    )
    assert filed.status_code == 201, filed.get_data(as_text=True)

    made = run("backup.sh", database_url, BACKUP_DIR=str(tmp_path))
    assert made.returncode == 0, made.stderr
    backup = made.stdout.strip()
    assert backup.startswith(str(tmp_path)) and backup.endswith(".dump") and os.stat(backup).st_mode & 0o077 == 0

    source = fingerprint(database_url)
    assert all(source[t][0] > 0 for t in TABLES), source
    target = make_database("restore").render_as_string(hide_password=False)
    restored = run("restore.sh", target, backup)
    assert restored.returncode == 0, restored.stderr
    assert fingerprint(target) == source
    engine = create_engine(target)
    with engine.connect() as conn:
        assert PHOTO in conn.execute(text("SELECT data FROM attachments WHERE kind = 'upload'")).scalars().all()
        # the append-only rules came back with the tables
        refused = conn.execute(text("SELECT count(*) FROM pg_trigger WHERE tgname = 'case_events_append_only'"))
        assert refused.scalar_one() == 1
    engine.dispose()

    again = run("restore.sh", target, backup)
    assert again.returncode == 3 and "FORCE=1" in again.stderr
    forced = run("restore.sh", target, backup, FORCE="1")
    assert forced.returncode == 0, forced.stderr
    assert fingerprint(target) == source
