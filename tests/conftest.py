"""Shared fixtures: one fresh PostGIS database per test run, migrated and loaded once.

DATABASE_URL names a server and a role that may create databases (`make test` provides the
embedded one). The suite creates `<db>_test_<pid>`, migrates it to head, loads the reference
data and the illustrative boundaries, and drops it at the end.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"


def _admin_engine(url):
    return create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def base_url():
    """The server the suite may create databases on."""
    raw = os.environ.get("DATABASE_URL")
    if not raw:
        pytest.exit("DATABASE_URL is not set: run the suite with `make test`", returncode=2)
    from app.config import normalise_db_url

    return make_url(normalise_db_url(raw))


@pytest.fixture(scope="session")
def make_database(base_url):
    """Factory for empty databases (dropped at the end of the run)."""
    created = []
    admin = _admin_engine(base_url)

    def make(tag: str):
        name = f"{base_url.database}_{tag}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return base_url.set(database=name)

    yield make
    with admin.connect() as conn:
        for name in created:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(make_database):
    """A fresh database migrated to head with reference data and the illustrative boundaries."""
    url = make_database("test")
    from app import create_app

    app = create_app({"DATABASE_URL": url.render_as_string(hide_password=False), "SECRET_KEY": "test"})
    runner = app.test_cli_runner()
    result = runner.invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    app.extensions["db"].engine.dispose()
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def app(database_url):
    """The application bound to the test database."""
    from app import create_app

    application = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret", "TESTING": True})
    yield application
    application.extensions["db"].engine.dispose()


@pytest.fixture
def session(app):
    """A session in a transaction that is rolled back after the test."""
    engine = app.extensions["db"].engine
    conn = engine.connect()
    outer = conn.begin()
    s = Session(bind=conn, join_transaction_mode="create_savepoint", info={"caches": app.extensions["caches"]})
    yield s
    s.close()
    outer.rollback()
    conn.close()


@pytest.fixture(scope="session")
def live_server(app):
    """The app over real HTTP on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def make_user(app):
    """Create a committed user with a role and return (username, password, token)."""
    from app.accounts import users

    made = {}

    def make(role: str, **kwargs):
        if role in made and not kwargs:
            return made[role]
        username = f"t_{role}_{uuid.uuid4().hex[:6]}"
        password = "correct horse battery"
        with app.extensions["db"].transaction() as s:
            users.add_user(s, username, role, password, **kwargs)
            token = users.issue_token(s, username)
        if kwargs:  # a special user is never handed out as the plain user of its role
            return username, password, token
        made[role] = (username, password, token)
        return made[role]

    return make


@pytest.fixture(scope="session")
def artifacts():
    """Folder for screenshots kept by the browser tests."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def spots(app):
    """Fresh points inside the town, 400 m apart and away from territory edges, one per call.

    Reports filed at different spots never merge, whatever test filed them.
    """
    import numpy as np
    import shapely

    from gis.crs import to_metric, to_storage

    from app.territory import caches

    with app.extensions["db"].transaction() as s:
        index = caches.ownership(s)
    inner = to_metric(index.town).buffer(-300)
    minx, miny, maxx, maxy = inner.bounds
    xs, ys = np.meshgrid(np.arange(minx, maxx, 400.0), np.arange(miny, maxy, 400.0))
    pts = [p for p in shapely.points(xs.ravel(), ys.ravel()) if inner.contains(p)]
    np.random.default_rng(3).shuffle(pts)
    good = (p for p in (to_storage(p) for p in pts) if not index.owner_at(p.x, p.y).near_boundary)
    return lambda: next(good)
