"""Regression tests of the hardening issue: no planner save can break intake, no edit is lost, every bad
input a 4xx, scope everywhere. Each test names the finding it guards."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select, text

from app.accounts.models import User
from app.cases.models import Case, SupervisionOrder
from app.territory.models import BoundaryVersion, Station, StationCoverage

SQUARE_M = [[592800, 3417800], [593200, 3417800], [593200, 3418200], [592800, 3418200], [592800, 3417800]]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def square(lon: float, lat: float, d: float = 0.004) -> list:
    return [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]]


def x_station(code: str, ring: list, lon: float = 121.90, lat: float = 30.92, base: int | None = None) -> dict:
    body = {"coverage": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"station_code": code, "carve": True},
         "geometry": {"type": "Polygon", "coordinates": ring}}]},
            "new_stations": [{"code": code, "name": f"测试站{code}", "lon": lon, "lat": lat}], "reason": "test"}
    if base is not None:
        body["base_version"] = base
    return body


def current_version(session) -> int:
    return session.scalar(select(func.max(BoundaryVersion.id)))


# --------------------------------------------------------------------------------------------
# 1. A broken proposal is refused before anything else; intake never fails
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("ring", "words"), [
    ([SQUARE_M], "metres"),
    (square(121.9, 30.92, 1e307), "not a longitude"),
    ([[[121.9, 30.9], [121.95, 30.9], [121.95, 100.0], [121.9, 30.9]]], "latitude"),
    ([[[-179, -89], [179, -89], [179, 89], [-179, 89], [-179, -89]]], "beyond the town"),
])
def test_a_proposal_in_metres_out_of_range_or_over_the_world_is_refused(app, live_server, make_user, spots, ring,
                                                                       words, session):
    planner = bearer(make_user("planner")[2])
    base = current_version(session)
    for path in ("/api/v1/planning/coverage/preview", "/api/v1/planning/coverage"):
        answer = requests.post(f"{live_server}{path}", headers=planner, json=x_station("JS-901", ring, base=base),
                               timeout=30)
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "coverage[0]" and words in answer.json()["message"], answer.json()
        assert answer.json()["message_zh"]
    p = spots()
    intake = bearer(make_user("intake")[2])
    filed = requests.post(f"{live_server}/api/v1/reports", headers=intake, timeout=30, json={
        "channel": "hotline", "category": "06010", "description": "井盖缺失", "lon": p.x, "lat": p.y})
    assert filed.status_code == 201, filed.text


# --------------------------------------------------------------------------------------------
# Dates outside what Python and PostgreSQL both hold, on every endpoint
# --------------------------------------------------------------------------------------------

DATES = ("0001-01-01", "9999-12-31", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00")


@pytest.mark.parametrize("raw", DATES)
@pytest.mark.parametrize("path", [
    "/api/v1/digest?date={d}", "/api/v1/alerts?date={d}", "/api/v1/kpi?from={d}", "/api/v1/kpi?to={d}",
    "/api/v1/hotspots?from={d}", "/api/v1/hotspots/emerging?to={d}", "/api/v1/stats/grid-counts?from={d}",
    "/api/v1/patrols?date={d}", "/api/v1/cases?from={d}", "/ogc/collections/cases/items?datetime={d}",
    "/open311/v2/requests.json?end_date={d}&api_key={key}",
])
def test_dates_out_of_range_are_refused_on_every_endpoint(live_server, make_user, path, raw):
    _, _, token = make_user("dispatcher")
    answer = requests.get(live_server + path.format(d=raw, key=token), headers=bearer(token), timeout=60)
    assert 400 <= answer.status_code < 500, (path, raw, answer.status_code, answer.text[:300])


@pytest.mark.parametrize("due", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_a_hostile_due_date_is_refused_and_the_list_keeps_working(app, live_server, make_user, spots, due):
    supervisor = bearer(make_user("supervisor")[2])
    p = spots()
    case_id = requests.post(f"{live_server}/api/v1/reports", headers=bearer(make_user("intake")[2]), timeout=30,
                            json={"channel": "hotline", "category": "06010", "description": "督办日期",
                                  "lon": p.x, "lat": p.y}).json()["case_id"]
    answer = requests.post(f"{live_server}/api/v1/cases/{case_id}/supervision", headers=supervisor, timeout=30,
                           json={"method": "phone", "reason": "催办", "due_at": due})
    assert answer.status_code == 422 and answer.json()["field"] == "due_at", answer.text
    assert requests.get(f"{live_server}/api/v1/supervision", headers=supervisor, timeout=30).status_code == 200


# --------------------------------------------------------------------------------------------
# 4-6, 12. Scope: orders, empty scopes, digest and KPI lists, 404 before 409
# --------------------------------------------------------------------------------------------


def _case_owned_by(live_server, make_user, spots, department: str) -> dict:
    p = spots()
    intake, dispatcher = bearer(make_user("intake")[2]), bearer(make_user("dispatcher")[2])
    case_id = requests.post(f"{live_server}/api/v1/reports", headers=intake, timeout=30, json={
        "channel": "hotline", "category": "06010", "description": "范围测试", "lon": p.x, "lat": p.y}).json()["case_id"]
    case = requests.get(f"{live_server}/api/v1/cases/{case_id}", headers=dispatcher, timeout=30).json()
    for action, who, extra in (("verify", intake, {}), ("file", dispatcher, {}),
                               ("dispatch", dispatcher, {"owner": {"kind": "department", "code": department},
                                                         "reason": "测试"})):
        case = requests.post(f"{live_server}/api/v1/cases/{case_id}/actions", headers=who, timeout=30,
                             json={"action": action, "version": case["version"], **extra}).json()
    return case


def test_supervision_orders_follow_the_case_scope(app, live_server, make_user, spots):
    case = _case_owned_by(live_server, make_user, spots, "LGJT")
    supervisor = bearer(make_user("supervisor")[2])
    order = requests.post(f"{live_server}/api/v1/cases/{case['id']}/supervision", headers=supervisor, timeout=30,
                          json={"method": "phone", "reason": "机密理由：请尽快处置"}).json()
    other = bearer(make_user("handler", department_code="CGZF")[2])
    listed = requests.get(f"{live_server}/api/v1/supervision", headers=other, timeout=30).json()["orders"]
    assert order["id"] not in {o["id"] for o in listed}
    assert requests.get(f"{live_server}/api/v1/supervision/{order['id']}", headers=other, timeout=30).status_code == 404
    answer = requests.post(f"{live_server}/api/v1/supervision/{order['id']}/actions", headers=other, timeout=30,
                           json={"action": "answer", "note": "不是我的"})
    assert answer.status_code == 404
    owner = bearer(make_user("handler", department_code="LGJT")[2])
    answer = requests.post(f"{live_server}/api/v1/supervision/{order['id']}/actions", headers=owner, timeout=30,
                           json={"action": "answer", "note": "已处理"})
    assert answer.status_code == 200 and answer.json()["state"] == "answered"


def test_a_role_with_a_scope_cannot_exist_without_it(app):
    from app.accounts import users

    with app.extensions["db"].transaction() as s:
        with pytest.raises(users.UserError, match="needs a station"):
            users.add_user(s, "p_nostation", "patrol", "correct horse battery")
        with pytest.raises(users.UserError, match="needs a department"):
            users.add_user(s, "h_nodept", "handler", "correct horse battery")
        users.add_user(s, "d_later_patrol", "dispatcher", "correct horse battery")
        with pytest.raises(users.UserError, match="needs a station"):
            users.set_role(s, "d_later_patrol", "patrol")
        s.rollback()


def test_an_empty_scope_sees_nothing(app, live_server, make_user):
    username, _, token = make_user("patrol", station_code="JS-001")
    with app.extensions["db"].transaction() as s:  # as an old database may hold: a patrol officer without station
        s.execute(text("UPDATE users SET station_code = NULL WHERE username = :u"), {"u": username})
    try:
        cases = requests.get(f"{live_server}/ogc/collections/cases/items", headers=bearer(token), timeout=60).json()
        assert cases["numberMatched"] == 0
        assert requests.get(f"{live_server}/api/v1/cases", headers=bearer(token), timeout=30).json()[
            "numberMatched"] == 0
    finally:
        with app.extensions["db"].transaction() as s:
            s.execute(text("UPDATE users SET station_code = 'JS-001' WHERE username = :u"), {"u": username})


def test_digest_and_kpi_lists_are_scoped(app, live_server, make_user, spots):
    case = _case_owned_by(live_server, make_user, spots, "LGJT")
    with app.extensions["db"].transaction() as s:  # make it overdue
        s.execute(text("UPDATE cases SET deadline_at = now() - interval '1 day', warn_at = now() - interval '2 days' "
                       "WHERE id = :id"), {"id": case["id"]})
    other_name, _, other_token = make_user("handler", department_code="CGZF")
    other = bearer(other_token)
    mine_name, _, mine_token = make_user("handler", department_code="LGJT")
    mine = bearer(mine_token)
    digest_other = requests.get(f"{live_server}/api/v1/digest?span=week", headers=other, timeout=60).json()
    digest_mine = requests.get(f"{live_server}/api/v1/digest?span=week", headers=mine, timeout=60).json()
    assert case["id"] not in {c["case_id"] for c in digest_other["overdue"]}
    assert case["id"] in {c["case_id"] for c in digest_mine["overdue"]}
    version = case["version"]
    for action, extra in (("accept", {}), ("feedback", {"note": "已处置"})):  # mine now has a row by person
        version = requests.post(f"{live_server}/api/v1/cases/{case['id']}/actions", headers=mine, timeout=30,
                                json={"action": action, "version": version, **extra}).json()["version"]
    everyone = requests.get(f"{live_server}/api/v1/kpi?by=person", headers=bearer(make_user("leader")[2]),
                            timeout=60).json()["rows"]
    assert mine_name in {r["group"] for r in everyone}
    rows = requests.get(f"{live_server}/api/v1/kpi?by=person", headers=other, timeout=60).json()["rows"]
    assert {r["group"] for r in rows} <= {other_name}


def test_a_stale_version_out_of_scope_is_not_found(app, live_server, make_user, spots):
    case = _case_owned_by(live_server, make_user, spots, "LGJT")
    other = bearer(make_user("handler", department_code="CGZF")[2])
    answer = requests.post(f"{live_server}/api/v1/cases/{case['id']}/actions", headers=other, timeout=30,
                           json={"action": "accept", "version": case["version"] - 1})
    assert answer.status_code == 404 and "state" not in answer.json() and "case_version" not in answer.json()


# --------------------------------------------------------------------------------------------
# 8. Cookies: SameSite, and sign-out ends the session on the server
# --------------------------------------------------------------------------------------------


def test_sign_out_ends_a_copied_cookie(app, live_server, make_user):
    username, password, _ = make_user("dispatcher")
    browser = requests.Session()
    login = browser.get(f"{live_server}/login", timeout=30)
    token = login.text.split('name="csrf_token" value="')[1].split('"')[0]
    signed = browser.post(f"{live_server}/login", data={"username": username, "password": password,
                                                        "csrf_token": token}, allow_redirects=False, timeout=30)
    assert signed.status_code == 302 and "SameSite=Lax" in signed.headers["Set-Cookie"]
    copied = requests.Session()
    copied.cookies.update(browser.cookies)
    assert copied.get(f"{live_server}/api/v1/me", timeout=30).status_code == 200
    page = browser.get(f"{live_server}/", timeout=30).text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert browser.post(f"{live_server}/logout", data={"csrf_token": token}, allow_redirects=False,
                        timeout=30).status_code == 302
    assert copied.get(f"{live_server}/api/v1/me", timeout=30).status_code == 401


# --------------------------------------------------------------------------------------------
# 9-10. Text, depth, types and garbage settings
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "field"), [
    ("/api/v1/cases?category=%00", "category"),
    ("/ogc/collections/grid_cells/items/%00", None),
    ("/api/v1/geocode?q=%E6%B5%8B%00", "q"),
])
def test_a_nul_in_a_query_or_path_is_a_400(live_server, make_user, path, field):
    answer = requests.get(live_server + path, headers=bearer(make_user("dispatcher")[2]), timeout=30)
    assert answer.status_code == 400, answer.text
    if field:
        assert answer.json()["field"] == field


@pytest.mark.parametrize("text", ["a\x00b", "lone \ud800 surrogate"])
def test_a_nul_or_lone_surrogate_in_a_body_is_a_400(app, live_server, make_user, spots, text):
    import json

    p = spots()
    body = json.dumps({"channel": "hotline", "category": "06010", "description": text, "lon": p.x, "lat": p.y})
    answer = requests.post(f"{live_server}/api/v1/reports", data=body, timeout=30,
                           headers={**bearer(make_user("intake")[2]), "Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["field"] == "description", answer.text


def test_json_nested_deeply_is_refused_before_parsing(live_server, make_user):
    body = "[" * 100_000 + "]" * 100_000
    for path in ("/api/v1/reports", "/api/v1/dispatch-rules", "/api/v1/planning/coverage/preview"):
        role = {"/api/v1/reports": "intake", "/api/v1/dispatch-rules": "admin"}.get(path, "planner")
        answer = requests.post(live_server + path, data=body, timeout=30,
                               headers={**bearer(make_user(role)[2]), "Content-Type": "application/json"})
        assert answer.status_code == 400 and "deeper" in answer.json()["message"], answer.text


@pytest.mark.parametrize(("key", "value", "words"), [
    ("working_periods", [["25:99", "26:00"]], "HH:MM"),
    ("working_periods", [["13:00", "17:30"], ["08:30", "14:00"]], "overlap"),
    ("dispatch_limit_hours", True, "number"),
    ("kpi_weights", {"closure_rate": 0.5, "bananas": 0.5}, "unknown part"),
    ("kpi_grades", [["A", 1e309]], ""),
    ("near_due_share", 0, "more than"),
])
def test_garbage_settings_are_refused(app, live_server, make_user, key, value, words):
    import json

    admin = bearer(make_user("admin")[2])
    body = json.dumps({"value": value}, allow_nan=True)
    answer = requests.put(f"{live_server}/api/v1/settings/{key}", data=body, timeout=30,
                          headers={**admin, "Content-Type": "application/json"})
    assert answer.status_code in (400, 422), answer.text
    assert words in answer.json()["message"]
    assert requests.post(f"{live_server}/api/v1/reports", headers=bearer(make_user("intake")[2]), timeout=30,
                         json={}).status_code == 400  # intake still answers 4xx, not 500


@pytest.mark.parametrize(("body", "field"), [
    ({"priority": 1, "name": "x", "target": "town_center", "channel": 12}, "channel"),
    ({"priority": 1, "name": "x", "target": "town_center", "channel": "x" * 21}, "channel"),
    ({"priority": 1, "name": "x", "target": "town_center", "channel": "pigeon"}, "channel"),
    ({"priority": 1, "name": "x", "target": "town_center", "helpers": [[[[[[["CGZF"]]]]]]]}, "helpers[0]"),
])
def test_dispatch_rules_are_type_checked(app, live_server, make_user, body, field):
    answer = requests.post(f"{live_server}/api/v1/dispatch-rules", headers=bearer(make_user("admin")[2]),
                           json=body, timeout=30)
    assert answer.status_code in (400, 422) and answer.json()["field"] == field, answer.text


def test_a_report_from_years_ago_is_refused(live_server, make_user, spots):
    p = spots()
    answer = requests.post(f"{live_server}/api/v1/reports", headers=bearer(make_user("intake")[2]), timeout=30,
                           json={"channel": "hotline", "category": "06010", "description": "很久以前",
                                 "lon": p.x, "lat": p.y, "reported_at": "2000-01-01T00:00:00+08:00"})
    assert answer.status_code == 422 and answer.json()["field"] == "reported_at", answer.text


def test_the_sign_in_redirect_refuses_a_header_split(live_server, make_user):
    username, password, _ = make_user("dispatcher")
    browser = requests.Session()
    token = browser.get(f"{live_server}/login", timeout=30).text.split('name="csrf_token" value="')[1].split('"')[0]
    answer = browser.post(f"{live_server}/login?next=/%0D%0ASet-Cookie:x=1", allow_redirects=False, timeout=30,
                          data={"username": username, "password": password, "csrf_token": token})
    assert answer.status_code == 302 and "x=1" not in answer.headers.get("Set-Cookie", "")
    assert answer.headers["Location"].endswith("/")


# --------------------------------------------------------------------------------------------
# 13. Vendor paths; 14. someone else checks a result
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/vendor/leaflet/../lodash/package.json",
                                  "/vendor/leaflet/%2e%2e/lodash/package.json", "/vendor/leaflet"])
def test_vendor_paths_stay_in_their_package(live_server, path):
    assert requests.get(live_server + path, timeout=30).status_code == 404


def test_the_officer_who_reported_the_result_cannot_check_it(app, live_server, make_user, spots):
    patrol_name, _, patrol_token = make_user("patrol", station_code="JS-001")
    p = spots()
    intake, dispatcher = bearer(make_user("intake")[2]), bearer(make_user("dispatcher")[2])
    case_id = requests.post(f"{live_server}/api/v1/reports", headers=intake, timeout=30, json={
        "channel": "patrol", "category": "06010", "description": "自查自核", "lon": p.x, "lat": p.y}).json()["case_id"]
    with app.extensions["db"].transaction() as s:
        station = s.get(Case, case_id).station_code
    patrol = bearer(make_user("patrol", station_code=station)[2])
    case = requests.get(f"{live_server}/api/v1/cases/{case_id}", headers=dispatcher, timeout=30).json()
    for action, who, extra in (("verify", intake, {}), ("file", dispatcher, {}),
                               ("dispatch", dispatcher, {"owner": {"kind": "station", "code": station},
                                                         "reason": "测试"}),
                               ("accept", patrol, {}), ("feedback", patrol, {"note": "已处置"})):
        case = requests.post(f"{live_server}/api/v1/cases/{case_id}/actions", headers=who, timeout=30,
                             json={"action": action, "version": case["version"], **extra}).json()
    own = requests.post(f"{live_server}/api/v1/cases/{case_id}/actions", headers=patrol, timeout=30,
                        json={"action": "check", "version": case["version"]})
    assert own.status_code == 403 and "another officer" in own.json()["message"], own.text
    done = requests.post(f"{live_server}/api/v1/cases/{case_id}/actions", headers=intake, timeout=30,
                         json={"action": "check", "version": case["version"]})
    assert done.status_code == 200 and done.json()["state"] == "checked"
    assert patrol_name and patrol_token


# --------------------------------------------------------------------------------------------
# Boundary writes: their own database (they change the territory)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def own(make_database):
    """An app and a live server on a database of their own."""
    from werkzeug.serving import make_server

    from app import create_app
    from app.accounts import users

    url = make_database("harden").render_as_string(hide_password=False)
    application = create_app({"DATABASE_URL": url, "SECRET_KEY": "t", "TESTING": True})
    assert application.test_cli_runner().invoke(args=["setup"]).exit_code == 0
    tokens = {}
    with application.extensions["db"].transaction() as s:
        for role in ("planner", "intake", "dispatcher"):
            users.add_user(s, f"own_{role}", role, "correct horse battery")
            tokens[role] = users.issue_token(s, f"own_{role}")
    server = make_server("127.0.0.1", 0, application, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield application, f"http://127.0.0.1:{server.server_port}", tokens
    server.shutdown()
    application.extensions["db"].engine.dispose()


def test_two_planners_racing_one_saves_the_other_gets_409(own):
    application, url, tokens = own
    with application.extensions["db"].transaction() as s:
        base = current_version(s)
    planner = bearer(tokens["planner"])
    answers = []

    def save(code: str, lon: float) -> None:
        answers.append(requests.post(f"{url}/api/v1/planning/coverage", headers=planner, timeout=120,
                                     json=x_station(code, square(lon, 30.92, 0.003), lon, 30.92, base)))

    threads = [threading.Thread(target=save, args=(c, lon)) for c, lon in (("JS-801", 121.88), ("JS-802", 121.96))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    lost = next(a for a in answers if a.status_code == 409).json()
    assert lost["error"] == "stale_base" and lost["base_version"] == base and lost["changes"]
    with application.extensions["db"].transaction() as s:
        parents = s.scalars(select(BoundaryVersion.parent_id).where(BoundaryVersion.parent_id.is_not(None))).all()
        assert len(parents) == len(set(parents))  # a linear chain
        winner = next(a for a in answers if a.status_code == 201).json()["boundary_version"]
        codes = set(s.scalars(select(StationCoverage.station_code).where(StationCoverage.version_id == winner)))
        created = set(s.scalars(select(Station.code).where(Station.code.in_(("JS-801", "JS-802")))))
        assert created <= codes  # no station exists without territory


def test_a_save_that_waited_on_the_lock_sees_the_version_committed_meanwhile(own):
    """The interleaving behind racing planners: B's transaction starts, A saves and commits, then B takes
    the boundary lock. B must see A's version (whose effective_from is later than B's start)."""
    from app.territory import boundaries as bs

    application, _, _ = own
    db = application.extensions["db"]
    with db.transaction() as late:
        before = bs.current_version_id(late)  # B's transaction is open from here
        with db.transaction() as s:
            layers = bs.current_layers(s)
            written = bs.write_version(s, layers, {"station_coverage"}, "test", "A saves first", "coverage_edit",
                                       None).version_id
        bs.lock_for_write(late)
        assert bs.current_version_id(late) == written != before


def test_an_x_station_across_edges_is_carved_and_a_report_inside_goes_to_it(own):
    application, url, tokens = own
    from app.territory import caches

    with application.extensions["db"].transaction() as s:
        base = current_version(s)
        areas = [a.geom for a in caches.ownership(s).coverage]
    shared = max((a.boundary.intersection(b.boundary) for i, a in enumerate(areas) for b in areas[i + 1:]),
                 key=lambda line: line.length)  # the longest edge between two territories
    point = shared.interpolate(0.5, normalized=True)
    corner = (point.x, point.y)
    lon, lat = corner
    saved = requests.post(f"{url}/api/v1/planning/coverage", headers=bearer(tokens["planner"]), timeout=120,
                          json=x_station("JS-811", square(lon, lat, 0.004), lon, lat, base))
    assert saved.status_code == 201, saved.text
    filed = requests.post(f"{url}/api/v1/reports", headers=bearer(tokens["intake"]), timeout=60, json={
        "channel": "hotline", "category": "06010", "description": "新站内", "lon": lon + 0.001, "lat": lat + 0.001})
    assert filed.status_code == 201 and filed.json()["station"]["code"] == "JS-811", filed.text


def test_a_planner_restores_an_earlier_version(own):
    application, url, tokens = own
    with application.extensions["db"].transaction() as s:
        first = s.scalar(select(func.min(BoundaryVersion.id)))
        current = current_version(s)
    answer = requests.post(f"{url}/api/v1/planning/versions/{first}/restore", headers=bearer(tokens["planner"]),
                           timeout=120, json={"reason": "回退到最初的辖区", "base_version": current})
    assert answer.status_code == 201, answer.text
    with application.extensions["db"].transaction() as s:
        new = answer.json()["boundary_version"]
        restored = s.execute(text(
            "SELECT count(*) FROM station_coverage a JOIN station_coverage b ON a.station_code = b.station_code "
            "AND ST_Equals(a.geom, b.geom) WHERE a.version_id = :old AND b.version_id = :new"),
            {"old": first, "new": new}).scalar()
        assert restored == s.scalar(select(func.count()).where(StationCoverage.version_id == first))


def test_a_version_that_cannot_be_indexed_leaves_intake_on_the_previous_one(own):
    application, url, tokens = own
    intake = bearer(tokens["intake"])
    body = {"channel": "hotline", "category": "06010", "description": "坏版本期间", "lon": 121.93, "lat": 30.88}
    assert requests.post(f"{url}/api/v1/reports", headers=intake, json=body, timeout=60).status_code == 201
    with application.extensions["db"].transaction() as s:  # written behind the checks' back, as an import could
        good = current_version(s)
        s.execute(text("INSERT INTO boundary_versions (kind, reason, created_by, parent_id, layers) "
                       "VALUES ('import', 'broken', 'test', :p, '[\"station_coverage\"]')"), {"p": good})
        bad = current_version(s)
        s.execute(text("INSERT INTO station_coverage (version_id, station_code, area_m2, illustrative, geom) "
                       "SELECT :bad, station_code, area_m2, illustrative, "
                       "CASE WHEN station_code = 'JS-001' THEN ST_Multi(ST_GeomFromText("
                       "'POLYGON((121.9 30.9, NaN 30.9, 121.95 30.95, 121.9 30.9))', 4326)) ELSE geom END "
                       "FROM station_coverage WHERE version_id = :good"), {"bad": bad, "good": good})
    try:
        filed = requests.post(f"{url}/api/v1/reports", headers=intake, json={**body, "lon": 121.931}, timeout=60)
        assert filed.status_code == 201 and filed.json()["boundary_version"] == good, filed.text
        health = requests.get(f"{url}/healthz", timeout=30).json()
        assert health["status"] == "degraded" and health["indexes"]["ownership"]["stale"]
        assert health["indexes"]["ownership"]["wanted"] == bad and health["indexes"]["ownership"]["serving"] == good
    finally:
        with application.extensions["db"].transaction() as s:
            s.execute(text("ALTER TABLE station_coverage DISABLE TRIGGER station_coverage_immutable"))
            s.execute(text("DELETE FROM station_coverage WHERE version_id = :bad"), {"bad": bad})
            s.execute(text("ALTER TABLE station_coverage ENABLE TRIGGER station_coverage_immutable"))
            s.execute(text("ALTER TABLE boundary_versions DISABLE TRIGGER boundary_versions_immutable"))
            s.execute(text("DELETE FROM boundary_versions WHERE id = :bad"), {"bad": bad})
            s.execute(text("ALTER TABLE boundary_versions ENABLE TRIGGER boundary_versions_immutable"))


def test_a_report_filed_while_a_save_commits_lands_on_the_new_version(own):
    from app.cases import intake
    from app.cases.intake import IntakeSettings
    from app.territory import boundaries

    application, _, _ = own
    db = application.extensions["db"]
    with db.transaction() as s:
        user = s.scalar(select(User).where(User.username == "own_intake"))
        s.expunge(user)
    inp = intake.parse_report({"channel": "hotline", "category": "06010", "description": "保存期间",
                               "lon": 121.935, "lat": 30.885})
    writer = db.sessionmaker()
    writer.begin()
    boundaries.lock_for_write(writer)  # a save holds the lock ...
    got = {}

    def file() -> None:
        with db.transaction() as s:
            got["version"] = intake.submit_report(s, IntakeSettings(), user, inp).report.boundary_version_id

    thread = threading.Thread(target=file)
    thread.start()
    thread.join(2.0)
    assert thread.is_alive()  # ... the report waits for it
    layers = boundaries.current_layers(writer)
    summary = boundaries.write_version(writer, layers, {"station_coverage"}, "test", "during intake", "coverage_edit",
                                       None)
    writer.commit()
    writer.close()
    thread.join(60)
    assert got["version"] == summary.version_id


def test_nothing_written_when_a_proposal_is_refused(own):
    application, url, tokens = own
    with application.extensions["db"].transaction() as s:
        before = (current_version(s), s.scalar(select(func.count()).select_from(Station)),
                  s.scalar(select(func.count()).select_from(SupervisionOrder)))
    answer = requests.post(f"{url}/api/v1/planning/coverage", headers=bearer(tokens["planner"]), timeout=60,
                           json=x_station("JS-821", [SQUARE_M], base=before[0]))
    assert answer.status_code == 422
    with application.extensions["db"].transaction() as s:
        assert (current_version(s), s.scalar(select(func.count()).select_from(Station)),
                s.scalar(select(func.count()).select_from(SupervisionOrder))) == before
    assert datetime.now(UTC) - timedelta(days=1) < datetime.now(UTC)
