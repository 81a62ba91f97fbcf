"""The duty roster and emergency command over the API: duty/now across a shift change (Beijing time), the
coverage check finding a gap, swaps and handovers; incidents declared from a case with a buffer, refused
outside the town or with an unknown level (nothing written), the inside summary, nearest resources by road,
roll-call with acknowledgements and chasing (in-app and a webhook), reports as PDF read back with pypdf,
closing that hands the cases back."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from app.accounts.models import AuditEntry
from app.cases.worktime import BEIJING
from app.command import demo as command_demo
from app.command.models import DutyAssignment, Incident, IncidentLogEntry, Resource
from tests import factories
from tests.factories import bearer


@pytest.fixture(scope="module")
def client(app):
    with app.test_client() as c:
        yield c


@pytest.fixture(scope="module")
def people(app, make_user):
    """A commander, a shift leader and three duty officers (with tokens)."""
    out = {"commander": make_user("commander"), "shift": make_user("shift_leader"), "admin": make_user("admin")}
    for i in range(3):
        out[f"officer{i}"] = make_user("duty_officer", display_name=f"值班员{i}号")
    return out


@pytest.fixture(scope="module")
def registry(app):
    """The illustrative resources and compound populations (made once per database)."""
    with app.extensions["db"].transaction() as s:
        command_demo.populations(s)
        command_demo.resources(s)
    return True


def h(people, who):
    return bearer(people[who][2])


# ------------------------------------------------------------------------------------------------
# Roster
# ------------------------------------------------------------------------------------------------


def test_duty_now_follows_the_shift_change_in_beijing_time(client, people):
    day = date(2030, 6, 15)
    for who, shift in (("officer0", "day"), ("officer1", "night")):
        answer = client.post("/api/v1/duty/assignments", headers=h(people, "shift"),
                             json={"position": "SHIFT", "username": people[who][0], "day": day.isoformat(),
                                   "shift": shift})
        assert answer.status_code == 201, answer.get_json()

    def on(at: datetime | str) -> list[str]:
        raw = at if isinstance(at, str) else at.isoformat()
        body = client.get("/api/v1/duty/now", headers=h(people, "officer2"), query_string={"at": raw}).get_json()
        board = {p["code"]: p for p in body["positions"]}
        assert set(board) >= {"LEADER", "SHIFT", "INFO-HOTLINE", "INFO-VIDEO", "INFO-GRID", "STN-JS-001"}
        return [p["username"] for p in board["SHIFT"]["on_duty"]]

    t = datetime(2030, 6, 15, 20, 0, tzinfo=BEIJING)
    assert on(t - timedelta(minutes=1)) == [people["officer0"][0]]
    assert on(t) == [people["officer1"][0]]
    assert on(datetime(2030, 6, 16, 7, 59, tzinfo=BEIJING)) == [people["officer1"][0]]
    assert on(datetime(2030, 6, 16, 8, 0, tzinfo=BEIJING)) == []
    # the same instants in UTC (12:00 UTC is 20:00 in Beijing), and a time without a zone read as Beijing time
    assert on("2030-06-15T11:59:00Z") == [people["officer0"][0]]
    assert on("2030-06-15T12:00:00Z") == [people["officer1"][0]]
    assert on("2030-06-15T19:59:00") == [people["officer0"][0]]
    assert client.get("/api/v1/duty/now?at=yesterday", headers=h(people, "officer2")).status_code == 400


def test_coverage_finds_the_gap_left_by_a_removed_shift(app, client, people):
    month = "2031-02"
    names = [people[f"officer{i}"][0] for i in range(3)]
    answer = client.post("/api/v1/duty/roster/plan", headers=h(people, "shift"),
                         json={"position": "INFO-GRID", "month": month, "usernames": names})
    assert answer.status_code == 201 and answer.get_json()["assignments"] == 28 * 2
    gaps = [g for g in client.get(f"/api/v1/duty/coverage?month={month}", headers=h(people, "officer0"))
            .get_json()["gaps"] if g["position"] == "INFO-GRID"]
    # the first night of the month before 08:00 on the 1st belongs to January's roster: the only gap
    assert [(g["from"][:16], g["to"][:16], g["hours"]) for g in gaps] == [("2031-02-01T00:00", "2031-02-01T08:00", 8)]
    with app.extensions["db"].transaction() as s:
        night = s.scalar(select(DutyAssignment.id).where(DutyAssignment.position_code == "INFO-GRID",
                                                         DutyAssignment.day == date(2031, 2, 10),
                                                         DutyAssignment.shift_code == "night"))
    assert client.delete(f"/api/v1/duty/assignments/{night}", headers=h(people, "shift")).status_code == 204
    gaps = [g for g in client.get(f"/api/v1/duty/coverage?month={month}", headers=h(people, "officer0"))
            .get_json()["gaps"] if g["position"] == "INFO-GRID"]
    assert ("2031-02-10T20:00", "2031-02-11T08:00", 12, 0, 1) in [
        (g["from"][:16], g["to"][:16], g["hours"], g["have"], g["need"]) for g in gaps]
    page = client.get(f"/duty/roster?month={month}&lang=zh", headers=h(people, "officer0")).get_data(as_text=True)
    assert "值班排班表" in page and 'data-position="INFO-GRID"' in page and "缺岗" in page
    english = client.get(f"/duty/roster?month={month}&lang=en", headers=h(people, "officer0")).get_data(as_text=True)
    assert "Duty roster" in english and "Information officer (grid)" in english
    # a duty officer may not plan the roster
    assert client.post("/api/v1/duty/roster/plan", headers=h(people, "officer0"),
                       json={"position": "INFO-GRID", "month": month, "usernames": names}).status_code == 403
    assert client.get("/api/v1/duty/coverage?month=2031-13", headers=h(people, "officer0")).status_code == 400


def test_swap_needs_approval_and_the_handover_is_signed_by_both(client, people):
    day = date(2030, 7, 1)
    a = client.post("/api/v1/duty/assignments", headers=h(people, "shift"), json={
        "position": "INFO-VIDEO", "username": people["officer0"][0], "day": day.isoformat(), "shift": "day"}).get_json()
    swap = client.post("/api/v1/duty/swaps", headers=h(people, "officer0"), json={
        "assignment_id": a["id"], "to_username": people["officer1"][0], "reason": "家中有事"})
    assert swap.status_code == 201
    noon = datetime(2030, 7, 1, 12, tzinfo=BEIJING).isoformat()

    def video() -> list[str]:
        body = client.get("/api/v1/duty/now", headers=h(people, "officer2"), query_string={"at": noon}).get_json()
        return [x["username"] for p in body["positions"] if p["code"] == "INFO-VIDEO" for x in p["on_duty"]]

    assert video() == [people["officer0"][0]]  # not before it is approved
    assert client.post(f"/api/v1/duty/swaps/{swap.get_json()['id']}/decision", headers=h(people, "officer2"),
                       json={"approve": True}).status_code == 403
    decided = client.post(f"/api/v1/duty/swaps/{swap.get_json()['id']}/decision", headers=h(people, "shift"),
                          json={"approve": True})
    assert decided.status_code == 200 and decided.get_json()["status"] == "approved"
    assert video() == [people["officer1"][0]]
    assert client.post(f"/api/v1/duty/swaps/{swap.get_json()['id']}/decision", headers=h(people, "shift"),
                       json={"approve": False}).status_code == 409

    note = client.post("/api/v1/duty/handovers", headers=h(people, "officer1"), json={
        "position": "INFO-VIDEO", "to_username": people["officer2"][0], "open_items": "3起积水案件待核查",
        "watch": "夜间暴雨预警"}).get_json()
    assert note["signed_by_both"] is False
    assert client.post(f"/api/v1/duty/handovers/{note['id']}/sign", headers=h(people, "officer0")).status_code == 403
    signed = client.post(f"/api/v1/duty/handovers/{note['id']}/sign", headers=h(people, "officer2")).get_json()
    assert signed["signed_by_both"] is True and signed["from"] == people["officer1"][0]


# ------------------------------------------------------------------------------------------------
# Incidents
# ------------------------------------------------------------------------------------------------


def spots_near(point, metres: float = 300.0):
    """A point about `metres` east of `point` (another category there, so it never merges with the first)."""
    from shapely.geometry import Point

    return Point(point.x + metres / 95_000, point.y)


def _rows(app) -> tuple:
    with app.extensions["db"].transaction() as s:
        return (s.scalar(select(func.count()).select_from(Incident)),
                s.scalar(select(func.count()).select_from(IncidentLogEntry)),
                s.scalar(select(func.count()).select_from(AuditEntry)))


def test_refusals_write_nothing(app, client, people, spots):
    case_id = factories.report(app, spots()).report.case_id
    base = {"title": "测试", "type": "flood", "level": "II", "commander": people["commander"][0],
            "case_id": case_id, "buffer_m": 500}
    before = _rows(app)
    cases = [
        ({**base, "level": "V"}, 422, "level"),
        ({**base, "type": "meteor"}, 422, "type"),
        ({**base, "case_id": None, "lon": 122.6, "lat": 30.5}, 422, "buffer_m"),  # a point at sea, far off the town
        ({**base, "area": {"type": "Polygon", "coordinates": [[[121.2, 31.2], [121.3, 31.2], [121.3, 31.3],
                                                               [121.2, 31.2]]]}}, 422, "area"),
        ({**base, "commander": people["officer0"][0]}, 422, "commander"),
        ({**base, "buffer_m": 50_000}, 422, "buffer_m"),
    ]
    for body, status, field in cases:
        answer = client.post("/api/v1/incidents", headers=h(people, "commander"), json=body)
        assert answer.status_code == status, (body, answer.get_json())
        assert answer.get_json()["field"] == field and answer.get_json()["message_zh"], answer.get_json()
    assert _rows(app) == before
    assert client.post("/api/v1/incidents", headers=h(people, "officer0"), json=base).status_code == 403


def test_incident_from_a_case_end_to_end(app, client, people, spots, registry):
    point = spots(road_m=200)
    case_id = factories.report(app, point).report.case_id
    answer = client.post("/api/v1/incidents", headers=h(people, "commander"), json={
        "title": "申港路段积水", "type": "flood", "level": "III", "commander": people["commander"][0],
        "case_id": case_id, "buffer_m": 2000})
    assert answer.status_code == 201, answer.get_json()
    incident = answer.get_json()
    iid = incident["id"]
    assert incident["level"] == "III" and incident["status"] == "declared" and incident["source_kind"] == "case"
    assert 3.0 < incident["area_km2"] <= 12.6  # a 2 km circle (12.57 km²), clipped to the town
    later_id = factories.report(app, spots_near(point), category="06010").report.case_id
    suggested = client.get(f"/api/v1/incidents/{iid}/suggestions", headers=h(people, "officer0")).get_json()
    assert later_id in [c["id"] for c in suggested] and case_id not in [c["id"] for c in suggested]
    assert client.post(f"/api/v1/incidents/{iid}/cases", headers=h(people, "commander"),
                       json={"case_ids": [later_id]}).status_code == 200

    inside = client.get(f"/api/v1/incidents/{iid}/summary", headers=h(people, "officer0")).get_json()
    assert inside["grid_cells"] > 0 and inside["communities"] and inside["workstations"]
    assert inside["open_cases"] >= 2
    assert inside["population"] == sum(c["population"] or 0 for c in inside["compounds"])

    near = client.get(f"/api/v1/incidents/{iid}/resources/nearest?kind=pump", headers=h(people, "officer0")).get_json()
    assert near and all(r["kind"] == "pump" for r in near)
    timed = [r["minutes"] for r in near if "minutes" in r]
    assert timed == sorted(timed) and timed[0] >= 0
    pump = near[0]
    too_many = client.post(f"/api/v1/incidents/{iid}/dispatches", headers=h(people, "commander"),
                           json={"resource_id": pump["id"], "quantity": pump["available"] + 1})
    assert too_many.status_code == 422 and too_many.get_json()["field"] == "quantity"
    sent = client.post(f"/api/v1/incidents/{iid}/dispatches", headers=h(people, "commander"),
                       json={"resource_id": pump["id"], "quantity": 1, "note": "前往积水点"})
    assert sent.status_code == 201 and sent.get_json()[0]["quantity"] == 1

    assert client.post(f"/api/v1/incidents/{iid}/status", headers=h(people, "commander"),
                       json={"status": "stabilised"}).status_code == 422  # declared -> stabilised skips a step
    assert client.post(f"/api/v1/incidents/{iid}/status", headers=h(people, "commander"),
                       json={"status": "responding", "version": 1}).status_code == 200
    assert client.post(f"/api/v1/incidents/{iid}/notes", headers=h(people, "commander"),
                       json={"text": "水位下降，继续监测"}).status_code == 201

    assert client.post(f"/api/v1/incidents/{iid}/reports", headers=h(people, "commander"),
                       json={"kind": "followup"}).status_code == 422  # the first report comes first
    first = client.post(f"/api/v1/incidents/{iid}/reports", headers=h(people, "commander"), json={"kind": "first"})
    assert first.status_code == 201 and first.get_json()["on_time"] is True
    follow = client.post(f"/api/v1/incidents/{iid}/reports", headers=h(people, "commander"),
                         json={"kind": "followup", "note": "已调派排水泵"}).get_json()
    pdf = client.get(follow["links"]["pdf"] + "?lang=zh", headers=h(people, "officer0"))  # the client may be in English
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    for words in ("续报", "申港路段积水", "暴雨内涝", "III", pump["name"], "已调派排水泵", "网格",
                  "水位下降，继续监测"):
        assert words in text, (words, text[:800])
    page = client.get(follow["links"]["html"] + "?lang=en", headers=h(people, "officer0"))
    assert page.status_code == 200 and b"Follow-up report" in page.data

    assert client.post(f"/api/v1/incidents/{iid}/status", headers=h(people, "commander"),
                       json={"status": "stabilised"}).status_code == 200
    closed = client.post(f"/api/v1/incidents/{iid}/status", headers=h(people, "commander"), json={"status": "closed"})
    assert closed.status_code == 200 and closed.get_json()["closed_at"]
    log = client.get(f"/api/v1/incidents/{iid}/log", headers=h(people, "officer0")).get_json()
    handed = sorted(e["data"]["case_id"] for e in log if e["kind"] == "case_handed_back")
    assert handed == sorted([case_id, later_id])
    kinds = [e["kind"] for e in log]
    assert kinds[0] == "declared" and {"dispatch", "note", "report", "status", "case_linked"} <= set(kinds)
    detail = client.get(f"/api/v1/incidents/{iid}", headers=h(people, "officer0")).get_json()
    assert all(c["released_at"] for c in detail["cases"]) and detail["dispatches"][0]["returned_at"]
    assert client.post(f"/api/v1/incidents/{iid}/notes", headers=h(people, "commander"),
                       json={"text": "x"}).status_code == 409
    with app.extensions["db"].transaction() as s:
        audited = s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.entity == "incident", AuditEntry.entity_id == str(iid)))
        assert audited == len(log)
        assert s.scalar(select(Resource.quantity).where(Resource.id == pump["id"])) == pump["quantity"]


class _Gateway(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        _Gateway.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        return


def test_roll_call_in_app_and_webhook_acknowledged_and_chased(app, client, people, spots):
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app.config["NOTIFY_WEBHOOK_URL"] = f"http://127.0.0.1:{server.server_port}/sms"
    try:
        where = spots()  # one point (two calls would give the x of one spot and the y of another)
        incident = client.post("/api/v1/incidents", headers=h(people, "commander"), json={
            "title": "道路塌陷", "type": "road_collapse", "level": "IV", "commander": people["commander"][0],
            "lon": where.x, "lat": where.y, "buffer_m": 300}).get_json()
        names = [people[f"officer{i}"][0] for i in range(3)]
        sent = client.post(f"/api/v1/incidents/{incident['id']}/roll-calls", headers=h(people, "commander"),
                           json={"text": "请立即到岗并回复", "usernames": names})
        assert sent.status_code == 201, sent.get_json()
        call = sent.get_json()[0]
        assert call["total"] == 3 and call["acknowledged"] == 0
        assert all({d["channel"]: d["status"] for d in r["deliveries"]} == {"in_app": "delivered", "webhook": "sent"}
                   for r in call["recipients"])
        assert sorted(m["to"] for m in _Gateway.received[-3:]) == sorted(names)
        box = client.get("/api/v1/inbox", headers=h(people, "officer0")).get_json()
        mine = [b for b in box if b["instruction_id"] == call["id"]]
        assert mine and mine[0]["incident"] == "道路塌陷"
        other = next(r for r in call["recipients"] if r["username"] == names[1])
        assert client.post(f"/api/v1/inbox/{other['id']}/ack", headers=h(people, "officer0")).status_code == 403
        assert client.post(f"/api/v1/inbox/{mine[0]['id']}/ack", headers=h(people, "officer0")).status_code == 200
        chased = client.post(f"/api/v1/instructions/{call['id']}/chase", headers=h(people, "commander")).get_json()
        assert chased == {"chased": 2}
        assert [m["to"] for m in _Gateway.received[-2:] if m["chase"]] and len(_Gateway.received) >= 5
        state = client.get(f"/api/v1/incidents/{incident['id']}/roll-calls", headers=h(people, "officer0")).get_json()
        assert state[0]["acknowledged"] == 1
        assert {r["username"]: r["chased"] for r in state[0]["recipients"]} == {names[0]: 0, names[1]: 1, names[2]: 1}
        assert not [b for b in client.get("/api/v1/inbox", headers=h(people, "officer0")).get_json()
                    if b["instruction_id"] == call["id"]]
        nobody = client.post(f"/api/v1/incidents/{incident['id']}/roll-calls", headers=h(people, "commander"),
                             json={"text": "x", "usernames": ["no-such-user"]})
        assert nobody.status_code == 422 and nobody.get_json()["field"] == "usernames"
    finally:
        app.config.pop("NOTIFY_WEBHOOK_URL", None)
        server.shutdown()
        server.server_close()


def test_from_a_hot_spot_with_a_line_buffer_and_a_roll_call_of_those_on_duty_inside(app, client, people):
    from sqlalchemy import func as f

    from app.territory.boundaries import in_version
    from app.territory.models import GridCell, Station

    with app.extensions["db"].transaction() as s:
        station = s.execute(select(Station.code, f.ST_X(Station.location), f.ST_Y(Station.location))
                            .where(Station.code == "JS-003")).one()
        cell = s.scalar(select(GridCell.code).where(in_version(GridCell)).order_by(
            f.ST_Distance(GridCell.geom, f.ST_SetSRID(f.ST_MakePoint(station[1], station[2]), 4326))).limit(1))
    now = datetime.now(BEIJING)
    on_duty = people["officer2"][0]
    made = client.post("/api/v1/duty/assignments", headers=h(people, "shift"), json={
        "position": "STN-JS-003", "username": on_duty, "shift": "h24",
        "day": (now if now.hour >= 8 else now - timedelta(days=1)).date().isoformat()})
    assert made.status_code == 201, made.get_json()
    line = {"type": "LineString", "coordinates": [[station[1] - 0.01, station[2]], [station[1] + 0.01, station[2]]]}
    answer = client.post("/api/v1/incidents", headers=h(people, "commander"), json={
        "title": "风暴潮沿线", "type": "storm_surge", "level": "I", "commander": people["commander"][0],
        "grid_code": cell, "buffer_m": 400, "geometry": line})
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["source_kind"] == "hotspot" and body["source_ref"] == cell and body["level"] == "I"
    assert 1.0 < body["area_km2"] < 2.5  # a 1.9 km line buffered 400 m: about 2.03 km²
    inside = client.get(f"/api/v1/incidents/{body['id']}/summary", headers=h(people, "officer0")).get_json()
    assert "JS-003" in [x["code"] for x in inside["stations"]]
    assert on_duty in [p["username"] for p in inside["on_duty"]]
    called = client.post(f"/api/v1/incidents/{body['id']}/roll-calls", headers=h(people, "commander"),
                         json={"text": "沿线人员立即转移", "on_duty_inside": True}).get_json()
    assert on_duty in [r["username"] for r in called[0]["recipients"]]


def test_field_staff_located_inside_the_area_are_listed_with_their_last_position(app, client, people, spots,
                                                                                    make_user):
    """The field app's positions (staff_positions) join the inside summary: the latest position of the last
    hour per officer, inside the area only, stale after ten minutes."""
    point = spots(road_m=200)
    answer = client.post("/api/v1/incidents", headers=h(people, "commander"), json={
        "title": "道路塌陷", "type": "road_collapse", "level": "IV", "commander": people["commander"][0],
        "lon": point.x, "lat": point.y, "buffer_m": 500})
    assert answer.status_code == 201, answer.get_json()
    iid = answer.get_json()["id"]
    now = datetime.now(UTC)
    inside_now, inside_before, far_now = (make_user("patrol", display_name=n) for n in ("巡查甲", "巡查乙", "巡查丙"))
    far = next(p for p in (spots() for _ in range(40)) if p.distance(point) > 0.02)  # ~2 km: outside the area

    def send(who, items):
        body = {"positions": [{"lon": p.x, "lat": p.y, "recorded_at": t.isoformat()} for p, t in items]}
        reply = client.post("/api/v1/positions", headers=bearer(who[2]), json=body)
        assert reply.status_code in (200, 201), reply.get_json()

    send(inside_now, [(far, now - timedelta(minutes=5)), (spots_near(point, 100), now - timedelta(minutes=1))])
    send(inside_before, [(spots_near(point, 50), now - timedelta(minutes=20))])
    send(far_now, [(spots_near(point, 50), now - timedelta(minutes=30)), (far, now - timedelta(minutes=2))])
    live = client.get(f"/api/v1/incidents/{iid}/summary", headers=h(people, "officer0")).get_json()["live_positions"]
    assert [(p["username"], p["stale"]) for p in live] == [(inside_now[0], False), (inside_before[0], True)]
    assert live[0]["name"] == "巡查甲"
