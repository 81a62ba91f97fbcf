"""The three tiers over real HTTP: a station chief's second-level dispatch (center -> station -> member -> back
to the chief -> another member -> handled), a workstation's self-handled case and an escalated one, an
evaluator's rating in the KPI table, each tier's scope, and the bad inputs refused with a message."""

from __future__ import annotations

import json
import uuid

import pytest
import requests
from sqlalchemy import select

from app.cases.models import Case, CaseEvent
from app.territory.models import Station
from tests import factories

CATEGORY = "06010"  # exposed garbage: the rules send it to the place's station


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def cast(make_user):
    """A chief and a team of JS-001 (two patrol officers and a seated department officer), a chief and an
    officer of JS-002, the center's people, an evaluator."""
    def user(role, **kw):
        name, _, token = make_user(role, **kw)
        return name, bearer(token)

    return {
        "chief": user("station_chief", station_code="JS-001", display_name="芦潮港站长"),
        "member1": user("patrol", station_code="JS-001", display_name="巡查员甲"),
        "member2": user("handler", department_code="CGZF", station_code="JS-001", display_name="城管执法队员乙"),
        "other_chief": user("station_chief", station_code="JS-002", display_name="申港站长"),
        "far_member": user("patrol", station_code="JS-002", display_name="申港巡查员"),
        "intake": user("intake"), "dispatcher": user("dispatcher"), "shift": user("shift_leader"),
        "evaluator": user("evaluator", display_name="人大代表"),
    }


def _case(server, headers, case_id):
    answer = requests.get(f"{server}/api/v1/cases/{case_id}", headers=headers, timeout=30)
    return answer


def _act(server, headers, case_id, action, version, **fields):
    return requests.post(f"{server}/api/v1/cases/{case_id}/actions", headers=headers, timeout=30,
                         json={"action": action, "version": version, **fields})


def _ok(answer):
    assert answer.status_code == 200, answer.text
    return answer.json()


def _dispatched_to(app, spots, station):
    case = factories.case_in_state(app, "filed", spots(station), category=CATEGORY, description="路边暴露垃圾")
    who = factories.actor(app, "dispatcher")
    factories.act(app, case.id, who, "dispatch", owner={"kind": "station", "code": station}, reason="属地")
    return case.id


def test_center_station_member_back_to_chief_another_member_handled(app, live_server, cast, spots):
    case_id = _dispatched_to(app, spots, "JS-001")
    chief, m1, m2 = cast["chief"], cast["member1"], cast["member2"]
    queue = _ok(requests.get(f"{live_server}/api/v1/station/queue", headers=chief[1], timeout=30))
    item = next(c for c in queue["cases"] if c["id"] == case_id)
    assert item["assignee"] is None and "assign" in item["actions"]
    assert {m1[0], m2[0]} <= {m["username"] for m in queue["team"]}
    deadline = item["deadline"]
    body = _ok(_act(live_server, chief[1], case_id, "assign", item["version"], assignee=m1[0]))
    # the member accepts, then hands it back to the chief; returning it to the center is not theirs to do
    body = _ok(_act(live_server, m1[1], case_id, "accept", body["version"]))
    assert body["state"] == "in_progress"
    refused = _act(live_server, m1[1], case_id, "return", body["version"], reason="不归我管")
    assert refused.status_code == 403 and "hand_back" in refused.json()["message"]
    body = _ok(_act(live_server, m1[1], case_id, "hand_back", body["version"], reason="需要执法队员处理"))
    assert body["state"] == "dispatched" and body["deadline"] == deadline  # the station's clock keeps running
    # the other member of the team may not act on a case assigned to someone else
    body = _ok(_act(live_server, chief[1], case_id, "assign", body["version"], assignee=m2[0]))
    assert _act(live_server, m1[1], case_id, "accept", body["version"]).status_code == 403
    body = _ok(_act(live_server, m2[1], case_id, "accept", body["version"]))
    body = _ok(_act(live_server, m2[1], case_id, "feedback", body["version"], note="已清运"))
    assert body["state"] == "handled" and body["deadline"] is None
    steps = [(h["action"], (h["data"] or {}).get("assignee")) for h in body["history"]]
    assert steps[-6:] == [("assign", m1[0]), ("accept", None), ("hand_back", None), ("assign", m2[0]),
                          ("accept", None), ("feedback", None)]
    with app.extensions["db"].transaction() as s:
        case = s.get(Case, case_id)
        assert case.handled_by == m2[0] and case.first_unit == "JS-001" and case.assignee == m2[0]


