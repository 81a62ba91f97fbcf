"""POST /api/v1/reports over real HTTP: filing, merging, splitting, idempotent retries, bad input."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
import shapely
from sqlalchemy import func, select, text

from app.accounts.models import AuditEntry
from app.cases.models import Attachment, Case, CaseEvent, Report
from gis.crs import from_wgs84, to_metric, to_storage
from tests.factories import png

CATEGORY = "01004"
OTHER_CATEGORY = "02001"


@pytest.fixture(scope="module")
def auth(make_user):
    return {"Authorization": f"Bearer {make_user('intake')[2]}"}


@pytest.fixture(scope="module")
def dispatcher(make_user):
    return {"Authorization": f"Bearer {make_user('dispatcher')[2]}"}


def post(live_server, auth, body, key=None, **kwargs):
    headers = dict(auth)
    if key:
        headers["Idempotency-Key"] = key
    if "data" not in kwargs and "files" not in kwargs:
        kwargs["json"] = body
    return requests.post(f"{live_server}/api/v1/reports", headers=headers, timeout=30, **kwargs)


def report(point, **extra):
    body = {"channel": "hotline", "category": CATEGORY, "description": "人行道上有一处破损井盖",
            "lon": point.x, "lat": point.y, "reference": "CALL-1"}
    body.update(extra)
    return body


def offset(point, east_m: float, north_m: float = 0.0):
    p = to_metric(point)
    return to_storage(shapely.Point(p.x + east_m, p.y + north_m))


def counts(app):
    with app.extensions["db"].transaction() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Report, Case, CaseEvent, AuditEntry,
                                                                            Attachment))


def test_a_report_opens_a_case_with_its_owners(live_server, auth, spots, session):
    p = spots()
    answer = post(live_server, auth, report(p))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    located = requests.get(f"{live_server}/api/v1/locate", params={"lon": p.x, "lat": p.y},
                           headers=auth, timeout=10).json()
    assert body["merged"] is False and body["replayed"] is False
    assert body["grid_code"] == located["grid_code"] and body["station"] == located["station"]
    assert body["boundary_version"] == located["boundary_version"]
    assert answer.headers["Location"].endswith(f"/api/v1/reports/{body['report_id']}")
    case = requests.get(f"{live_server}/api/v1/cases/{body['case_id']}", headers=auth, timeout=10).json()
    assert case["state"] == "reported" and case["report_count"] == 1
    assert case["boundary_version"] == located["boundary_version"]
    assert case["urgency"] == "normal" and case["category"] == CATEGORY
    assert [e["action"] for e in case["history"]] == ["opened"]
    assert case["reports"][0]["channel"] == "hotline" and case["reports"][0]["reference"] == "CALL-1"
    audit = session.scalars(select(AuditEntry).where(AuditEntry.entity == "report",
                                                     AuditEntry.entity_id == str(body["report_id"]))).all()
    assert [a.action for a in audit] == ["report.create"]


def test_a_nearby_report_of_the_same_category_joins_the_case(live_server, auth, spots):
    p = spots()
    first = post(live_server, auth, report(p)).json()
    near = post(live_server, auth, report(offset(p, 30), channel="12345", reference="WO-9")).json()
    assert near["merged"] is True and near["case_id"] == first["case_id"]
    assert 29 < near["merge_distance_m"] < 31
    other_kind = post(live_server, auth, report(offset(p, 10), category=OTHER_CATEGORY)).json()
    far = post(live_server, auth, report(offset(p, 0, 70))).json()
    assert other_kind["merged"] is False and other_kind["case_id"] != first["case_id"]
    assert far["merged"] is False and far["case_id"] != first["case_id"]
    case = requests.get(f"{live_server}/api/v1/cases/{first['case_id']}", headers=auth, timeout=10).json()
    assert case["report_count"] == 2
    assert [e["action"] for e in case["history"]] == ["opened", "report_merged"]
    assert {r["channel"] for r in case["reports"]} == {"hotline", "12345"}


def test_the_merge_window_is_72_hours(live_server, auth, spots):
    p = spots()
    then = datetime.now(UTC) - timedelta(hours=100)
    old = post(live_server, auth, report(p, reported_at=then.isoformat())).json()
    within = post(live_server, auth, report(offset(p, 5), reported_at=(then + timedelta(hours=70)).isoformat())).json()
    now = post(live_server, auth, report(offset(p, 5))).json()
    assert within["merged"] and within["case_id"] == old["case_id"]
    assert now["merged"] and now["case_id"] == old["case_id"]  # 30 h after the second report
    later = post(live_server, auth, report(offset(p, 5), reported_at=(then - timedelta(hours=80)).isoformat())).json()
    assert later["merged"] is False


def test_a_more_urgent_report_raises_the_case(live_server, auth, spots):
    p = spots()
    first = post(live_server, auth, report(p)).json()
    post(live_server, auth, report(offset(p, 3), urgency="urgent"))
    case = requests.get(f"{live_server}/api/v1/cases/{first['case_id']}", headers=auth, timeout=10).json()
    assert case["urgency"] == "urgent" and case["version"] == 2


def test_an_address_alone_is_geocoded(live_server, auth, session):
    row = session.execute(text(
        "SELECT address, ST_X(geom), ST_Y(geom) FROM addresses WHERE kind = 'house' ORDER BY id LIMIT 1 OFFSET 777"
    )).one()
    body = {"channel": "citizen", "category": "05001", "description": "路灯不亮", "address": "上海市浦东新区" + row[0]}
    answer = post(live_server, auth, body)
    assert answer.status_code == 201, answer.text
    got = answer.json()
    assert got["location_source"] == "address" and got["geocode_score"] >= 0.95
    located = requests.get(f"{live_server}/api/v1/locate", params={"lon": row[1], "lat": row[2]},
                           headers=auth, timeout=10).json()
    assert got["grid_code"] == located["grid_code"]


def test_gcj02_input_is_stored_in_wgs84(live_server, auth, spots, session):
    p = spots()
    glon, glat = from_wgs84(p.x, p.y, "gcj02")
    got = post(live_server, auth, report(p, lon=glon, lat=glat, crs="gcj02")).json()
    lon, lat = session.execute(select(func.ST_X(Report.geom), func.ST_Y(Report.geom))
                               .where(Report.id == got["report_id"])).one()
    assert abs(lon - p.x) < 1e-6 and abs(lat - p.y) < 1e-6


def test_a_retry_with_the_same_key_returns_the_same_report(app, live_server, auth, spots):
    body = report(spots())
    first = post(live_server, auth, body, key="retry-1")
    before = counts(app)
    again = post(live_server, auth, body, key="retry-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true" and again.json()["replayed"] is True
    assert again.json()["report_id"] == first.json()["report_id"]
    assert counts(app) == before
    changed = post(live_server, auth, dict(body, description="另一件事"), key="retry-1")
    assert changed.status_code == 409 and changed.json()["error"] == "idempotency_key_reused"
    assert counts(app) == before


def test_concurrent_retries_store_one_report(app, live_server, auth, spots):
    body = report(spots())
    before = counts(app)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: post(live_server, auth, body, key="burst-1"), range(8)))
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.json()["report_id"] for a in answers}) == 1
    assert counts(app)[0] == before[0] + 1


def test_concurrent_reports_of_one_problem_make_one_case(live_server, auth, spots):
    p = spots()
    bodies = [report(offset(p, i * 4), reference=f"CALL-{i}") for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        answers = [a.json() for a in pool.map(lambda b: post(live_server, auth, b), bodies)]
    assert len({a["case_id"] for a in answers}) == 1
    assert sorted(a["merged"] for a in answers) == [False] + [True] * 5


def test_a_dispatcher_splits_a_wrongly_merged_report(live_server, auth, dispatcher, spots):
    p = spots()
    first = post(live_server, auth, report(p)).json()
    second = post(live_server, auth, report(offset(p, 20), description="另一处井盖")).json()
    assert second["merged"]
    url = f"{live_server}/api/v1/reports/{second['report_id']}/split"
    assert requests.post(url, json={}, headers=auth, timeout=10).status_code == 403  # intake may not split
    stale = requests.post(url, json={"case_version": 1, "reason": "two manholes"}, headers=dispatcher, timeout=10)
    assert stale.status_code == 409 and stale.json()["error"] == "stale_version"
    split = requests.post(url, json={"case_version": 2, "reason": "two manholes"}, headers=dispatcher, timeout=10)
    assert split.status_code == 201, split.text
    new_id = split.json()["case_id"]
    old = requests.get(f"{live_server}/api/v1/cases/{first['case_id']}", headers=auth, timeout=10).json()
    new = requests.get(f"{live_server}/api/v1/cases/{new_id}", headers=auth, timeout=10).json()
    assert old["report_count"] == 1 and new["report_count"] == 1 and new["split_from"] == first["case_id"]
    assert old["history"][-1]["action"] == "report_split_off" and old["history"][-1]["note"] == "two manholes"
    assert new["history"][0]["action"] == "opened_by_split"
    assert new["reports"][0]["description"] == "另一处井盖"
    again = requests.post(url, json={}, headers=dispatcher, timeout=10)
    assert again.status_code == 409 and again.json()["error"] == "only_report"
    missing = requests.post(f"{live_server}/api/v1/reports/999999999/split", json={}, headers=dispatcher, timeout=10)
    assert missing.status_code == 404


def test_photos_by_upload_and_by_url(live_server, auth, spots):
    body = report(spots(), attachments=["https://example.invalid/p/1.jpg"])
    image = png()
    answer = post(live_server, auth, None, data={"report": json.dumps(body)},
                  files=[("photos", ("井盖.png", image, "image/png"))])
    assert answer.status_code == 201, answer.text
    detail = requests.get(f"{live_server}/api/v1/reports/{answer.json()['report_id']}", headers=auth, timeout=10).json()
    kinds = {a["kind"]: a for a in detail["attachments"]}
    assert kinds["url"]["url"] == "https://example.invalid/p/1.jpg"
    assert kinds["upload"]["filename"] == "井盖.png" and kinds["upload"]["size_bytes"] == len(image)
    got = requests.get(live_server + kinds["upload"]["url"], headers=auth, timeout=10)
    assert got.content == image and got.headers["Content-Type"] == "image/png"


def test_an_upload_that_is_not_an_image_or_too_large_is_refused(app, live_server, auth, spots):
    body = json.dumps(report(spots()))
    before = counts(app)
    files = [("photos", ("x.jpg", b"<script>", "image/jpeg"))]
    fake = post(live_server, auth, None, data={"report": body}, files=files)
    assert fake.status_code == 422 and fake.json()["field"] == "photos"
    limit = app.config["MAX_ATTACHMENT_BYTES"]
    app.config["MAX_ATTACHMENT_BYTES"] = 1000
    try:
        big = post(live_server, auth, None, data={"report": body}, files=[("photos", ("big.png", png(300, 300)))])
    finally:
        app.config["MAX_ATTACHMENT_BYTES"] = limit
    assert big.status_code == 413 and "at most 1000" in big.json()["message"]
    assert counts(app) == before


def test_roles_and_tokens(live_server, make_user, spots):
    handler = {"Authorization": f"Bearer {make_user('handler', department_code='CGZF')[2]}"}
    assert post(live_server, handler, report(spots())).status_code == 403
    assert post(live_server, {}, report(spots())).status_code == 401


@pytest.mark.parametrize(
    ("change", "status", "field", "words"),
    [
        ({"lon": None, "lat": None}, 400, "location", "give lon and lat"),
        ({"lon": "东经121度"}, 400, "lon", "must be a number"),
        ({"lat": float("nan")}, 400, "lat", "finite"),
        ({"lon": float("inf")}, 400, "lon", "finite"),
        ({"lat": 91.0}, 422, "lat", "outside -90..90"),
        ({"lon": 30.9, "lat": 121.9}, 422, "lat", "swapped"),
        ({"lon": 190.0}, 422, "lon", "outside -180..180"),
        ({"lat": None}, 400, "lat", "missing"),
        ({"crs": "mars"}, 422, "crs", "unknown coordinate system"),
        ({"channel": "pigeon"}, 422, "channel", "unknown channel"),
        ({"channel": None}, 400, "channel", "missing"),
        ({"category": "99999"}, 422, "category", "unknown category"),
        ({"category": 1001}, 400, "category", "must be a string"),
        ({"description": "x" * 4001}, 422, "description", "4001 characters"),
        ({"description": "   "}, 400, "description", "missing"),
        ({"urgency": "soon"}, 422, "urgency", "must be one of"),
        ({"lng": 121.9}, 400, "lng", "unknown field"),
        ({"reported_at": "yesterday"}, 400, "reported_at", "ISO 8601"),
        ({"reported_at": "2099-01-01T00:00:00+08:00"}, 422, "reported_at", "future"),
        ({"reporter_phone": "call me"}, 422, "reporter_phone", "not a phone number"),
        ({"attachments": ["javascript:alert(1)"]}, 422, "attachments[0]", "http(s) URL"),
        ({"attachments": "http://x"}, 400, "attachments", "list"),
        ({"lon": None, "lat": None, "address": "火星基地99号"}, 422, "address", "no address in the town matches"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(app, live_server, auth, spots, change, status, field, words):
    body = report(spots())
    body.update(change)
    before = counts(app)
    answer = requests.post(  # allow_nan: NaN and Infinity as some clients really send them
        f"{live_server}/api/v1/reports", data=json.dumps(body, allow_nan=True).encode(),
        headers={**auth, "Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == status, answer.text
    assert answer.json()["field"] == field and words in answer.json()["message"], answer.json()
    assert counts(app) == before


@pytest.mark.parametrize(
    ("data", "content_type", "words"),
    [
        (b'{"channel": "hotline",', "application/json", "not valid JSON"),
        (b"[1, 2]", "application/json", "JSON object"),
        (b"channel=hotline", "application/x-www-form-urlencoded", "send JSON"),
        (b"\xff\xfe\x00garbage", "application/json", "not valid JSON"),
        (b"", "application/json", "not valid JSON"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(app, live_server, auth, data, content_type, words):
    before = counts(app)
    answer = requests.post(f"{live_server}/api/v1/reports", data=data,
                           headers={**auth, "Content-Type": content_type}, timeout=10)
    assert answer.status_code == 400 and words in answer.json()["message"], answer.text
    assert counts(app) == before


def test_channels_and_categories_are_listed(live_server, auth):
    channels = requests.get(f"{live_server}/api/v1/channels", headers=auth, timeout=10).json()["channels"]
    assert {c["code"] for c in channels} == {"hotline", "12345", "video", "app", "patrol", "citizen", "media",
                                             "third_party", "sensor", "district", "workstation"}
    categories = requests.get(f"{live_server}/api/v1/categories", headers=auth, timeout=10).json()["categories"]
    assert any(c["code"] == CATEGORY for c in categories)


def test_case_history_cannot_be_rewritten(app, live_server, auth, spots):
    case_id = post(live_server, auth, report(spots())).json()["case_id"]
    with app.extensions["db"].engine.connect() as conn:
        for statement in ("UPDATE case_events SET note = 'x' WHERE case_id = :id",
                          "DELETE FROM case_events WHERE case_id = :id"):
            with pytest.raises(Exception, match="append-only"):
                with conn.begin():
                    conn.execute(text(statement), {"id": case_id})
