"""Foundation against a real PostGIS and over real HTTP: counts, health, auth, loader, migrations."""

from __future__ import annotations

import re

import requests
from sqlalchemy import create_engine, func, select, text

from app.accounts.models import AuditEntry
from app.territory.models import AdminArea, BoundaryVersion, GridCell, Station, StationCoverage
from tests import factories


def current(model):
    return select(func.count()).select_from(model).where(model.version_high.is_(None))


def test_illustrative_counts(session):
    levels = dict(
        session.execute(
            select(AdminArea.level, func.count()).where(AdminArea.version_high.is_(None)).group_by(AdminArea.level)
        ).all()
    )
    assert levels == {"town": 1, "community": 3, "workstation": 13}
    # no test adds stations to the shared database (those that do have their own: conftest `own_app`)
    assert session.scalar(select(func.count()).select_from(Station)) == 17
    assert session.scalar(select(func.count()).select_from(Station).where(Station.illustrative.is_(True))) == 17
    cells = session.scalar(current(GridCell))
    assert 5000 <= cells <= 12000
    codes = session.scalars(select(GridCell.code).where(GridCell.version_high.is_(None))).all()
    assert len(set(codes)) == len(codes)
    assert all(re.fullmatch(r"310115145\d{6}", c) for c in codes)


def test_grid_cells_do_not_overlap_in_postgis(session):
    overlaps = session.scalar(text(
        "SELECT count(*) FROM grid_cells a JOIN grid_cells b ON a.id < b.id AND a.geom && b.geom "
        "AND ST_Overlaps(a.geom, b.geom) AND ST_Area(ST_Intersection(a.geom, b.geom)::geography) > 1 "
        "WHERE a.version_high IS NULL AND b.version_high IS NULL"
    ))
    assert overlaps == 0


def test_every_geometry_has_a_gist_index(session):
    geometry_columns = set(session.execute(text(
        "SELECT f_table_name, f_geometry_column FROM geometry_columns WHERE f_table_schema = 'public'"
    )).all())
    indexed = set(session.execute(text(
        "SELECT t.relname, a.attname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_am am ON am.oid = i.relam "
        "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(x.indkey) WHERE am.amname = 'gist'"
    )).all())
    assert geometry_columns and geometry_columns <= indexed


def test_coverage_version_one_is_the_communities(session):
    version = session.scalar(select(func.min(BoundaryVersion.id)))
    codes = session.scalars(
        select(StationCoverage.station_code).where(StationCoverage.version_id == version)
    ).all()
    assert sorted(codes) == ["JS-001", "JS-002", "JS-003"]