def test_chief_takes_back_returns_to_the_center_and_is_refused_another_stations_member(app, live_server, cast,
                                                                                    spots):
    case_id = _dispatched_to(app, spots, "JS-001")
    chief = cast["chief"]
    version = _ok(_case(live_server, chief[1], case_id))["version"]
    wrong = _act(live_server, chief[1], case_id, "assign", version, assignee=cast["far_member"][0])
    assert wrong.status_code == 422 and wrong.json()["field"] == "assignee"
    assert "JS-002" in wrong.json()["message"] and "JS-001" in wrong.json()["message"]
    assert _act(live_server, chief[1], case_id, "assign", version, assignee="nobody_here").status_code == 422
    assert _act(live_server, chief[1], case_id, "assign", version, assignee=cast["chief"][0]).status_code == 422
    body = _ok(_act(live_server, chief[1], case_id, "assign", version, assignee=cast["member1"][0]))
    body = _ok(_act(live_server, chief[1], case_id, "take_back", body["version"], reason="另行安排"))
    assert body["state"] == "dispatched"
    body = _ok(_act(live_server, chief[1], case_id, "escalate", body["version"], level=1, note="需部门会商"))
    assert body["escalation_level"] == 1
    body = _ok(_act(live_server, chief[1], case_id, "return", body["version"], reason="不属本站职责"))
    assert body["state"] == "filed" and body["owner"] is None
    names = [h["action"] for h in body["history"]][-4:]
    assert names == ["assign", "take_back", "escalate", "return"]
    assert body["history"][-1]["note"] == "不属本站职责"


def test_a_chief_sees_only_the_stations_cases(app, live_server, cast, spots):
    mine, theirs = _dispatched_to(app, spots, "JS-001"), _dispatched_to(app, spots, "JS-002")
    chief, other = cast["chief"], cast["other_chief"]
    assert _case(live_server, chief[1], theirs).status_code == 404
    assert _case(live_server, other[1], mine).status_code == 404
    assert _case(live_server, chief[1], mine).status_code == 200
    listed = requests.get(f"{live_server}/api/v1/cases?limit=500", headers=chief[1], timeout=30).json()
    assert {f["properties"]["station"] for f in listed["features"]} <= {"JS-001"}
    queue = _ok(requests.get(f"{live_server}/api/v1/station/queue", headers=other[1], timeout=30))
    assert theirs in {c["id"] for c in queue["cases"]} and mine not in {c["id"] for c in queue["cases"]}
    version = _ok(_case(live_server, cast["dispatcher"][1], theirs))["version"]
    assert _act(live_server, chief[1], theirs, "assign", version, assignee=cast["member1"][0]).status_code == 404
    page = requests.get(f"{live_server}/station", headers=chief[1], timeout=30).text
    assert "站内派单队列" in page and f'data-case="{mine}"' in page and f'data-case="{theirs}"' not in page
    english = requests.get(f"{live_server}/station?lang=en", headers=chief[1], timeout=30).text
    assert "Station queue" in english and "Return to the center" in english


@pytest.fixture(scope="module")
def workstation(app, make_user, spots):
    seen: dict[str, list] = {}
    while True:  # two fresh points in one workstation's territory
        point = spots("JS-002")
        here = seen.setdefault(factories.workstation_of(app, point), [])
        here.append(point)
        if len(here) == 2:
            break
    code = next(c for c, points in seen.items() if len(points) == 2)
    name, _, token = make_user("workstation", station_code=code, display_name="工作站网格员")
    return {"code": code, "name": name, "headers": bearer(token), "point": seen[code][0], "other": seen[code][1]}


