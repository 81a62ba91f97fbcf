"""Deadlines, fallback, supervision and evaluation on a controlled clock, against a real PostGIS.

Each test works in its own past week, so the cases of other tests never fall in its period.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app import demo, scheduler
from app.analysis import kpi
from app.cases import intake, machine, rules
from app.cases.models import Case, CaseEvent, SchedulerRun, SupervisionOrder
from app.cases.worktime import BEIJING
from tests import factories


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


@pytest.fixture(scope="module")
def settings(app):
    return intake.IntakeSettings()


@pytest.fixture(scope="module")
def cast(app, make_user):
    names = {
        "intake": make_user("intake")[0], "dispatcher": make_user("dispatcher")[0],
        "shift": make_user("shift_leader")[0], "leader": make_user("leader")[0],
        "lgjt": make_user("handler", department_code="LGJT")[0],
        "cgzf": make_user("handler", department_code="CGZF")[0],
    }
    return names


class Story:
    """Cases filed and moved at chosen times (tests.factories), each step committed; `who` names one of the cast."""

    def __init__(self, app, cast, spots):
        self.app, self.cast, self.spots = app, cast, spots

    def report(self, at: datetime, category: str = "01004", **extra) -> int:
        return factories.report(self.app, self.spots(), by=self.cast["intake"], at=at, category=category,
                                **extra).report.case_id

    def act(self, case_id: int, who: str, action: str, at: datetime, **fields) -> Case:
        return factories.act(self.app, case_id, self.cast[who], action, at, **fields)

    def case(self, case_id: int) -> Case:
        with self.app.extensions["db"].transaction() as s:
            return s.get(Case, case_id)

    def to_dispatched(self, case_id: int, at: datetime) -> Case:
        return factories.walk(self.app, case_id, "dispatched", at)


@pytest.fixture
def story(app, cast, spots):
    return Story(app, cast, spots)


def test_the_deadline_follows_the_calendar_and_pauses(story):
    # 01004: 2 working days = 15 working hours, dispatched Monday 16 March 2026 09:00.
    case_id = story.report(bj(2026, 3, 16, 8, 50))
    case = story.to_dispatched(case_id, bj(2026, 3, 16, 9, 0))
    assert case.limit_hours == 15.0 and case.deadline_at == bj(2026, 3, 18, 9, 0)  # 7 h Mon, 7.5 Tue, 0.5 Wed
    story.act(case_id, "lgjt", "accept", bj(2026, 3, 16, 9, 30))
    paused = story.act(case_id, "lgjt", "request_extension", bj(2026, 3, 16, 10, 0), hours=4, reason="待料")
    assert paused.deadline_at is None and paused.frozen_share == pytest.approx(1.0 / 15)
    # approved Wednesday 10:00: 2 full working days paused (15 h) + 4 h granted
    case = story.act(case_id, "shift", "approve_extension", bj(2026, 3, 18, 10, 0))
    assert case.paused_hours == pytest.approx(15.0) and case.limit_hours == 19.0
    assert case.deadline_at == bj(2026, 3, 20, 14, 30)  # 18 h left from Wed 10:00: 6 Wed, 7.5 Thu, 4.5 Fri
    done = story.act(case_id, "lgjt", "feedback", bj(2026, 3, 20, 14, 0), note="修复")
    assert done.handled_on_time is True and done.frozen_share < 1


def test_urgency_shortens_the_limit(story):
    case_id = story.report(bj(2026, 3, 16, 8, 0), urgency="urgent")
    case = story.to_dispatched(case_id, bj(2026, 3, 16, 9, 0))
    assert case.limit_hours == 7.5 and case.deadline_at == bj(2026, 3, 17, 9, 0)


def test_fallback_and_supervision_on_the_clock(app, story):
    # An idle owner: dispatched Tuesday 7 April 2026 09:00 (清明 holiday ends on the Monday),
    # 15 working hours, fallback at half of it; nobody accepts.
    idle = story.report(bj(2026, 4, 7, 8, 0))
    story.to_dispatched(idle, bj(2026, 4, 7, 9, 0))
    ownerless = story.report(bj(2026, 4, 7, 8, 30))
    story.act(ownerless, "intake", "verify", bj(2026, 4, 7, 8, 40))
    story.act(ownerless, "dispatcher", "file", bj(2026, 4, 7, 8, 45))  # never dispatched: 2 h limit

    def run(at):
        with app.extensions["db"].transaction() as s:
            assert scheduler.run_once(s, at) is not None

    def orders(case_id):
        with app.extensions["db"].transaction() as s:
            return s.scalars(select(SupervisionOrder).where(SupervisionOrder.case_id == case_id)).all()

    # other tests' older cases may be handed over or supervised too: look at ours only
    run(bj(2026, 4, 7, 10, 0))
    assert not story.case(ownerless).duty_fallback and not story.case(idle).duty_fallback
    run(bj(2026, 4, 7, 11, 0))  # the ownerless case is past its 2 h dispatch limit
    case = story.case(ownerless)
    assert case.state == "dispatched" and case.duty_fallback and case.owner_code == case.station_code
    run(bj(2026, 4, 7, 16, 0))
    assert not story.case(idle).duty_fallback  # 5.5 h used of 15: below half
    run(bj(2026, 4, 8, 9, 30))  # 8 h: half passed
    case = story.case(idle)
    assert case.duty_fallback and case.owner_kind == "station" and "LGJT" in case.duty_fallback_reason
    assert not orders(idle) and not orders(ownerless)
    run(bj(2026, 4, 9, 10, 0))
    assert len(orders(idle)) == 1 and not orders(ownerless)  # idle was due Thu 09:00
    run(bj(2026, 4, 9, 11, 30))
    assert len(orders(ownerless)) == 1  # handed over Tue 11:00, due Thu 11:00
    run(bj(2026, 4, 9, 14, 0))
    assert len(orders(idle)) == 1 and len(orders(ownerless)) == 1  # an open order is not repeated
    assert {o.automatic for o in orders(idle) + orders(ownerless)} == {True}
    with app.extensions["db"].transaction() as s:
        history = [e.action for e in s.scalars(select(CaseEvent).where(CaseEvent.case_id == idle)
                                                .order_by(CaseEvent.id))]
        assert history[-2:] == ["fallback", "supervised"]
        last_round = s.scalars(select(SchedulerRun).order_by(SchedulerRun.id.desc()).limit(len(scheduler.JOBS)))
        assert [r.job for r in last_round][::-1] == [name for name, _job in scheduler.JOBS]


def test_one_scheduler_runner_at_a_time(app):
    db = app.extensions["db"]
    with db.transaction() as first:
        assert scheduler.run_once(first, bj(2026, 1, 1)) is not None  # holds the lock until commit
        with db.transaction() as second:
            assert scheduler.run_once(second, bj(2026, 1, 1)) is None


def test_scores_on_a_small_history_by_hand(app, story):
    """Week of 2 March 2026: five cases, figures worked out by hand below."""
    day = bj(2026, 3, 2, 9, 0)
    a = story.report(day)  # LGJT: on time, closed on time, rated 5
    story.to_dispatched(a, day + timedelta(minutes=30))
    story.act(a, "lgjt", "accept", day + timedelta(hours=1))
    story.act(a, "lgjt", "feedback", day + timedelta(hours=3), note="ok")
    story.act(a, "intake", "check", day + timedelta(hours=4))
    story.act(a, "shift", "close", day + timedelta(hours=5), satisfaction=5)
    b = story.report(day)  # LGJT: late (2 working days = 15 h), one rework, closed late, rated 2
    story.to_dispatched(b, day + timedelta(hours=3))  # dispatched late too (over 2 h after the report)
    story.act(b, "lgjt", "accept", day + timedelta(hours=4))
    story.act(b, "lgjt", "feedback", day + timedelta(hours=5), note="ok")
    story.act(b, "intake", "rework", day + timedelta(hours=6), reason="no")
    story.act(b, "lgjt", "accept", day + timedelta(hours=7))
    story.act(b, "lgjt", "feedback", day + timedelta(days=4), note="ok")
    story.act(b, "intake", "check", day + timedelta(days=4, hours=1))
    story.act(b, "shift", "close", day + timedelta(days=6), satisfaction=2)
    c = story.report(day)  # LGJT: dispatched, still open
    story.to_dispatched(c, day + timedelta(minutes=20))
    d = story.report(day)  # rejected: counts as decided, not filed
    story.act(d, "intake", "verify", day + timedelta(minutes=10))
    story.act(d, "dispatcher", "reject", day + timedelta(minutes=20), reason="no")
    e = story.report(day, category="09006")  # street order: to the place's station by rule
    story.to_dispatched(e, day + timedelta(minutes=15))

    with app.extensions["db"].transaction() as s:
        rows = {r["group"]: r for r in kpi.evaluate(s, bj(2026, 3, 2).date(), bj(2026, 3, 9).date(),
                                                    "department")["rows"]}
    assert set(rows) == {"LGJT"}  # e went to a station, d was never dispatched
    r = rows["LGJT"]
    assert (r["cases"], r["reports"], r["valid_reports"], r["filed"], r["dispatched"]) == (3, 3, 3, 3, 3)
    assert r["filing_rate"] == 1.0
    assert r["on_time_dispatch_rate"] == pytest.approx(2 / 3, abs=1e-4)
    # c is still open, long past its deadline (2 working days from 2 March): it counts as late in both on-time
    # rates, closed (or handled) on time / (closed (or handled) + open overdue)
    assert r["overdue_open"] == 1
    assert r["handled"] == 2 and r["on_time_disposal_rate"] == pytest.approx(1 / 3, abs=1e-4)  # a / (a, b + c)
    assert r["closed"] == 2 and r["closure_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert r["on_time_closure_rate"] == pytest.approx(1 / 3, abs=1e-4)  # a / (a, b + c)
    assert r["rework_rate"] == 0.5
    assert r["satisfaction_mean"] == 3.5 and r["satisfaction_rate"] == 0.5
    # 10% x 3/3 + 30% x 2/3 + 30% x 1/3 + 30% x (1 - 1/2) = 10 + 20 + 10 + 15 = 55, but 3 cases are fewer than
    # the 5 a unit needs to be graded: scored, not graded
    assert r["score"] == pytest.approx(55.0, abs=0.01) and r["grade"] is None and r["graded"] is False
    with app.extensions["db"].transaction() as s:
        rules.set_setting(s, "test", "kpi_min_cases", 3)
        graded = {r["group"]: r for r in kpi.evaluate(s, bj(2026, 3, 2).date(), bj(2026, 3, 9).date(),
                                                      "department")["rows"]}["LGJT"]
        rules.set_setting(s, "test", "kpi_min_cases", 5)
    assert graded["graded"] and graded["grade"] == "D" and graded["rank"] == 1  # 40 <= 55 < 60
    # before the deadline c was not yet late: evaluated on 2 March at noon, only handled cases count
    with app.extensions["db"].transaction() as s:
        early = {r["group"]: r for r in kpi.evaluate(s, bj(2026, 3, 2).date(), bj(2026, 3, 9).date(), "department",
                                                     now=bj(2026, 3, 2, 12, 0))["rows"]}["LGJT"]
    assert early["overdue_open"] == 0
    with app.extensions["db"].transaction() as s:
        stations = kpi.evaluate(s, bj(2026, 3, 2).date(), bj(2026, 3, 9).date(), "station")["rows"]
    assert sum(x["cases"] for x in stations) == 5
    assert sum(x["filed"] for x in stations) == 4 and sum(x["reports"] for x in stations) == 5


def test_demo_history_scores_agree_with_the_events(app, settings):
    """Seed a week of demo history, then recompute the department figures from the case events alone."""
    now = bj(2026, 6, 30, 18, 0)
    result = demo.seed(app.extensions["db"].sessionmaker, settings, days=6, per_day=12, seed_value=3, now=now)
    assert result["cases"] > 40 and result["steps"] > 200
    start, end = bj(2026, 6, 24).date(), bj(2026, 7, 1).date()
    later = bj(2026, 8, 1, 9, 0)  # evaluated a month on: every case still open is past its deadline
    with app.extensions["db"].transaction() as s:
        table = {r["group"]: r for r in kpi.evaluate(s, start, end, "department", now=later)["rows"]}
        cases = s.scalars(select(Case).where(Case.first_reported_at >= bj(2026, 6, 24),
                                             Case.first_reported_at < bj(2026, 7, 1))).all()
        events = defaultdict(list)
        for e in s.scalars(select(CaseEvent).where(CaseEvent.case_id.in_([c.id for c in cases]))
                           .order_by(CaseEvent.id)):
            events[e.case_id].append(e)
    by_hand = defaultdict(lambda: defaultdict(int))
    for c in cases:
        evs = events[c.id]
        owner = None
        for e in evs:
            if e.action in ("dispatch", "fallback"):
                owner = (e.data.get("owner") or e.data.get("after"))
            if e.action == "return":
                owner = None
        if not owner or owner["kind"] != "department":
            continue
        g = by_hand[owner["code"]]
        actions = [e.action for e in evs]
        g["cases"] += 1
        g["reports"] += 1 + actions.count("report_merged")
        g["filed"] += "file" in actions
        feedbacks = [e for e in evs if e.action == "feedback"]
        last_rework = max((i for i, e in enumerate(evs) if e.action == "rework"), default=-1)
        current = [e for e in feedbacks if evs.index(e) > last_rework]
        g["handled"] += bool(current)
        g["handled_on_time"] += bool(current) and current[-1].data["on_time"]
        still_open = c.state not in machine.FINAL and c.deadline_at is not None
        late = (c.frozen_share > 1) if c.frozen_share is not None else still_open and c.deadline_at < later
        g["late_unhandled"] += still_open and late and not current
        g["closed"] += "close" in actions
        g["reworked"] += "rework" in actions
    assert by_hand, "the demo week dispatched nothing to a department"
    steps = {e.action for evs in events.values() for e in evs}  # the tiers take part (app/tiers/demo.py)
    assert {"assign", "self_handle", "report_to_station"} <= steps
    for code, g in by_hand.items():
        r = table[code]
        assert (r["cases"], r["reports"], r["filed"], r["handled"], r["closed"]) == \
            (g["cases"], g["reports"], g["filed"], g["handled"], g["closed"]), code
        if g["handled"]:
            assert r["on_time_disposal_rate"] == pytest.approx(
                g["handled_on_time"] / (g["handled"] + g["late_unhandled"]), abs=1e-4)
        if g["filed"]:
            assert r["closure_rate"] == pytest.approx(g["closed"] / g["filed"], abs=1e-4)
    assert sum(g["cases"] for g in by_hand.values()) == sum(r["cases"] for r in table.values())


def test_supervision_orders_over_the_api(app, story, live_server, make_user):
    case_id = story.report(bj(2026, 5, 11, 9, 0))
    story.to_dispatched(case_id, bj(2026, 5, 11, 9, 10))
    sup = {"Authorization": f"Bearer {make_user('supervisor')[2]}"}
    handler = {"Authorization": f"Bearer {make_user('handler', department_code='LGJT')[2]}"}
    url = f"{live_server}/api/v1/cases/{case_id}/supervision"
    import requests

    assert requests.post(url, json={"method": "phone", "reason": "x"}, headers=handler, timeout=10).status_code == 403
    bad = requests.post(url, json={"method": "pigeon", "reason": "x"}, headers=sup, timeout=10)
    assert bad.status_code == 422 and bad.json()["field"] == "method"
    order = requests.post(url, json={"method": "written", "reason": "请加快处置"}, headers=sup, timeout=10).json()
    act = f"{live_server}/api/v1/supervision/{order['id']}/actions"
    assert requests.post(act, json={"action": "close"}, headers=handler, timeout=10).status_code == 403
    assert requests.post(act, json={"action": "answer"}, headers=handler, timeout=10).status_code == 422
    assert requests.post(act, json={"action": "answer", "note": "已安排"}, headers=handler, timeout=10).ok
    done = requests.post(act, json={"action": "close", "note": "好"}, headers=sup, timeout=10).json()
    assert done["state"] == "closed" and [h["action"] for h in done["history"]] == ["opened", "answer", "close"]
    again = requests.post(act, json={"action": "answer", "note": "x"}, headers=handler, timeout=10)
    assert again.status_code == 409
    lists = requests.get(f"{live_server}/api/v1/supervision/lists", headers=sup, timeout=30).json()
    assert case_id in [f["id"] for f in lists["overdue"]["features"]]  # long past its deadline today


def test_kpi_exports_and_digest_over_http(live_server, make_user, app, story):
    import io

    import requests
    from openpyxl import load_workbook

    leader = {"Authorization": f"Bearer {make_user('leader')[2]}"}
    case_id = story.report(bj(2026, 2, 10, 9, 0))
    story.to_dispatched(case_id, bj(2026, 2, 10, 9, 20))
    story.act(case_id, "leader", "escalate", bj(2026, 2, 10, 10, 0), level=1, note="部门会商")
    params = {"from": "2026-02-01", "to": "2026-03-01", "by": "department"}
    body = requests.get(f"{live_server}/api/v1/kpi", params=params, headers=leader, timeout=30).json()
    assert body["rows"] and body["rows"][0]["name"] == "临港集团"
    csv_answer = requests.get(f"{live_server}/api/v1/kpi.csv", params=params, headers=leader, timeout=30)
    text = csv_answer.content.decode("utf-8-sig")
    assert csv_answer.headers["Content-Type"].startswith("text/csv") and text.startswith("对象,名称,案件数")
    assert "LGJT" in text
    xlsx = requests.get(f"{live_server}/api/v1/kpi.xlsx", params=params, headers=leader, timeout=30)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet["A1"].value == "对象" and sheet["A2"].value == "LGJT"
    for bad, field in (({"by": "planet"}, "by"), ({"from": "soon"}, "from"),
                       ({"from": "2026-03-01", "to": "2026-02-01"}, "to")):
        answer = requests.get(f"{live_server}/api/v1/kpi", params=bad, headers=leader, timeout=30)
        assert answer.status_code in (400, 422) and answer.json()["field"] == field
    digest = requests.get(f"{live_server}/api/v1/digest", params={"date": "2026-02-10", "span": "week"},
                          headers=leader, timeout=30).json()
    assert digest["from"] == "2026-02-04" and digest["to"] == "2026-02-10"
    assert case_id in [e["case_id"] for e in digest["escalations"]]
    assert any(r["code"] == "01004" for r in digest["rising_categories"])
    bad = requests.get(f"{live_server}/api/v1/digest", params={"span": "year"}, headers=leader, timeout=30)
    assert bad.status_code == 422 and bad.json()["field"] == "span"
