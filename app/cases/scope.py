"""Which cases a user may see and act on: department handlers their department's (and joint cases they
help on), patrol staff their station's; every other role the whole town.

`visible_to(user)` is the rule as SQL for lists and counts; `may_see` / `may_act` the same rule on
one loaded case; `check_visible` refuses with Forbidden.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, literal, or_

from app.accounts.models import User
from app.cases.models import Case
from app.errors import Forbidden

# Steps only the owner takes: patrol staff take them only on cases owned by their station.
OWNER_STEPS = frozenset({"accept", "return", "feedback", "request_extension", "request_suspension"})


def visible_to(user: User) -> ColumnElement[bool]:
    """The cases a user may see, as a WHERE condition."""
    if user.role == "handler":
        return and_(Case.owner_kind == "department",
                    or_(Case.owner_code == user.department_code,
                        Case.helpers.contains([user.department_code])))
    if user.role == "patrol" and user.station_code:
        return or_(Case.station_code == user.station_code, Case.owner_code == user.station_code)
    return literal(True)


def may_act(user: User, case: Case, action: str | None = None) -> bool:
    """Whether the user may see the case (action None) or take `action` on it."""
    if user.role == "handler":
        if case.owner_kind != "department":
            return False
        if case.owner_code == user.department_code:
            return True
        return action is None and user.department_code in (case.helpers or [])  # helpers see a joint case
    if user.role == "patrol" and user.station_code:
        if action in OWNER_STEPS:
            return case.owner_kind == "station" and case.owner_code == user.station_code
        return case.station_code == user.station_code or case.owner_code == user.station_code
    return True


def may_see(user: User, case: Case) -> bool:
    """Whether the user may see the case."""
    return may_act(user, case)


def check_visible(user: User, case: Case) -> None:
    """Forbidden unless the user may see the case."""
    if not may_see(user, case):
        raise Forbidden(f"case {case.id} is not in your scope ({user.role})")
