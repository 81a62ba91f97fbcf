"""The field app's API over real HTTP: staff positions (batches refused naming the item, the latest per officer
going stale, a day's track as GeoJSON and GPX, retention), stop visits replayed from the outbox stored once and
checked against the track, feedback photos as files (checked, nothing half-written), the evidence of a case, the
reverse-geocoded address of a field report, and where field staff land after signing in."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import gpxpy
import pytest
import requests
from sqlalchemy import func, select

from app import scheduler
from app.accounts.models import AuditEntry
from app.cases.models import Case, Report
from app.cases.worktime import BEIJING
from app.field.models import CasePhoto, PatrolRoute, StaffPosition
from tests import factories


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def officer(app):
    username, password, token = factories.user(app, "patrol", station_code="JS-002")
    return username, password, factories.bearer(token)


def test_positions_batch_is_stored_and_bad_items_are_named(live_server, officer, make_user, spots):
    _, _, headers = officer
    p, q = spots("JS-002"), spots("JS-002")
    now = datetime.now(UTC)
    good = [{"lon": p.x, "lat": p.y, "recorded_at": _iso(now - timedelta(minutes=3)), "accuracy_m": 8},
            {"lon": q.x, "lat": q.y, "recorded_at": _iso(now - timedelta(minutes=1))}]
    answer = requests.post(f"{live_server}/api/v1/positions", headers=headers, json={"positions": good}, timeout=10)
    assert answer.status_code == 201, answer.text
    assert answer.json()["stored"] == 2
    for bad, field in (
        ({"lon": 121.5, "lat": 31.2, "recorded_at": _iso(now)}, "positions[1]"),  # the Bund: outside the town
        ({"lon": p.x, "lat": p.y, "recorded_at": _iso(now + timedelta(hours=1))}, "positions[1].recorded_at"),
        ({"lon": p.x, "lat": p.y, "recorded_at": _iso(now - timedelta(days=5))}, "positions[1].recorded_at"),
        ({"lon": p.x, "lat": 95, "recorded_at": _iso(now)}, "positions[1].lat"),
    ):
        refused = requests.post(f"{live_server}/api/v1/positions", headers=headers, timeout=10,
                                json={"positions": [good[0], bad]})
        assert 400 <= refused.status_code < 500 and refused.json()["field"] == field, refused.text
    dispatcher = factories.bearer(make_user("dispatcher")[2])
    assert requests.post(f"{live_server}/api/v1/positions", headers=dispatcher, timeout=10,
                         json={"positions": good}).status_code == 403


def test_latest_goes_stale_and_the_track_exports_as_gpx(app, live_server, make_user, spots):
    username, _, token = factories.user(app, "patrol", station_code="JS-002", display_name="巡查员甲")
    headers = factories.bearer(token)
    now = datetime.now(UTC)
    points = [spots("JS-002") for _ in range(3)]
    batch = [{"lon": pt.x, "lat": pt.y, "recorded_at": _iso(now - timedelta(minutes=30 - 5 * i))}
             for i, pt in enumerate(points)]
    assert requests.post(f"{live_server}/api/v1/positions", headers=headers, json={"positions": batch},
                         timeout=10).status_code == 201
    watcher = factories.bearer(make_user("dispatcher")[2])
    latest = requests.get(f"{live_server}/api/v1/positions/latest", headers=watcher, timeout=10).json()
    mine = next(f for f in latest["features"] if f["id"] == username)
    assert mine["geometry"]["coordinates"] == [round(points[2].x, 7), round(points[2].y, 7)]
    assert mine["properties"]["stale"] is True and 19 < mine["properties"]["age_minutes"] < 22
    fresh = [{"lon": points[0].x, "lat": points[0].y, "recorded_at": _iso(now)}]
    requests.post(f"{live_server}/api/v1/positions", headers=headers, json={"positions": fresh}, timeout=10)
    latest = requests.get(f"{live_server}/api/v1/positions/latest", headers=watcher, timeout=10).json()
    assert next(f for f in latest["features"] if f["id"] == username)["properties"]["stale"] is False
    # field staff see only themselves
    other = factories.bearer(factories.user(app, "patrol", station_code="JS-002")[2])
    assert all(f["id"] != username for f in
               requests.get(f"{live_server}/api/v1/positions/latest", headers=other, timeout=10).json()["features"])
    assert requests.get(f"{live_server}/api/v1/positions/track?user={username}", headers=other,
                        timeout=10).status_code == 403
    day = datetime.now(BEIJING).date().isoformat()
    track = requests.get(f"{live_server}/api/v1/positions/track?user={username}&date={day}", headers=watcher,
                         timeout=10).json()
    line = next(f for f in track["features"] if f["properties"]["feature"] == "track")
    assert len(line["geometry"]["coordinates"]) == 4
    gpx = requests.get(f"{live_server}{track['links']['gpx']}", headers=watcher, timeout=10)
    assert gpx.headers["Content-Type"].startswith("application/gpx+xml")
    parsed = gpxpy.parse(gpx.text)
    got = parsed.tracks[0].segments[0].points
    assert len(got) == 4 and abs(got[0].longitude - points[0].x) < 1e-6 and got[0].time is not None


def test_the_scheduler_deletes_positions_past_the_retention(session, officer):
    """In the test's own transaction (rolled back): the scheduler's other jobs must not touch the shared cases."""
    from app.accounts.models import User

    uid = session.scalar(select(User.id).where(User.username == officer[0]))
    now = datetime.now(UTC)
    for days in (40, 31, 29, 1):
        at = now - timedelta(days=days)
        session.add(StaffPosition(user_id=uid, recorded_at=at, received_at=at, geom="SRID=4326;POINT(121.9 30.9)"))
    session.flush()
    result = scheduler.run_once(session, now, retention_days=30)
    assert result["positions"]["deleted"] >= 2
    left = session.scalars(select(StaffPosition.recorded_at).where(StaffPosition.user_id == uid)).all()
    assert left and min(left) >= now - timedelta(days=30)
    assert sum(1 for at in left if at < now - timedelta(days=28)) == 1  # the one 29 days old stays


def _route(app, username: str, station: str, stops: list) -> int:
    """A stored route of a past day (no other route has it) with stops at these points (no solver: the visits
    are what is tested)."""
    with app.extensions["db"].transaction() as s:
        route = PatrolRoute(station_code=station, day=datetime.now(BEIJING).date() - timedelta(days=400 + len(stops)),
                            shift_minutes=240, speed_kph=15, assignee=username, length_m=1000, duration_s=600, value=1,
                            stops=[{"seq": i + 1, "kind": "cell", "ref": f"c{i}", "label": f"热点网格 c{i}",
                                    "lon": p.x, "lat": p.y, "value": 1, "arrive_s": 60 * i}
                                   for i, p in enumerate(stops)],
                            solver={}, created_by="test")
        s.add(route)
        s.flush()
        return route.id


def test_a_visit_replayed_is_stored_once_and_checked_against_the_track(app, live_server, spots):
    username, _, token = factories.user(app, "patrol", station_code="JS-002")
    headers = factories.bearer(token)
    near, far = spots("JS-002"), spots("JS-002")
    route_id = _route(app, username, "JS-002", [near, far])
    with app.extensions["db"].transaction() as s:
        day = s.get(PatrolRoute, route_id).day
    at = datetime.combine(day, datetime.min.time(), BEIJING) + timedelta(hours=10)
    with app.extensions["db"].transaction() as s:
        from app.accounts.models import User

        uid = s.scalar(select(User.id).where(User.username == username))
        s.add(StaffPosition(user_id=uid, recorded_at=at, received_at=at, geom=f"SRID=4326;POINT({near.x} {near.y})"))
    key = str(uuid.uuid4())
    for _ in range(2):  # the outbox sends again when the first answer was lost
        answer = requests.post(f"{live_server}/api/v1/patrols/{route_id}/stops/1/visited", timeout=10,
                               headers={**headers, "Idempotency-Key": key}, json={"at": _iso(at)})
        assert answer.status_code == 200, answer.text
    assert answer.headers.get("Idempotent-Replayed") == "true"
    assert requests.post(f"{live_server}/api/v1/patrols/{route_id}/stops/2/visited", headers=headers, timeout=10,
                         json={"at": _iso(at)}).status_code == 200
    with app.extensions["db"].transaction() as s:
        visits = s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "patrol_route.visit", AuditEntry.entity_id == str(route_id)))
    assert visits == 2
    body = requests.get(f"{live_server}/api/v1/patrols/{route_id}", headers=headers, timeout=10).json()
    stops = {f["properties"]["seq"]: f["properties"] for f in body["features"] if f["properties"]["feature"] == "stop"}
    assert stops[1]["far_from_track"] is False and stops[1]["track_distance_m"] < 1
    assert stops[2]["far_from_track"] is True and stops[2]["track_distance_m"] > 300


def _dispatched_to_department(app, point, department="CGZF") -> int:
    case_id = factories.report(app, point, category="06010", description="井盖破损").report.case_id
    factories.walk(app, case_id, "filed")
    factories.act(app, case_id, factories.actor(app, "dispatcher"), "dispatch",
                  owner={"kind": "department", "code": department}, reason="测试派单")
    return case_id


def test_feedback_photos_as_files_checked_and_nothing_half_written(app, live_server, spots, tmp_path):
    case_id = _dispatched_to_department(app, spots())
    handler = factories.bearer(factories.user(app, "handler", department_code="CGZF")[2])
    url = f"{live_server}/api/v1/field/cases/{case_id}/actions"
    accepted = requests.post(url, headers={**handler, "Idempotency-Key": "acc-" + uuid.uuid4().hex}, timeout=10,
                             json={"action": "accept", "version": 4})
    assert accepted.status_code == 200 and accepted.json()["state"] == "in_progress", accepted.text
    version = accepted.json()["version"]
    # a file that is no image: refused, and neither the step nor any photo is stored
    refused = requests.post(url, headers=handler, timeout=10, data={
        "action": json.dumps({"action": "feedback", "version": version, "note": "已修复"})},
        files=[("before", ("a.jpg", factories.png(4, 4), "image/png")),
               ("after", ("b.jpg", b"not an image", "image/jpeg"))])
    assert refused.status_code == 422 and refused.json()["field"] == "photos", refused.text
    stale = requests.post(url, headers=handler, timeout=10, data={
        "action": json.dumps({"action": "feedback", "version": version - 1})},
        files=[("after", ("b.png", factories.png(4, 4), "image/png"))])
    assert stale.status_code == 409
    with app.extensions["db"].transaction() as s:
        assert s.get(Case, case_id).state == "in_progress"
        assert s.scalar(select(func.count()).select_from(CasePhoto).where(CasePhoto.case_id == case_id)) == 0
    key = "fb-" + uuid.uuid4().hex
    parts = {"data": {"action": json.dumps({"action": "feedback", "version": version, "note": "已修复"})},
             "files": [("before", ("a.png", factories.png(4, 4), "image/png")),
                       ("after", ("b.png", factories.png(6, 6), "image/png"))]}
    done = requests.post(url, headers={**handler, "Idempotency-Key": key}, timeout=10, **parts)
    again = requests.post(url, headers={**handler, "Idempotency-Key": key}, timeout=10, **parts)
    assert done.status_code == again.status_code == 200, done.text
    assert done.json()["state"] == "handled" and again.json()["replayed"] is True
    evidence = requests.get(f"{live_server}/api/v1/cases/{case_id}/evidence", headers=handler, timeout=10).json()
    assert [p["source"] for p in evidence["before"]] == ["feedback"] and len(evidence["after"]) == 1
    assert evidence["has_feedback_photo"] is True and evidence["feedback"]["note"] == "已修复"
    photo = requests.get(f"{live_server}{evidence['after'][0]['url']}", headers=handler, timeout=10)
    assert photo.headers["Content-Type"] == "image/png" and photo.content == factories.png(6, 6)
    with app.extensions["db"].transaction() as s:
        assert s.scalar(select(func.count()).select_from(CasePhoto).where(CasePhoto.case_id == case_id)) == 2
    # another department's handler sees neither the evidence nor the photo
    stranger = factories.bearer(factories.user(app, "handler", department_code="GA")[2])
    assert requests.get(f"{live_server}{evidence['after'][0]['url']}", headers=stranger, timeout=10).status_code == 404


def test_a_field_report_gets_the_nearest_address(app, live_server, officer, spots):
    _, _, headers = officer
    with app.extensions["db"].transaction() as s:
        from app.territory import caches

        geocoder = caches.geocoder(s)
        p = next(pt for pt in (spots("JS-002") for _ in range(40)) if geocoder.reverse(pt.x, pt.y, 300) is not None)
        expected = geocoder.reverse(p.x, p.y, 300).address
    answer = requests.post(f"{live_server}/api/v1/reports", headers=headers, timeout=10, json={
        "channel": "patrol", "category": "06010", "description": "巡查发现", "lon": p.x, "lat": p.y})
    assert answer.status_code == 201, answer.text
    assert answer.json()["geocoded_address"] == expected
    with app.extensions["db"].transaction() as s:
        report = s.get(Report, answer.json()["report_id"])
        assert report.geocoded_address == expected and s.get(Case, report.case_id).address == expected


@pytest.mark.parametrize("role,landing", [("patrol", "/field"), ("handler", "/field"), ("dispatcher", "/")])
def test_field_staff_land_on_the_field_app(live_server, make_user, role, landing):
    username, password, _ = make_user(role)
    s = requests.Session()
    page = s.get(f"{live_server}/login", timeout=10)
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    answer = s.post(f"{live_server}/login?next=/", data={"username": username, "password": password,
                                                         "csrf_token": csrf}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302 and answer.headers["Location"].endswith(landing)


def test_manifest_and_service_worker_are_served(live_server):
    manifest = requests.get(f"{live_server}/field/manifest.webmanifest", timeout=10)
    assert manifest.headers["Content-Type"].startswith("application/manifest+json")
    assert manifest.json()["scope"] == "/field" and manifest.json()["start_url"] == "/field"
    worker = requests.get(f"{live_server}/field/sw.js", timeout=10)
    assert worker.status_code == 200 and worker.headers["Service-Worker-Allowed"] == "/field"
    assert "javascript" in worker.headers["Content-Type"] and "/api/v1/layers/roads" in worker.text


def test_the_field_app_in_chinese_and_english(live_server, make_user):
    username, password, _ = make_user("handler")
    s = requests.Session()
    csrf = s.get(f"{live_server}/login", timeout=10).text.split('name="csrf_token" value="')[1].split('"')[0]
    page = s.post(f"{live_server}/login", data={"username": username, "password": password, "csrf_token": csrf},
                  timeout=10)
    assert page.url.endswith("/field") and "现场巡查" in page.text
    assert _context(page.text)["strings"]["next_stop"] == "下一站"
    assert "script-src 'self' 'nonce-" in page.headers["Content-Security-Policy"]
    assert "<script>" not in page.text  # no inline script: the context is JSON data, the code comes from /static
    english = s.get(f"{live_server}/field?lang=en", timeout=10)
    assert "Field app" in english.text and _context(english.text)["strings"]["next_stop"] == "Next stop"


def _context(html: str) -> dict:
    return json.loads(html.split('id="nh-context">')[1].split("</script>")[0])
