"""The closed loop of a case as a state machine: states, actions, who may take them, what they need.

reported -> verified -> filed (or not_filed) -> dispatched -> in_progress -> handled -> checked
-> closed -> archived, with return to the dispatcher (回退: back to filed), rework after a failed
check (返工: back to dispatched, same owner), extension (延期: request, then approve or deny;
the clock pauses while pending), suspension (挂账: request, approve -> suspended, resume), void
(作废) and escalation (a level from 1 to 4 that only ever rises). `plan()` decides whether an
action is allowed and what it does; the service applies it to the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from app.errors import DomainError

STATES: dict[str, tuple[str, str]] = {
    "reported": ("已上报", "reported"),
    "verified": ("已核实", "verified"),
    "filed": ("已立案", "filed"),
    "not_filed": ("不予立案", "not filed"),
    "dispatched": ("已派遣", "dispatched"),
    "in_progress": ("处置中", "in progress"),
    "handled": ("已反馈", "handled"),
    "checked": ("已核查", "checked"),
    "closed": ("已结案", "closed"),
    "archived": ("已归档", "archived"),
    "suspended": ("挂账", "suspended"),
    "void": ("已作废", "void"),
}
FINAL = frozenset({"not_filed", "closed", "archived", "void"})
OPEN = frozenset(STATES) - FINAL
CLOCK_RUNNING = frozenset({"dispatched", "in_progress"})  # the disposal limit runs while the owner works

ESCALATION_LEVELS: dict[int, tuple[str, str]] = {
    1: ("部门会商", "department consultation"),
    2: ("领导现场派单", "leader's on-site dispatch"),
    3: ("领导批示派单", "leader's written dispatch"),
    4: ("主要领导约谈", "interview by the top leader"),
}

INTAKE, SHIFT, DISPATCHER, HANDLER, PATROL = "intake", "shift_leader", "dispatcher", "handler", "patrol"
SUPERVISOR, ADMIN, LEADER = "supervisor", "admin", "leader"
CHIEF, WORKSTATION, EVALUATOR = "station_chief", "workstation", "evaluator"
MEMBERS = (HANDLER, PATROL)  # a station team's members: patrol officers and department officers seated there


@dataclass(frozen=True)
class Action:
    """One kind of step: from which states, to which (None: stays), by whom, needing which fields."""

    name: str
    label_zh: str
    sources: frozenset[str]
    target: str | None
    roles: frozenset[str]
    needs: tuple[str, ...] = ()
    when: str | None = None  # a flag that must hold: extension_pending, suspension_pending, or their negation
    optional: tuple[str, ...] = ()  # fields the step also takes (the console's form offers them)


def _a(name: str, zh: str, sources: Iterable[str], target: str | None, roles: Iterable[str],
       needs: Iterable[str] = (), when: str | None = None, optional: Iterable[str] = ()) -> Action:
    return Action(name, zh, frozenset(sources), target, frozenset(roles), tuple(needs), when, tuple(optional))


WORKING = ("dispatched", "in_progress")
ACTIONS: dict[str, Action] = {a.name: a for a in (
    _a("verify", "核实", ["reported"], "verified", [INTAKE, SHIFT, DISPATCHER, PATROL], optional=["note"]),
    _a("file", "立案", ["verified"], "filed", [SHIFT, DISPATCHER], optional=["urgency"]),
    _a("reject", "不予立案", ["reported", "verified"], "not_filed", [INTAKE, SHIFT, DISPATCHER], ["reason"]),
    _a("dispatch", "派遣", ["filed"], "dispatched", [DISPATCHER, SHIFT], optional=["owner", "helpers", "reason"]),
    _a("accept", "签收", ["dispatched"], "in_progress", [HANDLER, PATROL]),
    _a("return", "回退", WORKING, "filed", [HANDLER, PATROL, CHIEF], ["reason"]),
    _a("feedback", "处置反馈", ["in_progress"], "handled", [HANDLER, PATROL], optional=["note", "photos"]),
    _a("check", "核查通过", ["handled"], "checked", [PATROL, INTAKE, SUPERVISOR, SHIFT]),
    _a("rework", "返工", ["handled"], "dispatched", [PATROL, INTAKE, SUPERVISOR, SHIFT], ["reason"]),
    _a("close", "结案", ["checked"], "closed", [SHIFT, DISPATCHER], optional=["satisfaction"]),
    _a("rate", "满意度回访", ["closed", "archived"], None, [INTAKE, SHIFT], ["satisfaction"]),
    _a("archive", "归档", ["closed", "not_filed", "void"], "archived", [SHIFT, ADMIN]),
    _a("request_extension", "申请延期", WORKING, None, [HANDLER, PATROL], ["hours", "reason"],
       "not extension_pending"),
    _a("approve_extension", "批准延期", WORKING, None, [SHIFT, DISPATCHER, LEADER], (), "extension_pending"),
    _a("deny_extension", "驳回延期", WORKING, None, [SHIFT, DISPATCHER, LEADER], ["reason"], "extension_pending"),
    _a("request_suspension", "申请挂账", ["filed", *WORKING], None, [HANDLER, PATROL, DISPATCHER], ["reason"],
       "not suspension_pending"),
    _a("approve_suspension", "批准挂账", ["filed", *WORKING], "suspended", [SHIFT, LEADER], (), "suspension_pending"),
    _a("deny_suspension", "驳回挂账", ["filed", *WORKING], None, [SHIFT, LEADER], ["reason"], "suspension_pending"),
    _a("resume", "恢复处置", ["suspended"], None, [SHIFT, DISPATCHER]),
    _a("void", "作废", OPEN, "void", [SHIFT, ADMIN], ["reason"]),
    _a("escalate", "升级督办", ["filed", "dispatched", "in_progress", "handled", "suspended"], None,
       [SHIFT, LEADER, SUPERVISOR, CHIEF], ["level", "note"]),
    # second-level dispatch (二级派单): the station chief hands the station's case to a member of its team
    _a("assign", "站内派单", ["dispatched"], None, [CHIEF], ["assignee"], "not assigned", ["note"]),
    _a("take_back", "站长收回", WORKING, "dispatched", [CHIEF], ["reason"], "assigned"),
    _a("hand_back", "退回站长", WORKING, "dispatched", MEMBERS, ["reason"], "assigned"),
    # micro-circulation (微循环): a workstation closes what it fixed itself; the center may reopen or check it
    _a("self_handle", "自行处置", ["reported", "verified"], "closed", [WORKSTATION], ["note", "photos"]),
    _a("report_to_station", "上报联勤站", ["reported"], "dispatched", [WORKSTATION], ["reason"]),
    _a("report_to_center", "上报城运中心", ["reported"], "verified", [WORKSTATION], ["reason"]),
    _a("reopen", "重新受理", ["closed"], "filed", [SHIFT, DISPATCHER], ["reason"], "self_handled"),
    _a("spot_check", "抽查通过", ["closed", "archived"], None, [SHIFT, DISPATCHER, SUPERVISOR], optional=["note"],
       when="check_pending"),
)}


class ActionRefused(DomainError):
    """An action cannot be taken; `kind` is unknown_action, forbidden, illegal, missing_field or invalid_field."""

    def __init__(self, kind: str, message: str, field: str | None = None) -> None:
        super().__init__(message, field, status=403 if kind == "forbidden" else 422, error=kind)
        self.kind = kind


@dataclass(frozen=True)
class CaseView:
    """What the machine needs to know about a case."""

    state: str
    extension_pending: bool = False
    suspension_pending: bool = False
    resume_state: str | None = None
    escalation_level: int = 0
    assigned: bool = False  # a station chief assigned it to a member of the team
    self_handled: bool = False  # closed by a workstation itself
    check_pending: bool = False  # sampled for the center's check


@dataclass
class Step:
    """The outcome of an allowed action: the state after it and the flags it changes."""

    action: Action
    from_state: str
    to_state: str
    changes: dict = field(default_factory=dict)


def form(action: str) -> dict[str, list[str]]:
    """The fields an action takes, in the order a form shows them, and which of them are required."""
    a = ACTIONS[action]
    return {"fields": [*a.needs, *a.optional], "required": list(a.needs)}


def allowed(case: CaseView, role: str) -> list[str]:
    """The actions this role may take on the case now (for buttons and for the API answer)."""
    return [name for name, a in ACTIONS.items() if role in a.roles and _possible(a, case)]


def plan(action: str, case: CaseView, role: str, fields: dict) -> Step:
    """Check an action against the state, the role and the fields; return what it does."""
    a = ACTIONS.get(action)
    if a is None:
        raise ActionRefused("unknown_action", f"unknown action {action!r}; actions: {', '.join(ACTIONS)}", "action")
    if role not in a.roles:
        raise ActionRefused("forbidden", f"role {role} may not {action}")
    if not _possible(a, case):
        state = STATES[case.state][1]
        why = f" ({a.when.replace('_', ' ')} is required)" if a.when and case.state in a.sources else ""
        raise ActionRefused("illegal", f"cannot {action} a case that is {state}{why}", "action")
    for name in a.needs:
        value = fields.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ActionRefused("missing_field", f"{action} needs {name}", name)
    return Step(a, case.state, _target(a, case), _changes(a, case, fields))


def _possible(a: Action, case: CaseView) -> bool:
    if case.state not in a.sources:
        return False
    if a.when is None:
        return True
    negate = a.when.startswith("not ")
    flag = getattr(case, a.when.removeprefix("not "))
    return not flag if negate else bool(flag)


def _target(a: Action, case: CaseView) -> str:
    if a.name == "resume":
        return case.resume_state or "filed"
    return a.target or case.state


def _escalate(case: CaseView, fields: dict) -> dict:
    level = fields["level"]
    if not isinstance(level, int) or isinstance(level, bool) or level not in ESCALATION_LEVELS:
        raise ActionRefused("invalid_field", "level must be 1, 2, 3 or 4", "level")
    if level <= case.escalation_level:
        raise ActionRefused("illegal", f"the case is already at escalation level {case.escalation_level}", "level")
    return {"escalation_level": level}


def _request_extension(case: CaseView, fields: dict) -> dict:
    hours = fields["hours"]
    if not isinstance(hours, int | float) or isinstance(hours, bool) or not 0 < hours <= 24 * 30:
        raise ActionRefused("invalid_field", "hours must be a number between 0 and 720", "hours")
    return {"extension_pending": True}


def _feedback(case: CaseView, fields: dict) -> dict:
    if not (fields.get("note") or fields.get("photos")):
        raise ActionRefused("missing_field", "feedback needs a note or photos of the result", "note")
    return CLEARS_PENDING


def _rating(fields: dict) -> None:
    rating = fields.get("satisfaction")
    if rating is not None and (not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5):
        raise ActionRefused("invalid_field", "satisfaction must be a whole number from 1 to 5", "satisfaction")


def _rate(case: CaseView, fields: dict) -> dict:
    _rating(fields)
    return {}


def _close(case: CaseView, fields: dict) -> dict:
    _rating(fields)
    return CLEARS_PENDING


CLEARS_PENDING = {"extension_pending": False, "suspension_pending": False}  # the step answers any request
CHANGES = {
    "escalate": _escalate,
    "request_extension": _request_extension,
    "approve_extension": lambda case, fields: {"extension_pending": False},
    "deny_extension": lambda case, fields: {"extension_pending": False},
    "request_suspension": lambda case, fields: {"suspension_pending": True},
    "approve_suspension": lambda case, fields: {"suspension_pending": False, "resume_state": case.state,
                                                "extension_pending": False},
    "deny_suspension": lambda case, fields: {"suspension_pending": False},
    "resume": lambda case, fields: {"resume_state": None},
    "feedback": _feedback,
    "rate": _rate,
    "close": _close,
    "reopen": lambda case, fields: {"self_handled": False, "check_pending": False},
    "spot_check": lambda case, fields: {"check_pending": False},
    **{name: lambda case, fields: CLEARS_PENDING for name in ("return", "rework", "void", "reject", "archive")},
}


def _changes(a: Action, case: CaseView, fields: dict) -> dict:
    """The flags an allowed action changes (after checking the fields it takes)."""
    change = CHANGES.get(a.name)
    return dict(change(case, fields)) if change else {}
