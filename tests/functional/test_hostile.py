"""Hostile text is stored as given and shown inertly on every surface; a corpus of bad input gets clear
4xx answers and leaves the database unchanged."""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import func, select

from app.accounts.models import AuditEntry
from app.cases.models import Case, CaseEvent, Report
from app.territory.models import BoundaryVersion, Station
from tests import factories
from tests.browser import centre_on, open_page, sign_in, wait_data

HOSTILE = [
    '<script>alert("x")</script>',
    '<img src=x onerror="document.body.dataset.pwned=1">',
    "'; DROP TABLE cases; --",
    "Robert'); DELETE FROM reports WHERE ('1'='1",
    "🚧🛑 井盖 😀",
    "\u202eevil\u202c مرحبا \u200f",
    "=HYPERLINK(\"http://evil.example\",\"click\")",
    "x" * 3000,
]


@pytest.fixture(scope="module")
def who(make_user):
    return {r: {"Authorization": f"Bearer {make_user(r)[2]}"} for r in ("intake", "dispatcher", "leader")}


def current_version(app) -> int:
    with app.extensions["db"].transaction() as s:
        return s.scalar(select(func.max(BoundaryVersion.id)))


def counts(app):
    with app.extensions["db"].transaction() as s:
        return tuple(s.scalar(select(func.count()).select_from(m))
                     for m in (Report, Case, CaseEvent, AuditEntry, BoundaryVersion, Station))


@pytest.mark.parametrize("text", HOSTILE)
def test_stored_exactly_and_returned_as_data(app, live_server, who, spots, text):
    p = spots()
    body = {"channel": "citizen", "category": "06010", "description": text, "lon": p.x, "lat": p.y,
            "reporter_name": text[:80], "reference": text[:120], "address": text[:200]}
    answer = requests.post(f"{live_server}/api/v1/reports", headers=who["intake"], json=body, timeout=30)
    assert answer.status_code == 201, answer.text
    report_id = answer.json()["report_id"]
    with app.extensions["db"].transaction() as s:
        report = s.get(Report, report_id)
        assert (report.description, report.reporter_name, report.reference, report.address_text) == \
            (text, text[:80], text[:120], text[:200])
    detail = requests.get(f"{live_server}/api/v1/reports/{report_id}", headers=who["dispatcher"], timeout=30).json()
    assert detail["description"] == text
    assert counts(app)[5] >= 17  # no table was dropped or emptied


def test_the_console_panel_and_digest_show_text_not_markup(app, browser, live_server, who, make_user, spots):
    p = spots()
    text = '<img src=x onerror="document.body.dataset.pwned=1"><b>粗体</b> \u202eevil 🚧'
    case_id = requests.post(f"{live_server}/api/v1/reports", headers=who["intake"], timeout=30, json={
        "channel": "citizen", "category": "06010", "description": text, "lon": p.x, "lat": p.y,
        "address": "<script>document.body.dataset.pwned=2</script>"}).json()["case_id"]
    username, password, _ = make_user("dispatcher")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    centre_on(page, p.y, p.x, 18)
    wait_data(page, "casesDrawn", lambda v: int(v) >= 1)
    page.locator(f".case-icon[title$='#{case_id}']").click()
    page.wait_for_selector(f".case[data-case='{case_id}']")
    side = page.locator("#side")
    assert "<b>粗体</b>" in side.inner_text() and "<script>" in side.inner_text()
    assert side.locator("img[src='x']").count() == 0 and side.locator("b").count() == 0
    page.wait_for_timeout(300)
    assert page.get_attribute("body", "data-pwned") is None
    assert page.errors == [] and page.foreign == []
    context.close()
    digest = requests.get(f"{live_server}/digest", headers=who["leader"], params={"span": "week"}, timeout=30)
    assert "<script>document" not in digest.text


def test_kpi_csv_neutralises_formulas(app, live_server, who, make_user):
    username = "=cmd|'/c calc'!A1"
    factories.user(app, "handler", display_name=username, department_code="LGJT")
    from app.analysis import kpi

    row = {"group": "x", "name": username, "cases": 1}
    text = kpi.to_csv({"rows": [row], "by": "person", "from": "2026-01-01", "to": "2026-02-01"}).decode("utf-8-sig")
    assert "'=cmd" in text and ",=cmd" not in text


