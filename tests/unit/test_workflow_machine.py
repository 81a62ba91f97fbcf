"""The state machine on its own: every action allowed and refused, role by state, against a table written
out by hand (not read from machine.ACTIONS, so that a wrong entry there fails here)."""

from __future__ import annotations

from itertools import product

import pytest

from app.cases import machine
from app.cases.machine import ACTIONS, STATES, ActionRefused, CaseView, allowed, plan

ROLES = ("intake", "shift_leader", "dispatcher", "handler", "patrol", "supervisor", "planner", "admin", "leader")
ROLES += ("station_chief", "workstation", "evaluator")  # the tiers (issue 19)
FIELDS = {"reason": "r", "note": "n", "hours": 8, "level": 1, "satisfaction": 5, "photos": ["https://x/p.jpg"],
          "assignee": "someone"}

# The twelve states, typed out.
EVERY_STATE = ("reported", "verified", "filed", "not_filed", "dispatched", "in_progress", "handled", "checked",
               "closed", "archived", "suspended", "void")
STAYS = "(stays)"  # the action changes flags, not the state
BACK = "(back)"  # resume: back to the state the case was suspended from
SUSPENDED_FROM = "in_progress"  # the resume_state of the suspended case in the matrix
WORKING = {"dispatched", "in_progress"}
NOT_FINAL = {"reported", "verified", "filed", "dispatched", "in_progress", "handled", "checked", "suspended"}

# action: (from which states, by which roles, to which state), in the order the buttons are listed.
EXPECTED: dict[str, tuple[set[str], set[str], str]] = {
    "verify": ({"reported"}, {"intake", "shift_leader", "dispatcher", "patrol"}, "verified"),
    "file": ({"verified"}, {"shift_leader", "dispatcher"}, "filed"),
    "reject": ({"reported", "verified"}, {"intake", "shift_leader", "dispatcher"}, "not_filed"),
    "dispatch": ({"filed"}, {"dispatcher", "shift_leader"}, "dispatched"),
    "accept": ({"dispatched"}, {"handler", "patrol"}, "in_progress"),
    "return": (WORKING, {"handler", "patrol", "station_chief"}, "filed"),
    "feedback": ({"in_progress"}, {"handler", "patrol"}, "handled"),
    "check": ({"handled"}, {"patrol", "intake", "supervisor", "shift_leader"}, "checked"),
    "rework": ({"handled"}, {"patrol", "intake", "supervisor", "shift_leader"}, "dispatched"),
    "close": ({"checked"}, {"shift_leader", "dispatcher"}, "closed"),
    "rate": ({"closed", "archived"}, {"intake", "shift_leader"}, STAYS),
    "archive": ({"closed", "not_filed", "void"}, {"shift_leader", "admin"}, "archived"),
    "request_extension": (WORKING, {"handler", "patrol"}, STAYS),
    "approve_extension": (WORKING, {"shift_leader", "dispatcher", "leader"}, STAYS),
    "deny_extension": (WORKING, {"shift_leader", "dispatcher", "leader"}, STAYS),
    "request_suspension": ({"filed", "dispatched", "in_progress"}, {"handler", "patrol", "dispatcher"}, STAYS),
    "approve_suspension": ({"filed", "dispatched", "in_progress"}, {"shift_leader", "leader"}, "suspended"),
    "deny_suspension": ({"filed", "dispatched", "in_progress"}, {"shift_leader", "leader"}, STAYS),
    "resume": ({"suspended"}, {"shift_leader", "dispatcher"}, BACK),
    "void": (NOT_FINAL, {"shift_leader", "admin"}, "void"),
    "escalate": ({"filed", "dispatched", "in_progress", "handled", "suspended"},
                 {"shift_leader", "leader", "supervisor", "station_chief"}, STAYS),
    "assign": ({"dispatched"}, {"station_chief"}, STAYS),
    "take_back": (WORKING, {"station_chief"}, "dispatched"),
    "hand_back": (WORKING, {"handler", "patrol"}, "dispatched"),
    "self_handle": ({"reported", "verified"}, {"workstation"}, "closed"),
    "report_to_station": ({"reported"}, {"workstation"}, "dispatched"),
    "report_to_center": ({"reported"}, {"workstation"}, "verified"),
    "reopen": ({"closed"}, {"shift_leader", "dispatcher"}, "filed"),
    "spot_check": ({"closed", "archived"}, {"shift_leader", "dispatcher", "supervisor"}, STAYS),
}
# action: (flag, the value it must have); the other actions do not look at the pending flags.
GATED = {
    "request_extension": ("extension_pending", False), "approve_extension": ("extension_pending", True),
    "deny_extension": ("extension_pending", True), "request_suspension": ("suspension_pending", False),
    "approve_suspension": ("suspension_pending", True), "deny_suspension": ("suspension_pending", True),
    "assign": ("assigned", False), "take_back": ("assigned", True), "hand_back": ("assigned", True),
    "reopen": ("self_handled", True), "spot_check": ("check_pending", True),
}
FLAGS = ("extension_pending", "suspension_pending", "assigned", "self_handled", "check_pending")
PENDING = [dict(zip(FLAGS, values, strict=True)) for values in product((False, True), repeat=len(FLAGS))]


