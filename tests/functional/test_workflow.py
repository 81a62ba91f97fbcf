"""The closed loop over real HTTP: every branch by the right roles; wrong roles, stale versions and
illegal steps refused with nothing changed; two dispatchers racing. And every state reached through the
services, the way tests.factories makes cases for the other tests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests
from sqlalchemy import func, select

from app.cases.machine import STATES
from app.cases.models import Case, CaseEvent
from tests import factories

CATEGORY = "01004"  # storm-drain grate: 2 working days, Lingang Group (LGJT) by the category rule


STATIONS = ("TC", "JS-001", "JS-002", "JS-003")


@pytest.fixture(scope="module")
def people(make_user):
    def bearer(role, **kw):
        return {"Authorization": f"Bearer {make_user(role, **kw)[2]}"}

    who = {
        "intake": bearer("intake"), "dispatcher": bearer("dispatcher"),
        "dispatcher2": bearer("dispatcher", display_name="另一调度员"),
        "handler": bearer("handler", department_code="LGJT"), "other_handler": bearer("handler", department_code="GA"),
        "shift": bearer("shift_leader"), "leader": bearer("leader"), "supervisor": bearer("supervisor"),
        "planner": bearer("planner"),
    }
    who.update({f"patrol:{code}": bearer("patrol", station_code=code) for code in STATIONS})
    return who


class Flow:
    """One case driven through the API."""

    def __init__(self, server, people, spots, category=CATEGORY):
        self.server, self.people = server, people
        p = spots()
        answer = requests.post(f"{server}/api/v1/reports", headers=people["intake"], timeout=30, json={
            "channel": "patrol", "category": category, "description": "雨水箅子缺失", "lon": p.x, "lat": p.y,
        })
        assert answer.status_code == 201, answer.text
        self.id = answer.json()["case_id"]
        self.case = self.get()

    def headers(self, who: str) -> dict:
        """`patrol` is patrol staff of the case's station, `far_patrol` of another station."""
        if who == "patrol":
            who = f"patrol:{self.case['station']}"
        elif who == "far_patrol":
            who = "patrol:" + next(code for code in STATIONS if code != self.case["station"])
        return self.people[who]

    def get(self, who="dispatcher") -> dict:
        return requests.get(f"{self.server}/api/v1/cases/{self.id}", headers=self.headers(who), timeout=30).json()

    def post(self, who, action, version=None, **fields):
        body = {"action": action, "version": self.case["version"] if version is None else version, **fields}
        return requests.post(f"{self.server}/api/v1/cases/{self.id}/actions", json=body,
                             headers=self.headers(who), timeout=30)

    def do(self, who, action, **fields) -> dict:
        answer = self.post(who, action, **fields)
        assert answer.status_code == 200, f"{who} {action}: {answer.text}"
        self.case = answer.json()
        return self.case

    def refused(self, who, action, status, error, **fields):
        before = self.get()
        answer = self.post(who, action, **fields)
        assert answer.status_code == status, answer.text
        assert answer.json()["error"] == error, answer.json()
        after = self.get()
        assert (after["version"], after["state"], len(after["history"])) == \
            (before["version"], before["state"], len(before["history"]))
        return answer.json()

    def to_dispatched(self):
        self.do("intake", "verify")
        self.do("dispatcher", "file")
        return self.do("dispatcher", "dispatch")


def test_the_whole_loop(live_server, people, spots):
    f = Flow(live_server, people, spots)
    assert f.case["state"] == "reported" and f.case["light"] == "green" and f.case["deadline"]
    f.do("intake", "verify", note="现场确认")
    f.do("dispatcher", "file")
    filed = f.get()
    assert filed["suggested_owner"]["kind"] == "department" and filed["suggested_owner"]["code"] == "LGJT"
    assert "dispatch" in filed["actions"]
    case = f.do("dispatcher", "dispatch")
    assert case["owner"] == {"kind": "department", "code": "LGJT"} and case["limit_hours"] == 15.0
    assert case["deadline"] and case["light"] == "green" and case["elapsed_share"] < 0.8
    assert f.get("handler")["actions"] == ["accept", "return", "request_extension", "request_suspension"]
    f.do("handler", "accept")
    f.do("handler", "feedback", note="已更换雨水箅子", photos=["https://example.invalid/after.jpg"])
    f.do("patrol", "check")
    case = f.do("shift", "close", satisfaction=5)
    assert case["state"] == "closed" and case["satisfaction"] == 5 and case["light"] is None
    case = f.do("shift", "archive")
    assert case["state"] == "archived"
    assert [h["action"] for h in case["history"]] == [
        "opened", "verify", "file", "dispatch", "accept", "feedback", "check", "close", "archive"]
    assert [h["case_version"] for h in case["history"]] == list(range(1, 10))
    assert case["history"][3]["data"]["suggested"]["rule"] == "按类别派往责任部门"
    assert all(case["milestones"][k] for k in ("verified", "filed", "dispatched", "handled", "closed"))