def test_healthz_names_database_and_version(live_server, database_url):
    answer = requests.get(f"{live_server}/healthz", timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["database"] == database_url.rsplit("/", 1)[1]
    assert isinstance(body["boundary_version"], int)


def test_healthz_503_when_database_unreachable():
    from app import create_app

    app = create_app({"DATABASE_URL": "postgresql+psycopg://nobody:x@127.0.0.1:1/none", "SECRET_KEY": "x"})
    answer = app.test_client().get("/healthz")
    app.extensions["db"].engine.dispose()
    assert answer.status_code == 503
    assert answer.json["status"] == "unavailable" and answer.headers["Retry-After"]


def test_api_needs_a_valid_token(live_server, make_user):
    assert requests.get(f"{live_server}/api/v1/me", timeout=10).status_code == 401
    bad = requests.get(f"{live_server}/api/v1/me", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert bad.status_code == 401 and bad.json()["error"] == "unauthorized"
    username, _, token = make_user("dispatcher")
    me = requests.get(f"{live_server}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 200 and me.json()["username"] == username and me.json()["role"] == "dispatcher"


def test_revoked_token_is_refused(app, live_server, make_user):
    from app.accounts import users

    username, _, _ = make_user("planner", display_name="revoke me")
    with app.extensions["db"].transaction() as s:
        token = users.issue_token(s, username)
    ok = requests.get(f"{live_server}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert ok.status_code == 200
    with app.extensions["db"].transaction() as s:
        users.revoke_tokens(s, username)
    gone = requests.get(f"{live_server}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert gone.status_code == 401


def test_tokens_and_passwords_are_stored_hashed(session, make_user):
    username, password, token = make_user("leader")
    row = session.execute(text(
        "SELECT u.password_hash, t.token_hash FROM users u JOIN api_tokens t ON t.user_id = u.id "
        "WHERE u.username = :u"
    ), {"u": username}).first()
    assert password not in row.password_hash and row.password_hash.startswith("$argon2")
    assert token not in row.token_hash and len(row.token_hash) == 64


def _login(base, username, password):
    s = requests.Session()
    page = s.get(f"{base}/login", timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = s.post(f"{base}/login", data={"username": username, "password": password, "csrf_token": csrf},
                    timeout=10, allow_redirects=False)
    return s, answer


def test_password_login_and_map_page(live_server, make_user):
    username, password, _ = make_user("intake")
    s, answer = _login(live_server, username, password)
    assert answer.status_code == 302
    page = s.get(f"{live_server}/", timeout=10)
    assert page.status_code == 200
    assert "/vendor/leaflet/dist/leaflet.js" in page.text
    assert not re.findall(r"(?:src|href)=[\"']https?://", page.text)
    assert "单元网格" in page.text  # Chinese by default
    english = s.get(f"{live_server}/?lang=en", timeout=10)
    assert "Unit grid cells" in english.text


def test_wrong_password_is_refused_and_page_requires_login(app, live_server):
    username, _, _ = factories.user(app, "supervisor")  # its own: the failed sign-in counts against the user
    _, answer = _login(live_server, username, "not the password")
    assert answer.status_code == 401 and "用户名或密码错误" in answer.text
    anonymous = requests.get(f"{live_server}/", timeout=10, allow_redirects=False)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_login_without_csrf_token_is_refused(live_server, make_user):
    username, password, _ = make_user("admin")
    answer = requests.post(f"{live_server}/login", data={"username": username, "password": password}, timeout=10)
    assert answer.status_code == 400


def test_layer_geojson(live_server, make_user):
    _, _, token = make_user("dispatcher")
    auth = {"Authorization": f"Bearer {token}"}
    communities = requests.get(f"{live_server}/api/v1/layers/communities", headers=auth, timeout=30).json()
    assert {f["properties"]["name"] for f in communities["features"]} == {"芦潮港社区", "申港社区", "临港综合社区"}
    missing = requests.get(f"{live_server}/api/v1/layers/nothing", headers=auth, timeout=10)
    assert missing.status_code == 404 and missing.json()["error"] == "unknown_layer"


def test_vendor_assets_are_local_and_limited(live_server):
    assert requests.get(f"{live_server}/vendor/leaflet/dist/leaflet.js", timeout=10).status_code == 200
    assert requests.get(f"{live_server}/vendor/lodash/package.json", timeout=10).status_code == 404


def test_migrations_down_and_up(make_database):
    from alembic import command

    from app import create_app
    from app.cli import alembic_config

    url = make_database("migrate").render_as_string(hide_password=False)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x"})
    engine = create_engine(url)
    with app.app_context():
        command.upgrade(alembic_config(), "head")
        with engine.connect() as conn:
            roles = set(conn.execute(text("SELECT code FROM roles")).scalars())
            assert len(roles) >= 9 and {"station_chief", "workstation", "evaluator"} <= roles  # + the tiers (0009)
        command.downgrade(alembic_config(), "base")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT to_regclass('grid_cells')")).scalar() is None
        command.upgrade(alembic_config(), "head")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT to_regclass('grid_cells')")).scalar() == "grid_cells"
    engine.dispose()
    app.extensions["db"].engine.dispose()


def test_audit_log_is_append_only(session):
    import pytest
    from sqlalchemy.exc import DBAPIError

    session.add(AuditEntry(actor="test", action="x", entity="y"))
    session.flush()
    with pytest.raises(DBAPIError) as err:
        with session.begin_nested():
            session.execute(text("UPDATE audit_log SET actor = 'forged'"))
    assert "append-only" in str(err.value)
    with pytest.raises(DBAPIError):
        with session.begin_nested():
            session.execute(text("DELETE FROM audit_log"))