def test_a_workstation_self_handles_one_case_and_escalates_another(app, live_server, workstation, cast, spots):
    p = workstation["point"]
    report = {"channel": "workstation", "category": CATEGORY, "description": "小区门口垃圾堆放", "lon": p.x,
              "lat": p.y}
    files = [("after", ("after.png", factories.png(), "image/png"))]
    no_photo = requests.post(f"{live_server}/api/v1/workstation/self-handled", headers=workstation["headers"],
                             timeout=30, files={"report": (None, json.dumps(report)), "note": (None, "已清理")})
    assert no_photo.status_code == 422 and no_photo.json()["field"] == "after"
    answer = requests.post(f"{live_server}/api/v1/workstation/self-handled", headers=workstation["headers"],
                           timeout=30, data={"report": json.dumps(report), "note": "工作站已组织清理"}, files=files)
    assert answer.status_code == 201, answer.text
    case = answer.json()
    assert case["state"] == "closed" and case["owner"] == {"kind": "station", "code": workstation["code"]}
    assert [h["action"] for h in case["history"]] == ["opened", "self_handle"]
    photo = case["history"][-1]["data"]["photos"][0]
    assert requests.get(f"{live_server}{photo}", headers=workstation["headers"], timeout=30).content[:4] == \
        b"\x89PNG"
    # never in the center's dispatch queue; the center sees it and may reopen it
    filed = requests.get(f"{live_server}/api/v1/cases?state=filed&limit=500", headers=cast["dispatcher"][1],
                         timeout=30).json()
    assert case["id"] not in {f["id"] for f in filed["features"]}
    seen = _ok(_case(live_server, cast["shift"][1], case["id"]))
    assert "reopen" in seen["actions"]
    listed = _ok(requests.get(f"{live_server}/api/v1/workstation/cases?self_handled=1",
                              headers=workstation["headers"], timeout=30))
    assert case["id"] in {c["id"] for c in listed["cases"]}
    # a problem beyond local powers: reported up to the station, where it lands in the chief's queue
    q = workstation["other"]
    up = requests.post(f"{live_server}/api/v1/reports", headers=workstation["headers"], timeout=30, json={
        "channel": "workstation", "category": CATEGORY, "description": "违法搭建，超出属地管理范围",
        "lon": q.x, "lat": q.y})
    assert up.status_code == 201, up.text
    up_id = up.json()["case_id"]
    version = _ok(_case(live_server, cast["dispatcher"][1], up_id))["version"]
    body = _ok(_act(live_server, workstation["headers"], up_id, "report_to_station", version, reason="需执法"))
    assert body["state"] == "dispatched" and body["owner"] == {"kind": "station", "code": "JS-002"}
    assert body["deadline"] is not None
    queue = _ok(requests.get(f"{live_server}/api/v1/station/queue", headers=cast["other_chief"][1], timeout=30))
    assert up_id in {c["id"] for c in queue["cases"]}
    # the center reopens the self-handled one
    body = _ok(_act(live_server, cast["shift"][1], case["id"], "reopen", seen["version"], reason="复核未清理干净"))
    assert body["state"] == "filed"
    with app.extensions["db"].transaction() as s:
        assert s.get(Case, case["id"]).self_handled is False


def test_self_handled_share_per_workstation_and_spot_check(app, live_server, workstation, cast):
    with app.extensions["db"].transaction() as s:
        from app.cases.models import Setting

        s.merge(Setting(key="self_handled_check_share", value=1.0))
    try:
        p = workstation["point"]
        report = {"channel": "workstation", "category": "09010", "description": "共享单车乱停放", "lon": p.x,
                  "lat": p.y}
        answer = requests.post(f"{live_server}/api/v1/workstation/self-handled", headers=workstation["headers"],
                               timeout=30, data={"report": json.dumps(report), "note": "已摆放整齐"},
                               files=[("after", ("a.png", factories.png(), "image/png"))])
        assert answer.status_code == 201, answer.text
        case = answer.json()
    finally:
        with app.extensions["db"].transaction() as s:
            from app.cases.models import Setting

            s.execute(Setting.__table__.delete().where(Setting.key == "self_handled_check_share"))
    assert "spot_check" not in case["actions"]  # not the workstation's own
    seen = _ok(_case(live_server, cast["shift"][1], case["id"]))
    assert "spot_check" in seen["actions"]
    body = _ok(_act(live_server, cast["shift"][1], case["id"], "spot_check", seen["version"], note="抽查合格"))
    assert "spot_check" not in body["actions"]
    rows = _ok(requests.get(f"{live_server}/api/v1/kpi?by=workstation", headers=cast["shift"][1], timeout=30))["rows"]
    with app.extensions["db"].transaction() as s:
        code = s.scalar(select(Station.workstation_code).where(Station.code == workstation["code"]))
    row = next(r for r in rows if r["group"] == code)
    assert row["self_handled"] >= 1 and 0 < row["self_handled_share"] <= 1


