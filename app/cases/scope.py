"""Which cases a user may see and act on: department handlers their department's (and joint cases they
help on), patrol staff their station's, station chiefs their station's, workstation staff their
workstation territory's, outside evaluators closed cases only; every other role the whole town. A
member of a station's team also sees the cases its chief assigned to them. A handler without a
department, a patrol officer or chief without a station or a workstation user without a workstation
sees nothing (never everything).

`visible_to(user)` is the rule as SQL for lists and counts; `may_see` / `may_act` the same rule on
one loaded case; `check_visible` answers 404 for a case the user may not see (it does not say the
case exists).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, literal, or_, select
from sqlalchemy.orm import object_session

from app.accounts.models import User
from app.cases.models import Case
from app.errors import NotFound
from app.territory.models import Station

# Steps only the owner takes: patrol staff take them only on cases owned by their station (and, once the chief
# assigned the case, only the member it was assigned to).
OWNER_STEPS = frozenset({"accept", "return", "feedback", "request_extension", "request_suspension", "hand_back"})
CHIEF_STEPS = frozenset({"assign", "take_back", "return", "escalate"})
REVIEWABLE = ("closed", "archived")

SCOPED_ROLES = frozenset({"handler", "patrol", "station_chief", "workstation"})


def scoped(user: User | None) -> bool:
    """Whether the user sees only part of the town's cases (handlers, patrol staff, the tiers' roles)."""
    return user is not None and user.role in SCOPED_ROLES


def _workstation_territory(user: User) -> ColumnElement:
    """The workstation territory code (3 digits, as cases carry it) of a workstation user's workstation."""
    return (select(Station.workstation_code).where(Station.code == user.station_code, Station.tier == "workstation")
            .scalar_subquery())


def visible_to(user: User) -> ColumnElement[bool]:
    """The cases a user may see, as a WHERE condition."""
    if user.role == "handler":
        if not user.department_code:
            return false()
        return or_(and_(Case.owner_kind == "department",
                        or_(Case.owner_code == user.department_code,
                            Case.helpers.contains([user.department_code]))),
                   Case.assignee == user.username)
    if user.role in ("patrol", "station_chief"):
        if not user.station_code:
            return false()
        return or_(Case.station_code == user.station_code, Case.owner_code == user.station_code,
                   Case.assignee == user.username)
    if user.role == "workstation":
        if not user.station_code:
            return false()
        return or_(Case.workstation_code == _workstation_territory(user), Case.owner_code == user.station_code)
    if user.role == "evaluator":
        return Case.state.in_(REVIEWABLE)
    return literal(True)


def _member_may(user: User, case: Case, action: str | None) -> bool | None:
    """A team member and a case assigned by the chief: only the assignee takes the owner's steps."""
    if case.assignee is None:
        return None
    if case.assignee == user.username:
        return True
    if action in OWNER_STEPS:
        return False
    return None


def may_act(user: User, case: Case, action: str | None = None) -> bool:  # noqa: C901 - one branch per role
    """Whether the user may see the case (action None) or take `action` on it."""
    if user.role in ("handler", "patrol"):
        assigned = _member_may(user, case, action)
        if assigned is not None:
            return assigned
    if user.role == "handler":
        if case.owner_kind != "department" or not user.department_code:
            return False
        if case.owner_code == user.department_code:
            return True
        return action is None and user.department_code in (case.helpers or [])  # helpers see a joint case
    if user.role == "patrol":
        if not user.station_code:
            return False
        if action in OWNER_STEPS:
            return case.owner_kind == "station" and case.owner_code == user.station_code
        return case.station_code == user.station_code or case.owner_code == user.station_code
    if user.role == "station_chief":
        if not user.station_code:
            return False
        if action in CHIEF_STEPS:
            return case.owner_kind == "station" and case.owner_code == user.station_code
        return case.station_code == user.station_code or case.owner_code == user.station_code
    if user.role == "workstation":
        return bool(user.station_code) and (case.owner_code == user.station_code or
                                            case.workstation_code == workstation_territory(user))
    if user.role == "evaluator":
        return action is None and case.state in REVIEWABLE
    return True


def workstation_territory(user: User) -> str | None:
    """The 3-digit workstation territory code of a workstation user (None for a user without one)."""
    session = object_session(user)
    if session is None or not user.station_code:
        return None
    return session.scalar(select(Station.workstation_code).where(Station.code == user.station_code,
                                                                 Station.tier == "workstation"))


def may_see(user: User, case: Case) -> bool:
    """Whether the user may see the case."""
    return may_act(user, case)


def check_visible(user: User, case: Case) -> None:
    """NotFound unless the user may see the case (out of scope looks like no such case)."""
    if not may_see(user, case):
        raise NotFound("case", case.id)
