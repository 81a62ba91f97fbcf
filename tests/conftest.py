"""Shared fixtures: one fresh PostGIS database per test run, migrated and loaded once.

DATABASE_URL names a server and a role that may create databases (`make test` provides the
embedded one). The suite creates `<db>_test_<pid>`, migrates it to head, loads the reference
data and the illustrative boundaries, and drops it at the end. A module whose tests make boundary
versions uses `own_app` instead, a database of its own set up the same way, so that the shared
territory never changes under the other tests whatever the order. Test data: tests/factories.py.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
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


def _set_up(make_database, tag: str) -> str:
    """A new database migrated to head with reference data and the illustrative boundaries: its URL."""
    url = make_database(tag)
    from app import create_app

    app = create_app({"DATABASE_URL": url.render_as_string(hide_password=False), "SECRET_KEY": "test"})
    runner = app.test_cli_runner()
    result = runner.invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    app.extensions["db"].engine.dispose()
    return url.render_as_string(hide_password=False)


@contextmanager
def _application(database_url: str) -> Iterator[Flask]:
    from app import create_app

    application = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret", "TESTING": True})
    yield application
    application.extensions["db"].engine.dispose()


@contextmanager
def _serving(application: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def database_url(make_database):
    """The shared database of the run: set up once; no test changes its boundaries (see `own_app`)."""
    return _set_up(make_database, "test")


@pytest.fixture(scope="session")
def app(database_url):
    """The application bound to the shared test database."""
    with _application(database_url) as application:
        yield application


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
    with _serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def own_app(make_database):
    """The application on a database of the module's own, set up like the shared one: for the tests that make
    boundary versions (or stations), which would otherwise change the territory under every later test."""
    with _application(_set_up(make_database, "own")) as application:
        yield application


@pytest.fixture(scope="module")
def own_live_server(own_app):
    """`own_app` over real HTTP on a free loopback port."""
    with _serving(own_app) as url:
        yield url


@pytest.fixture(scope="session")
def make_user(app):
    """Make a committed user with a role and return (username, password, token).

    The plain user of a role is made once and shared; with keyword arguments (department_code, station_code,
    display_name) the user is new on every call. A test that changes its user (password failures, revoked
    tokens) asks tests.factories.user for a user of its own.
    """
    from tests import factories

    made = {}

    def make(role: str, **kwargs):
        if kwargs:
            return factories.user(app, role, **kwargs)
        if role not in made:
            made[role] = factories.user(app, role)
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

    `spots(station)` gives the next one in that station's territory; `spots(road_m=...)` the next one within
    that distance of a routable road (some of the town, reclaimed land, has no roads yet). Reports filed at
    different spots never merge, whatever test filed them.
    """
    import numpy as np
    import shapely

    from app.field import network
    from app.territory import caches
    from gis.crs import to_metric, to_storage

    with app.extensions["db"].transaction() as s:
        index = caches.ownership(s)
    inner = to_metric(index.town).buffer(-300)
    minx, miny, maxx, maxy = inner.bounds
    xs, ys = np.meshgrid(np.arange(minx, maxx, 400.0), np.arange(miny, maxy, 400.0))
    pts = [p for p in shapely.points(xs.ravel(), ys.ravel()) if inner.contains(p)]
    np.random.default_rng(3).shuffle(pts)
    owned = ((p, index.owner_at(p.x, p.y)) for p in (to_storage(p) for p in pts))
    unused = [(p, owners.station["code"]) for p, owners in owned if not owners.near_boundary]

    def near_road(p, road_m: float) -> bool:
        with app.extensions["db"].transaction() as s:
            roads = network.get(s)  # cached by the app: built once
        return roads.snap_many(np.array([to_metric(p).coords[0]]), road_m)[0] is not None

    def take(station: str | None = None, road_m: float | None = None):
        i = next(i for i, (p, code) in enumerate(unused)
                 if station in (None, code) and (road_m is None or near_road(p, road_m)))
        return unused.pop(i)[0]

    return take