def expected(action: str, state: str, role: str, flags: dict) -> tuple[bool, str | None]:
    """From the table: whether `role` may take `action` on a case in `state` with these flags, and the target."""
    sources, roles, target = EXPECTED[action]
    gate = GATED.get(action)
    possible = state in sources and (gate is None or flags[gate[0]] == gate[1])
    if not (possible and role in roles):
        return False, None
    return True, {STAYS: state, BACK: SUSPENDED_FROM}.get(target, target)


def view(state: str, flags: dict) -> CaseView:
    return CaseView(state, resume_state=SUSPENDED_FROM if state == "suspended" else None, **flags)


def test_the_table_names_exactly_the_machines_actions_and_states():
    assert list(EXPECTED) == list(ACTIONS)  # the same actions, in the same order (the buttons' order)
    assert set(EVERY_STATE) == set(STATES) and len(EVERY_STATE) == 12
    assert set(GATED) <= set(EXPECTED)
    for sources, roles, target in EXPECTED.values():
        assert sources <= set(EVERY_STATE) and roles <= set(ROLES) and target in {*EVERY_STATE, STAYS, BACK}
    assert machine.FINAL == {"not_filed", "closed", "archived", "void"} and machine.OPEN == NOT_FINAL


@pytest.mark.parametrize("state", EVERY_STATE)
@pytest.mark.parametrize("role", ROLES)
def test_every_action_is_allowed_exactly_where_the_table_says(state, role):
    for action, flags in product(EXPECTED, PENDING):
        may, target = expected(action, state, role, flags)
        try:
            step = plan(action, view(state, flags), role, FIELDS)
        except ActionRefused as exc:
            assert not may, f"{role} {action} from {state} {flags}: {exc.message}"
            assert exc.kind == ("forbidden" if role not in EXPECTED[action][1] else "illegal"), (action, exc.kind)
        else:
            assert may, f"{role} could {action} from {state} {flags}"
            assert step.to_state == target, f"{role} {action} from {state}: to {step.to_state}, not {target}"
    for flags in PENDING:  # the buttons: the allowed actions in the table's order
        assert allowed(view(state, flags), role) == [a for a in EXPECTED if expected(a, state, role, flags)[0]], flags


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
    assert plan("resume", CaseView("suspended"), "dispatcher", FIELDS).to_state == "filed"  # no state to go back to
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


def test_the_check_sample_of_self_handled_cases_is_fixed_and_near_its_share():
    from app.cases.tiers import sampled

    picked = [sampled(i, 0.2) for i in range(1, 5001)]
    assert 0.18 < sum(picked) / len(picked) < 0.22
    assert picked == [sampled(i, 0.2) for i in range(1, 5001)]  # the same case is always in or out
    assert not any(sampled(i, 0.0) for i in range(1, 200)) and all(sampled(i, 1.0) for i in range(1, 200))
