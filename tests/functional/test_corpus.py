"""A hostile corpus over every write schema, property-based: one field of a valid body replaced by a value no
schema accepts (a NUL or a lone surrogate, a wrong type, NaN, 1e308, a list nested 40 deep, an
overlong text...). Every answer must be a 4xx naming the field (or the body), never a 500, and no row
may change. The corpus prints its size and outcome (the closing note of the hardening issue quotes it)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.accounts.models import AuditEntry, User
from app.analysis.models import ChronicEvent, ChronicProblem, WarningModule
from app.cases.models import Case, CaseEvent, DispatchRule, Report, Setting, SupervisionOrder
from app.command.models import (
    DutyAssignment,
    HandoverNote,
    Incident,
    IncidentLogEntry,
    Instruction,
    ResourceDispatch,
)
from app.errors import InputError
from app.field.models import PatrolRoute
from app.schemas import BODIES, body, parse_json
from app.territory.models import BoundaryDraft, BoundaryVersion, Station

TABLES = (Report, Case, CaseEvent, SupervisionOrder, DispatchRule, Setting, BoundaryVersion, Station, BoundaryDraft,
          PatrolRoute, WarningModule, User, ChronicProblem, ChronicEvent, Incident, IncidentLogEntry, DutyAssignment,
          HandoverNote, Instruction, ResourceDispatch)

NESTED = json.loads("[" * 40 + "]" * 40)  # beyond the depth limit once serialised inside a body
TEXTS = ["a\x00b", "lone \ud800 surrogate", "x" * 100_000]
WRONG = [True, 12345, -1e308, 1e308, [1, 2], {"a": 1}, NESTED, [[[[[["x"]]]]]]]


def _raw(valid: dict, field: str, value: object) -> bytes:
    text = json.dumps({**valid, field: value}, allow_nan=True).replace('"NaN"', "NaN")
    return text.encode("utf-8", "surrogatepass")


def refused(name: str, valid: dict, field: str, value: object) -> bool:
    """Whether the input layer refuses the body (the corpus keeps only such values)."""
    try:
        body(name, parse_json(_raw(valid, field, value)))
    except InputError:
        return True
    return False


def hostile(schema: dict) -> st.SearchStrategy:
    """Values the field's schema refuses, whatever the rest of the body."""
    kind = schema.get("type")
    if kind == "string":
        return st.sampled_from([*TEXTS, True, 7, 1.5, ["x"], {"k": "v"}, NESTED])
    if kind in ("integer", "number"):
        return st.sampled_from(["12", "NaN", True, [3], {"n": 1}, NESTED, 1e308 if schema.get("maximum") else "1e9"])
    if kind == "boolean":
        return st.sampled_from(["yes", 1, 0.5, [], {}, NESTED])
    if kind == "array":
        return st.sampled_from(["not a list", 5, {"a": 1}, NESTED, [NESTED], ["a\x00"] * 3])
    if kind == "object":
        return st.sampled_from(["not an object", 5, [1], NESTED, {"\x00": 1}])
    return st.sampled_from(WRONG + TEXTS)


# endpoint, method, role, schema, a valid body to start from
WRITES = [
    ("/api/v1/reports", "post", "intake", "ReportInput",
     {"channel": "hotline", "category": "06010", "description": "语料", "lon": 121.93, "lat": 30.90}),
    ("/api/v1/reports/{report}/split", "post", "dispatcher", "Split", {"reason": "分开"}),
    ("/api/v1/cases/{case}/actions", "post", "dispatcher", "Action", {"action": "verify", "version": 1}),
    ("/api/v1/cases/{case}/supervision", "post", "supervisor", "OrderInput", {"method": "phone", "reason": "催办"}),
    ("/api/v1/supervision/{order}/actions", "post", "supervisor", "OrderAction", {"action": "remind", "note": "n"}),
    ("/api/v1/dispatch-rules", "post", "admin", "RuleInput", {"priority": 5, "name": "x", "target": "town_center"}),
    ("/api/v1/dispatch-rules/{rule}", "put", "admin", "RuleInput", {"name": "x"}),
    ("/api/v1/settings/fallback_share", "put", "admin", "SettingInput", {"value": 0.5}),
    ("/api/v1/alerts/modules/{module}", "put", "admin", "AlertModuleInput", {"active": True}),
    ("/api/v1/planning/coverage/preview", "post", "planner", "Proposal",
     {"coverage": {"type": "FeatureCollection", "features": []}}),
    ("/api/v1/planning/coverage", "post", "planner", "Proposal",
     {"coverage": {"type": "FeatureCollection", "features": []}, "reason": "r", "base_version": 1}),
    ("/api/v1/planning/versions/1/restore", "post", "planner", "RestoreInput", {"reason": "r", "base_version": 1}),
    ("/api/v1/planning/sites", "post", "planner", "SitesInput", {"k": 1}),
    ("/api/v1/planning/territories", "post", "planner", "TerritoriesInput", {"sites": [{"lon": 121.9, "lat": 30.9}]}),
    ("/api/v1/planning/drafts/{draft}", "put", "planner", "DraftInput", {"title": "t"}),
    ("/api/v1/planning/drafts", "post", "planner", "DraftCreate",
     {"title": "t", "proposal": {"coverage": {"type": "FeatureCollection", "features": []}}}),
    ("/api/v1/patrols/plan", "post", "dispatcher", "PatrolPlanInput", {"station": "JS-001"}),
    ("/api/v1/patrols/{route}/assign", "post", "dispatcher", "AssignInput", {"assignee": "nobody"}),
    ("/api/v1/district/orders", "post", "intake", "DistrictOrder",
     {"order_no": "PD-CORPUS", "category": "06010", "description": "语料", "lon": 121.93, "lat": 30.90}),
    ("/api/v1/cases/{case}/reviews", "post", "evaluator", "ReviewInput", {"rating": 4, "review": "评议"}),
    ("/api/v1/chronic/{chronic}", "post", "supervisor", "ChronicControl", {"version": 1, "note": "n"}),
    # emergency command and the duty roster: refused by the schema before any record is looked up
    ("/api/v1/incidents", "post", "commander", "IncidentInput",
     {"title": "t", "type": "flood", "level": "II", "commander": "nobody", "lon": 121.93, "lat": 30.9,
      "buffer_m": 500}),
    ("/api/v1/incidents/999999999/roll-calls", "post", "commander", "RollCallInput", {"text": "t", "usernames": []}),
    ("/api/v1/incidents/999999999/dispatches", "post", "commander", "DispatchInput", {"resource_id": 1, "quantity": 1}),
    ("/api/v1/duty/roster/plan", "post", "shift_leader", "RosterPlanInput",
     {"position": "INFO-GRID", "month": "2031-05", "usernames": ["nobody"]}),
    ("/api/v1/duty/handovers", "post", "duty_officer", "HandoverInput",
     {"position": "INFO-GRID", "to_username": "nobody", "open_items": "x"}),
]


