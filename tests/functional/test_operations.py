"""Operations: /metrics for Prometheus (and who may read it), 503 with Retry-After when the database is
away, and recovery without a restart after the database dropped the app's connections."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import create_engine, text

SCRAPE_SECRET = "scrape-secret-0123456789"


@pytest.fixture(scope="module")
def ops_app(database_url):
    """The app with a scrape secret and loopback reading turned on."""
    from app import create_app

    application = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "t", "TESTING": True,
                              "METRICS_TOKEN": SCRAPE_SECRET, "METRICS_LOOPBACK": True})
    yield application
    application.extensions["db"].engine.dispose()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def samples(body: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in body.splitlines() if line and not line.startswith("#")}


def test_metrics_need_the_secret_an_admin_or_loopback(app, ops_app, make_user):
    closed = app.test_client()  # the default: neither a scrape secret nor loopback reading
    assert closed.get("/metrics").status_code == 401
    assert closed.get("/metrics", headers=bearer(make_user("dispatcher")[2])).status_code == 403
    assert closed.get("/metrics", headers=bearer(SCRAPE_SECRET)).status_code == 401
    assert closed.get("/metrics", headers=bearer(make_user("admin")[2])).status_code == 200

    client = ops_app.test_client()
    assert client.get("/metrics", headers=bearer(SCRAPE_SECRET)).status_code == 200
    assert client.get("/metrics").status_code == 200  # straight from loopback
    proxied = {"X-Forwarded-For": "203.0.113.9"}  # relayed by nginx: not local whatever the socket says
    assert client.get("/metrics", headers=proxied).status_code == 401
    assert client.get("/metrics", headers=proxied | bearer(SCRAPE_SECRET + "x")).status_code == 401
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 401


def test_metrics_count_what_the_database_holds(ops_app, make_user, spots):
    client = ops_app.test_client()
    before = samples(client.get("/metrics").get_data(as_text=True))
    p = spots()
    filed = client.post("/api/v1/reports", headers=bearer(make_user("intake")[2]), json={
        "channel": "hotline", "category": "01004", "description": "雨水箅子缺失", "lon": p.x, "lat": p.y})
    assert filed.status_code == 201, filed.get_data(as_text=True)
    answer = client.get("/metrics")
    assert answer.content_type.startswith("text/plain; version=0.0.4")
    after = samples(answer.get_data(as_text=True))
    assert after["nanhui_reports_total"] == before["nanhui_reports_total"] + 1
    assert after["nanhui_reports_last_hour"] == before["nanhui_reports_last_hour"] + 1
    assert after['nanhui_cases{state="reported"}'] == before.get('nanhui_cases{state="reported"}', 0) + 1
    assert sum(v for k, v in after.items() if k.startswith("nanhui_cases_open{")) == \
        sum(v for k, v in before.items() if k.startswith("nanhui_cases_open{")) + 1
    assert after['nanhui_boundary_version{which="current"}'] >= 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_database_away_answers_503_with_a_retry_hint():
    from app import create_app

    nowhere = f"postgresql+psycopg://nobody:nothing@127.0.0.1:{free_port()}/nowhere"  # nothing listens there
    away = create_app({"DATABASE_URL": nowhere, "SECRET_KEY": "t", "TESTING": True})
    client = away.test_client()
    for answer in (
        client.post("/api/v1/reports", headers=bearer("any-token"), json={"channel": "hotline"}),
        client.get("/api/v1/cases/1", headers=bearer("any-token")),
        client.get("/healthz"),
    ):
        assert answer.status_code == 503
        assert answer.json["error" if "error" in answer.json else "status"] == "unavailable"
        assert int(answer.headers["Retry-After"]) > 0
    away.extensions["db"].engine.dispose()


def test_the_app_reconnects_after_the_database_dropped_its_connections(ops_app, database_url, make_user):
    engine = ops_app.extensions["db"].engine
    engine.dispose()
    client = ops_app.test_client()
    headers = bearer(make_user("dispatcher")[2])
    assert client.get("/api/v1/cases?limit=1", headers=headers).status_code == 200
    with engine.connect() as conn:  # the one pooled connection the request used
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()
    assert client.get("/api/v1/cases?limit=1", headers=headers).status_code == 200  # pre-ping replaced it