def test_wrong_roles_stale_versions_and_illegal_steps_change_nothing(live_server, people, spots):
    f = Flow(live_server, people, spots)
    f.refused("handler", "verify", 404, "not_found")  # a case not yet its department's: out of its sight
    f.refused("planner", "verify", 403, "forbidden")
    f.refused("dispatcher", "close", 422, "illegal")
    f.refused("dispatcher", "reject", 422, "missing_field")
    f.refused("dispatcher", "fly", 422, "unknown_action")
    f.refused("intake", "verify", 409, "stale_version", version=f.case["version"] - 1 if f.case["version"] > 1 else 99)
    f.to_dispatched()
    f.refused("other_handler", "accept", 404, "not_found")  # another department's case: as if there were none
    f.refused("far_patrol", "accept", 404, "not_found")
    body = requests.post(f"{live_server}/api/v1/cases/{f.id}/actions", data="verify", timeout=10,
                         headers={**people["dispatcher"], "Content-Type": "application/json"})
    assert body.status_code == 400 and body.json()["field"] == "body"
    missing = requests.post(f"{live_server}/api/v1/cases/999999999/actions", json={"action": "verify", "version": 1},
                            headers=people["intake"], timeout=10)
    assert missing.status_code == 404


def test_return_then_dispatch_elsewhere_needs_a_reason(live_server, people, spots):
    f = Flow(live_server, people, spots)
    f.to_dispatched()
    f.refused("handler", "return", 422, "missing_field")
    case = f.do("handler", "return", reason="不属于本单位职责")
    assert case["state"] == "filed" and case["owner"] is None and case["return_count"] == 1
    answer = f.refused("dispatcher", "dispatch", 422, "missing_field", owner={"kind": "department", "code": "CGZF"})
    assert answer["field"] == "reason" and "LGJT" in answer["message"]
    f.refused("dispatcher", "dispatch", 422, "invalid_input", owner={"kind": "department", "code": "NOPE"},
              reason="x")
    case = f.do("dispatcher", "dispatch", owner={"kind": "department", "code": "CGZF"}, helpers=["LHSR"],
                reason="退回后改派城管执法")
    assert case["owner"]["code"] == "CGZF" and case["helpers"] == ["LHSR"]
    assert case["history"][-1]["data"]["overridden"] is True


def test_rework_after_a_failed_check(live_server, people, spots):
    f = Flow(live_server, people, spots)
    f.to_dispatched()
    f.do("handler", "accept")
    f.do("handler", "feedback", note="已处理")
    f.refused("far_patrol", "rework", 404, "not_found", reason="x")  # not this station's case
    case = f.do("patrol", "rework", reason="箅子仍缺失")
    assert case["state"] == "dispatched" and case["rework_count"] == 1 and case["owner"]["code"] == "LGJT"
    assert case["light"] and not case["clock_paused"]


def test_extension_pauses_the_clock_and_moves_the_deadline(live_server, people, spots):
    f = Flow(live_server, people, spots)
    f.to_dispatched()
    f.do("handler", "accept")
    before = datetime.fromisoformat(f.case["deadline"])
    case = f.do("handler", "request_extension", hours=8, reason="需要定制箅子")
    assert case["extension_pending"] and case["clock_paused"] and case["deadline"] is None
    f.refused("handler", "request_extension", 422, "illegal", hours=8, reason="again")
    case = f.do("dispatcher", "approve_extension")
    after = datetime.fromisoformat(case["deadline"])
    assert not case["extension_pending"] and case["extension_count"] == 1 and case["limit_hours"] == 23.0
    assert (after - before).total_seconds() >= 8 * 3600  # 8 working hours are at least 8 clock hours
    f.do("handler", "request_extension", hours=4, reason="再延")
    case = f.do("leader", "deny_extension", reason="不予延期")
    assert case["limit_hours"] == 23.0 and not case["extension_pending"]