@pytest.fixture(scope="module")
def ids(app, make_user, spots):
    """Records the write paths name: a case with a report, an order, a rule, a module, a draft, a route."""
    p = spots()
    intake = {"Authorization": f"Bearer {make_user('intake')[2]}"}
    with app.test_client() as client:
        answer = client.post("/api/v1/reports", headers=intake, json={
            "channel": "hotline", "category": "06010", "description": "语料目标", "lon": p.x, "lat": p.y}).get_json()
        supervisor = {"Authorization": f"Bearer {make_user('supervisor')[2]}"}
        order = client.post(f"/api/v1/cases/{answer['case_id']}/supervision", headers=supervisor,
                            json={"method": "phone", "reason": "语料"}).get_json()
    with app.extensions["db"].transaction() as s:
        rule = s.scalar(select(func.min(DispatchRule.id)))
        module = s.scalar(select(WarningModule.code).order_by(WarningModule.code))
        base = s.scalar(select(func.max(BoundaryVersion.id)))
        draft = BoundaryDraft(kind="territories", title="corpus", base_version_id=base, created_by="t",
                              updated_by="t", proposal={"coverage": {"type": "FeatureCollection", "features": []}})
        route = PatrolRoute(station_code="JS-001", day=__import__("datetime").date(2026, 1, 1), shift_minutes=60,
                            speed_kph=15, stops=[], length_m=0, duration_s=0, value=0, solver={}, created_by="t")
        chronic = ChronicProblem(grid_code="310115145999999", category_code="06010", status="open")
        s.add_all([draft, route, chronic])
        s.flush()
        return {"case": answer["case_id"], "report": answer["report_id"], "order": order["id"], "rule": rule,
                "module": module, "draft": draft.id, "route": route.id, "chronic": chronic.id}


def counts(app) -> tuple:
    with app.extensions["db"].transaction() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in TABLES)


def audits(app) -> int:
    with app.extensions["db"].transaction() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry))


@pytest.mark.parametrize(("path", "method", "role", "schema", "valid"), WRITES, ids=[f"{w[1]} {w[0]}" for w in WRITES])
def test_no_hostile_value_is_a_500_or_a_write(app, live_server, make_user, ids, path, method, role, schema, valid,
                                              capsys):
    token = make_user(role)[2]
    url = live_server + path.format(**ids)
    fields = sorted(BODIES[schema]["properties"])
    before, audited = counts(app), audits(app)

    tally: Counter = Counter()

    @settings(max_examples=24, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.filter_too_much])
    @given(field=st.sampled_from(fields), data=st.data())
    def attempt(field: str, data: st.DataObject) -> None:
        value = data.draw(hostile(BODIES[schema]["properties"][field])
                          .filter(lambda v: refused(schema, valid, field, v)), label=field)
        answer = requests.request(method, url, data=_raw(valid, field, value), timeout=60,
                                  headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        tally["tried"] += 1
        tally[f"{answer.status_code // 100}xx"] += 1
        assert 400 <= answer.status_code < 500, (path, field, repr(value)[:80], answer.status_code, answer.text[:300])
        body = answer.json()
        assert body.get("field") and body.get("message"), body
        assert body["field"] == "body" or field in body["field"] or body["field"].split(".")[0] in fields, (
            field, body)

    attempt()
    with capsys.disabled():
        print(f"\nCORPUS {method.upper()} {path} tried={tally['tried']} 4xx={tally['4xx']} 5xx={tally['5xx']}")
    assert counts(app) == before, f"{path}: a refused write changed rows"
    assert audits(app) == audited


@pytest.mark.parametrize(("path", "form", "field"), [
    ("/login", {"username": "a\x00b", "password": "x"}, "username"),
    ("/open311/v2/requests.json", {"service_code": "06010", "description": "a\x00b", "lat": "30.9",
                                   "long": "121.93"}, "description"),
])
def test_forms_refuse_nul_characters(app, live_server, make_user, path, form, field):
    before = counts(app)
    answer = requests.post(live_server + path, data={**form, "api_key": make_user("intake")[2]}, timeout=30)
    assert answer.status_code == 400, answer.text[:300]
    assert counts(app) == before