def test_an_evaluator_rates_a_closed_case_and_the_kpi_table_shows_it(app, live_server, cast, spots):
    open_id = factories.case_in_state(app, "dispatched", spots("JS-003"), category=CATEGORY).id
    closed = factories.case_in_state(app, "closed", spots("JS-003"), category=CATEGORY)
    evaluator = cast["evaluator"][1]
    # an evaluator reads closed cases only
    assert _case(live_server, evaluator, open_id).status_code == 404
    assert _case(live_server, evaluator, closed.id).status_code == 200
    refused = requests.post(f"{live_server}/api/v1/cases/{open_id}/reviews", headers=evaluator, timeout=30,
                            json={"rating": 4})
    assert refused.status_code == 409 and "not closed" in refused.json()["message"]
    bad = requests.post(f"{live_server}/api/v1/cases/{closed.id}/reviews", headers=evaluator, timeout=30,
                        json={"rating": 6})
    assert bad.status_code == 422 and bad.json()["field"] == "rating"
    not_evaluator = requests.post(f"{live_server}/api/v1/cases/{closed.id}/reviews", headers=cast["shift"][1],
                                  timeout=30, json={"rating": 3})
    assert not_evaluator.status_code == 403
    answer = requests.post(f"{live_server}/api/v1/cases/{closed.id}/reviews", headers=evaluator, timeout=30,
                           json={"rating": 2, "review": "处置较慢"})
    assert answer.status_code == 201 and answer.json()["mean"] == 2
    answer = requests.post(f"{live_server}/api/v1/cases/{closed.id}/reviews", headers=evaluator, timeout=30,
                           json={"rating": 5, "review": "复查后满意"})
    assert answer.json()["count"] == 1 and answer.json()["mean"] == 5  # the evaluator's new review replaces it
    table = _ok(requests.get(f"{live_server}/api/v1/kpi?by=station", headers=evaluator, timeout=30))
    assert table["weights"]["evaluator_rating"] == 0.1  # the rating counts in the month's scores (migration 0009)
    rows = table["rows"]
    row = next(r for r in rows if r["group"] == "JS-003")
    assert row["evaluator_ratings"] >= 1 and row["evaluator_rating_mean"] is not None
    csv = requests.get(f"{live_server}/api/v1/kpi.csv?by=station", headers=evaluator, timeout=30)
    assert "社会评议均分" in csv.content.decode("utf-8-sig").splitlines()[0]
    with app.extensions["db"].transaction() as s:
        assert s.scalars(select(CaseEvent).where(CaseEvent.case_id == closed.id)).all()


@pytest.mark.parametrize(("role", "extra", "needle"), [
    ("station_chief", [], "needs a station"),
    ("station_chief", ["--station", "WS-001"], "joint-station"),
    ("station_chief", ["--station", "JS-999"], "unknown station"),
    ("workstation", [], "needs a workstation"),
    ("workstation", ["--workstation", "WS-999"], "unknown workstation"),
    ("workstation", ["--workstation", "JS-001"], "needs a workstation"),
])
def test_cli_refuses_a_missing_or_unknown_station(app, role, extra, needle):
    result = app.test_cli_runner().invoke(args=["users", "add", "cli_x", "--role", role, "--password",
                                                "long enough pw", *extra])
    assert result.exit_code != 0 and needle in result.output, result.output


def test_cli_adds_the_three_roles(app):
    runner = app.test_cli_runner()
    tag = uuid.uuid4().hex[:6]
    for name, args in ((f"chief_{tag}", ["--role", "station_chief", "--station", "JS-003"]),
                       (f"ws_{tag}", ["--role", "workstation", "--workstation", "WS-009"]),
                       (f"eval_{tag}", ["--role", "evaluator"])):
        result = runner.invoke(args=["users", "add", name, "--password", "long enough pw", *args])
        assert result.exit_code == 0 and "created" in result.output, result.output


