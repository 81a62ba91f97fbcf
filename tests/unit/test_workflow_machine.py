"""The state machine on its own: every action allowed and refused, role by state."""

from __future__ import annotations

import pytest

from app.cases import machine
from app.cases.machine import ACTIONS, STATES, ActionRefused, CaseView, allowed, plan

ROLES = ("intake", "shift_leader", "dispatcher", "handler", "patrol", "supervisor", "planner", "admin", "leader")
FIELDS = {"reason": "r", "note": "n", "hours": 8, "level": 1, "satisfaction": 5, "photos": ["https://x/p.jpg"]}


def flags_for(action) -> dict:
    if action.when is None:
        return {}
    name = action.when.removeprefix("not ")
    return {name: not action.when.startswith("not ")}


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize("role", ROLES)
def test_every_action_is_allowed_exactly_where_the_table_says(state, role):
    for action in ACTIONS.values():
        case = CaseView(state, **flags_for(action))
        expected = state in action.sources and role in action.roles
        try:
            step = plan(action.name, case, role, FIELDS)
        except ActionRefused as exc:
            assert not expected, f"{role} {action.name} from {state}: {exc.message}"
            assert exc.kind == ("forbidden" if role not in action.roles else "illegal")
        else:
            assert expected, f"{role} could {action.name} from {state}"
            assert step.to_state in STATES


def test_the_main_path_of_the_loop():
    state, path = "reported", [("verify", "intake"), ("file", "dispatcher"), ("dispatch", "dispatcher"),
                               ("accept", "handler"), ("feedback", "handler"), ("check", "patrol"),
                               ("close", "shift_leader"), ("archive", "shift_leader")]
    seen = [state]
    for action, role in path:
        state = plan(action, CaseView(state), role, FIELDS).to_state
        seen.append(state)
    assert seen == ["reported", "verified", "filed", "dispatched", "in_progress", "handled", "checked", "closed",
                    "archived"]


def test_branches_return_rework_suspend_resume_void():
    assert plan("return", CaseView("in_progress"), "handler", FIELDS).to_state == "filed"
    assert plan("rework", CaseView("handled"), "patrol", FIELDS).to_state == "dispatched"
    step = plan("approve_suspension", CaseView("in_progress", suspension_pending=True), "leader", FIELDS)
    assert step.to_state == "suspended" and step.changes["resume_state"] == "in_progress"
    assert plan("resume", CaseView("suspended", resume_state="in_progress"), "dispatcher", FIELDS).to_state == \
        "in_progress"
    assert plan("void", CaseView("dispatched"), "shift_leader", FIELDS).to_state == "void"
    assert plan("reject", CaseView("verified"), "dispatcher", FIELDS).to_state == "not_filed"


def test_pending_requests_gate_their_answers():
    with pytest.raises(ActionRefused, match="extension pending is required"):
        plan("approve_extension", CaseView("in_progress"), "dispatcher", FIELDS)
    with pytest.raises(ActionRefused, match="not extension pending"):
        plan("request_extension", CaseView("in_progress", extension_pending=True), "handler", FIELDS)
    assert plan("request_extension", CaseView("in_progress"), "handler", FIELDS).changes == {"extension_pending": True}


@pytest.mark.parametrize(
    ("action", "state", "role", "fields", "field"),
    [
        ("reject", "reported", "dispatcher", {}, "reason"),
        ("return", "dispatched", "handler", {"reason": "  "}, "reason"),
        ("feedback", "in_progress", "handler", {}, "note"),
        ("rework", "handled", "patrol", {}, "reason"),
        ("request_extension", "in_progress", "handler", {"reason": "rain"}, "hours"),
        ("request_extension", "in_progress", "handler", {"reason": "rain", "hours": -3}, "hours"),
        ("escalate", "dispatched", "leader", {"note": "n", "level": 7}, "level"),
        ("rate", "closed", "intake", {"satisfaction": 6}, "satisfaction"),
        ("void", "filed", "admin", {}, "reason"),
    ],
)
def test_missing_or_bad_fields_are_named(action, state, role, fields, field):
    with pytest.raises(ActionRefused) as exc:
        plan(action, CaseView(state), role, fields)
    assert exc.value.field == field and exc.value.kind in ("missing_field", "invalid_field")


def test_escalation_only_rises():
    assert plan("escalate", CaseView("filed", escalation_level=1), "leader", {"level": 3, "note": "n"}).changes == \
        {"escalation_level": 3}
    with pytest.raises(ActionRefused, match="already at escalation level 3"):
        plan("escalate", CaseView("filed", escalation_level=3), "leader", {"level": 2, "note": "n"})


def test_unknown_action():
    with pytest.raises(ActionRefused) as exc:
        plan("teleport", CaseView("filed"), "dispatcher", {})
    assert exc.value.kind == "unknown_action"


def test_allowed_lists_buttons_for_a_role():
    assert allowed(CaseView("filed"), "dispatcher") == ["dispatch", "request_suspension"]
    assert set(allowed(CaseView("handled"), "patrol")) == {"check", "rework"}
    assert allowed(CaseView("closed"), "planner") == []
    assert machine.OPEN.isdisjoint(machine.FINAL)