BAD_COVERAGE = [
    ({"coverage": "nope"}, 400, "coverage"),
    ({"coverage": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"station_code": "JS-001"},
         "geometry": {"type": "Polygon", "coordinates": [[[121.85, 30.9], [121.87, 30.92], [121.87, 30.9],
                                                          [121.85, 30.92], [121.85, 30.9]]]}}]}},
     422, "coverage[0]"),  # a bow tie: self-intersecting
    ({"coverage": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"station_code": "JS-001"},
         "geometry": {"type": "Polygon", "coordinates": []}}]}}, 422, "coverage[0]"),  # empty
    ({"coverage": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"station_code": "NOPE"},
         "geometry": {"type": "Point", "coordinates": [121.9, 30.9]}}]}}, 422, "coverage[0]"),
    ({"coverage": {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "station_code": "JS-001"}, "geometry": {"type": "Polygon", "coordinates": "garbage"}}]}}, 422, "coverage[0]"),
    ({"coverage": {"type": "FeatureCollection", "features": []},
      "new_stations": [{"code": "bad code", "name": "x", "lon": 121.9, "lat": 30.9}]}, 422, "new_stations[0].code"),
]


@pytest.mark.parametrize(("body", "status", "field"), BAD_COVERAGE)
def test_bad_coverage_proposals(app, live_server, make_user, body, status, field):
    planner = {"Authorization": f"Bearer {make_user('planner')[2]}"}
    before = counts(app)
    base = current_version(app)
    for path in ("preview", ""):
        url = f"{live_server}/api/v1/planning/coverage/{path}".rstrip("/")
        answer = requests.post(url, headers=planner, json={**body, "reason": "test", "base_version": base},
                               timeout=30)
        assert answer.status_code == status, answer.text
        assert answer.json()["field"] == field
    assert counts(app) == before


def test_a_coverage_that_leaves_the_town_is_refused_with_nothing_written(app, live_server, make_user):
    planner = {"Authorization": f"Bearer {make_user('planner')[2]}"}
    far = {"type": "Feature", "properties": {"station_code": "JS-001"}, "geometry": {"type": "Polygon", "coordinates": [
        [[121.0, 31.0], [121.1, 31.0], [121.1, 31.1], [121.0, 31.1], [121.0, 31.0]]]}}
    before = counts(app)
    for path, extra in (("/preview", {}), ("", {"reason": "x", "base_version": current_version(app)})):
        answer = requests.post(f"{live_server}/api/v1/planning/coverage{path}", headers=planner, timeout=30,
                               json={"coverage": {"type": "FeatureCollection", "features": [far]}, **extra})
        assert answer.status_code == 422 and answer.json()["field"] == "coverage[0]", answer.text
        assert "beyond the town" in answer.json()["message"] and answer.json()["message_zh"]
    assert counts(app) == before


def test_oversize_bodies_get_413(app, live_server, who):
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 100_000
    try:
        huge = json.dumps({"coverage": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"station_code": "JS-001"},
             "geometry": {"type": "Point", "coordinates": [121.9, 30.9]}}] * 3000}})
        before = counts(app)
        for path, headers in (("/api/v1/reports", who["intake"]), ("/api/v1/planning/coverage/preview", who["intake"])):
            answer = requests.post(f"{live_server}{path}", data=huge, timeout=30,
                                   headers={**headers, "Content-Type": "application/json"})
            assert answer.status_code in (413, 403), (path, answer.status_code)
        answer = requests.post(f"{live_server}/api/v1/reports", data=huge, timeout=30,
                               headers={**who["intake"], "Content-Type": "application/json"})
        assert answer.status_code == 413 and answer.json()["error"] == "too_large"
        assert counts(app) == before
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit


@pytest.mark.parametrize(("params", "status"), [
    ({"lon": "1e999", "lat": "30.9"}, 400), ({"lon": "-inf", "lat": "30.9"}, 400), ({"lon": "[]", "lat": "1"}, 400),
    ({"lon": "121.9", "lat": "30.9", "crs": "EPSG:999999"}, 400), ({"lon": "121.9", "lat": "-91"}, 422),
])
def test_bad_coordinates_on_reverse_and_convert(live_server, who, params, status):
    for path in ("/api/v1/reverse", "/api/v1/locate") + (() if "crs" in params else ("/api/v1/convert",)):
        answer = requests.get(f"{live_server}{path}", params=params, headers=who["dispatcher"], timeout=30)
        assert answer.status_code == status, (path, answer.text)
        assert answer.json()["message"]