def test_reports_carry_audio_and_video_clips_checked_by_type_and_size(app, live_server, cast, spots):
    p = spots("JS-001")
    report = json.dumps({"channel": "video", "category": CATEGORY, "description": "视频发现垃圾", "lon": p.x,
                         "lat": p.y})
    mp4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64
    answer = requests.post(f"{live_server}/api/v1/reports", headers=cast["intake"][1], timeout=30, files=[
        ("report", (None, report)), ("clips", ("录音.wav", factories.wav(), "audio/wav")),
        ("video", ("现场.mp4", mp4, "video/mp4")), ("photos", ("p.png", factories.png(), "image/png"))])
    assert answer.status_code == 201, answer.text
    detail = _ok(requests.get(f"{live_server}/api/v1/reports/{answer.json()['report_id']}",
                              headers=cast["intake"][1], timeout=30))
    assert sorted(a["content_type"] for a in detail["attachments"]) == ["audio/wav", "image/png", "video/mp4"]
    clip = next(a for a in detail["attachments"] if a["content_type"] == "video/mp4")
    ranged = requests.get(f"{live_server}{clip['url']}", headers={**cast["intake"][1], "Range": "bytes=4-11"},
                          timeout=30)
    assert ranged.status_code == 206 and ranged.content == b"ftypmp42"
    q = spots("JS-001")
    other = json.dumps({"channel": "video", "category": CATEGORY, "description": "x", "lon": q.x, "lat": q.y})
    fake = requests.post(f"{live_server}/api/v1/reports", headers=cast["intake"][1], timeout=30, files=[
        ("report", (None, other)), ("clips", ("clip.mp3", b"<html>not audio</html>", "audio/mpeg"))])
    assert fake.status_code == 422 and fake.json()["field"] == "clips" and "clip.mp3" in fake.json()["message"]
    app.config["MAX_CLIP_BYTES"] = 1000
    try:
        big = requests.post(f"{live_server}/api/v1/reports", headers=cast["intake"][1], timeout=30, files=[
            ("report", (None, other)), ("audio", ("long.wav", factories.wav(2.0), "audio/wav"))])
    finally:
        del app.config["MAX_CLIP_BYTES"]
    assert big.status_code == 413 and big.json()["field"] == "clips"


def test_the_digest_lists_dispatched_cases_nobody_accepted_with_the_first_asked_unit(app, live_server, cast, spots):
    from datetime import UTC, datetime, timedelta

    from app.analysis import digest

    long_ago = datetime.now(UTC) - timedelta(hours=5)
    waiting = factories.case_in_state(app, "filed", spots("JS-002"), at=long_ago, category=CATEGORY)
    factories.act(app, waiting.id, factories.actor(app, "dispatcher"), "dispatch", at=long_ago,
                  owner={"kind": "station", "code": "JS-002"}, reason="属地")
    taken = factories.case_in_state(app, "in_progress", spots("JS-002"), at=long_ago, category=CATEGORY)
    with app.extensions["db"].transaction() as s:
        first = {c.id: (c.first_unit, c.first_unit_at) for c in (s.get(Case, waiting.id), s.get(Case, taken.id))}
        from app.accounts.models import User

        shift = s.scalars(select(User).where(User.username == cast["shift"][0])).one()
        body = digest.build(s, datetime.now(UTC).date(), "week", shift)
        from app.tiers import services as tier_services

        # the digest shows the 50 that have waited longest; the suite's other cases may fill them, so ask for all
        every = tier_services.unaccepted(s, datetime.now(UTC), limit=100_000)
    assert first[waiting.id][0] == "JS-002" and first[taken.id][0] is not None
    assert len(body["unaccepted"]) <= 50
    rows = {r["id"]: r for r in every}
    assert waiting.id in rows and taken.id not in rows
    assert rows[waiting.id]["first_unit"] == "JS-002" and rows[waiting.id]["first_unit_name"] == "申港社区联勤联动站"
    page = requests.get(f"{live_server}/digest?span=week", headers=cast["shift"][1], timeout=60)
    assert "首问单位" in page.text
    assert all(f"#{r['id']}" in page.text for r in body["unaccepted"][:5])