def test_suspension_and_resumption(live_server, people, spots):
    f = Flow(live_server, people, spots)
    f.to_dispatched()
    f.do("handler", "accept")
    f.do("handler", "request_suspension", reason="需等待汛期结束")
    f.refused("dispatcher", "approve_suspension", 403, "forbidden")
    case = f.do("shift", "approve_suspension")
    assert case["state"] == "suspended" and case["clock_paused"]
    case = f.do("dispatcher", "resume")
    assert case["state"] == "in_progress" and not case["clock_paused"]


def test_escalation_void_and_rating(live_server, people, spots):
    f = Flow(live_server, people, spots)
    f.to_dispatched()
    case = f.do("leader", "escalate", level=2, note="领导现场派单")
    assert case["escalation_level"] == 2
    f.refused("supervisor", "escalate", 422, "illegal", level=1, note="lower")
    case = f.do("shift", "void", reason="重复上报")
    assert case["state"] == "void" and case["light"] is None
    g = Flow(live_server, people, spots)
    g.do("intake", "verify")
    case = g.do("dispatcher", "reject", reason="不属于城市管理范围")
    assert case["state"] == "not_filed"


def test_two_dispatchers_racing_one_wins(app, live_server, people, spots):
    for _ in range(3):
        f = Flow(live_server, people, spots)
        f.do("intake", "verify")
        f.do("dispatcher", "file")
        version = f.case["version"]
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda who, f=f, v=version: f.post(who, "dispatch", version=v),
                                    ["dispatcher", "dispatcher2"]))
        assert sorted(a.status_code for a in answers) == [200, 409]
        with app.extensions["db"].transaction() as s:
            dispatches = s.scalar(select(func.count()).select_from(CaseEvent)
                                  .where(CaseEvent.case_id == f.id, CaseEvent.action == "dispatch"))
            assert dispatches == 1 and s.get(Case, f.id).version == version + 1


def test_case_list_filters_and_pages(live_server, people, spots):
    f = Flow(live_server, people, spots)
    f.to_dispatched()
    Flow(live_server, people, spots).to_dispatched()  # a second one, so that one a page leaves a next page
    url = f"{live_server}/api/v1/cases"
    page = requests.get(url, params={"state": "dispatched", "limit": 1}, headers=people["dispatcher"],
                        timeout=30).json()
    assert page["type"] == "FeatureCollection" and page["numberReturned"] == 1
    assert page["numberMatched"] >= 2 and all(x["properties"]["state"] == "dispatched" for x in page["features"])
    assert any(link["rel"] == "next" for link in page["links"])
    lon, lat = f.case["lon"], f.case["lat"]
    box = requests.get(url, params={"bbox": f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"},
                       headers=people["dispatcher"], timeout=30).json()
    assert f.id in [x["id"] for x in box["features"]]
    mine = requests.get(url, headers=people["other_handler"], timeout=30).json()
    assert f.id not in [x["id"] for x in mine["features"]]  # handlers see their department's cases only
    theirs = requests.get(url, params={"department": "LGJT"}, headers=people["handler"], timeout=30).json()
    assert f.id in [x["id"] for x in theirs["features"]]
    for params, field in (({"state": "lost"}, "state"), ({"light": "blue"}, "light"), ({"bbox": "1,2,3"}, "bbox"),
                          ({"limit": "0"}, "limit"), ({"from": "yesterday"}, "from")):
        bad = requests.get(url, params=params, headers=people["dispatcher"], timeout=30)
        assert bad.status_code in (400, 422) and bad.json()["field"] == field


@pytest.mark.parametrize("state", list(STATES))
def test_every_state_is_reached_through_the_services(session, spots, state):
    """workflow.act walks a new case to each state (tests.factories.PATHS), one version and one event a step."""
    case = factories.case_in_state(session, state, spots())
    steps = len(factories.PATHS[state])
    assert case.state == state and case.version == 1 + steps
    events = session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
    assert list(events) == ["opened", *(action for action, _, _ in factories.PATHS[state])]
