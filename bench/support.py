"""What the benchmarks share: a fresh database set up like `make run`, a free port, gunicorn started
as `make run` starts it. (Not a benchmark itself: `make bench` runs only bench/bench_*.py.)"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]


def server_url(target: str = "make bench"):
    """The DATABASE_URL server the benchmark makes its databases on (SystemExit, saying how to run, when unset)."""
    from app.config import normalise_db_url

    raw = os.environ.get("DATABASE_URL")
    if not raw:
        raise SystemExit(f"DATABASE_URL is not set: run through `{target}` or scripts/with-db.sh")
    return make_url(normalise_db_url(raw))


def new_database(base, tag: str) -> str:
    """An empty database `<db>_<tag>_<pid>` on the server of `base` (replacing one of that name): its URL."""
    name = f"{base.database}_{tag}_{os.getpid()}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def fresh_database(base, tag: str, username: str, role: str) -> tuple[str, str, tuple]:
    """A new database `<db>_<tag>_<pid>` migrated and loaded, with one user; (url, password, town bbox)."""
    url = new_database(base, tag)
    from app import create_app
    from app.accounts import users

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    result = app.test_cli_runner().invoke(args=["setup"])
    if result.exit_code != 0:
        raise SystemExit(result.output)
    password = uuid.uuid4().hex
    with app.extensions["db"].transaction() as s:
        users.add_user(s, username, role, password)
        bbox = s.execute(text(
            "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM admin_areas "
            "WHERE level = 'town' AND version_high IS NULL")).one()
    app.extensions["db"].engine.dispose()
    return url, password, tuple(bbox)


def issue_token(url: str, username: str) -> str:
    """A new API token for a user of the database at `url`."""
    from app import create_app
    from app.accounts import users

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    with app.extensions["db"].transaction() as s:
        token = users.issue_token(s, username)
    app.extensions["db"].engine.dispose()
    return token


def drop_database(base, url: str) -> None:
    """Drop a database made by fresh_database, whoever is still connected."""
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def free_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(url: str, port: int, settle_s: float = 0.0, **env: str) -> subprocess.Popen:
    """gunicorn through scripts/serve.sh (as `make run`), once /healthz answers; `env` overrides settings."""
    environment = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench", PORT=str(port), ACCESS_LOG="", **env)
    proc = subprocess.Popen([str(ROOT / "scripts" / "serve.sh")], env=environment,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                time.sleep(settle_s)
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("gunicorn did not start")


def stop(proc: subprocess.Popen) -> None:
    """Stop a server started by `serve`: gunicorn's graceful stop waits up to its 30 s for the keep-alive
    connections a gevent worker still holds, so allow that, then kill whatever is left."""
    proc.terminate()
    try:
        proc.wait(timeout=45)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
