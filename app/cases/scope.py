"""Which cases a user may see and act on: department handlers their department's (and joint cases they
help on), patrol staff their station's; every other role the whole town. A handler without a
department or a patrol officer without a station sees nothing (never everything).

`visible_to(user)` is the rule as SQL for lists and counts; `may_see` / `may_act` the same rule on
one loaded case; `check_visible` answers 404 for a case the user may not see (it does not say the
case exists).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, literal, or_

from app.accounts.models import User
from app.cases.models import Case
from app.errors import NotFound

# Steps only the owner takes: patrol staff take them only on cases owned by their station.
OWNER_STEPS = frozenset({"accept", "return", "feedback", "request_extension", "request_suspension"})


SCOPED_ROLES = frozenset({"handler", "patrol"})


def scoped(user: User | None) -> bool:
    """Whether the user sees only part of the town's cases (handlers, patrol staff)."""
    return user is not None and user.role in SCOPED_ROLES


def visible_to(user: User) -> ColumnElement[bool]:
    """The cases a user may see, as a WHERE condition."""
    if user.role == "handler":
        if not user.department_code:
            return false()
        return and_(Case.owner_kind == "department",
                    or_(Case.owner_code == user.department_code,
                        Case.helpers.contains([user.department_code])))
    if user.role == "patrol":
        if not user.station_code:
            return false()
        return or_(Case.station_code == user.station_code, Case.owner_code == user.station_code)
    return literal(True)


def may_act(user: User, case: Case, action: str | None = None) -> bool:
    """Whether the user may see the case (action None) or take `action` on it."""
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
    return True


def may_see(user: User, case: Case) -> bool:
    """Whether the user may see the case."""
    return may_act(user, case)


def check_visible(user: User, case: Case) -> None:
    """NotFound unless the user may see the case (out of scope looks like no such case)."""
    if not may_see(user, case):
        raise NotFound("case", case.id)
