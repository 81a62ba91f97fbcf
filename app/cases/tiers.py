"""The effects of the tiers' steps on a case: second-level dispatch by a station chief (二级派单), the
workstations' micro-circulation (微循环: self-handled and closed at the workstation, or reported up to
the station or the center), the center's reopening and spot checks of self-handled cases, and the
first-asked unit (首问责任制) that stays answerable until a named unit accepts the case.

`workflow.act` calls these through its table of effects; each takes (session, case, fields, user, now,
ctx) and returns the data the case event keeps.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.cases import machine
from app.cases.models import Case, Category
from app.errors import Forbidden, InputError
from app.territory.models import Station

if TYPE_CHECKING:
    from app.cases.workflow import Context

SAMPLE_SETTING = "self_handled_check_share"  # share of self-handled cases sampled for the center's check
DEFAULT_SAMPLE = 0.2


def member_of(session: Session, station_code: str, username: object) -> User:
    """The active team member (patrol officer or department officer seated at the station) named `username`;
    InputError (422) naming why otherwise."""
    if not isinstance(username, str) or not username.strip():
        raise InputError("assignee", "assignee must be the user name of a member of the station's team", 400)
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise InputError("assignee", f"no active user {username!r}")
    if user.role not in machine.MEMBERS:
        raise InputError("assignee", f"{username} is a {user.role}, not a member of a station team "
                         "(patrol officer or department officer)")
    if user.station_code != station_code:
        where = f"seated at {user.station_code}" if user.station_code else "not seated at any station"
        raise InputError("assignee", f"{username} is not in the team of station {station_code} ({where})",
                         error="other_station")
    return user


def record_first_unit(case: Case, unit: str | None, now: datetime) -> None:
    """The first unit that receives a case answers for it (首问责任制) until a unit accepts it."""
    if case.first_unit is None and unit:
        case.first_unit, case.first_unit_at = unit, now


def _assign(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    member = member_of(session, case.owner_code or "", fields["assignee"])
    case.assignee = member.username
    return {"assignee": member.username, "assignee_name": member.display_name, "station": case.owner_code}


def _take_back(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    before, case.assignee = case.assignee, None
    return {"from": before}


def _hand_back(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    before, case.assignee = case.assignee, None
    return {"from": before, "to": "station_chief", "station": case.owner_code}


def _photos(fields: dict) -> list[str]:
    photos = fields.get("photos")
    if not isinstance(photos, list) or not photos or not all(
            isinstance(p, str) and p.startswith(("http://", "https://", "/api/")) for p in photos):
        raise InputError("photos", "self-handling needs at least one photo of the result (URLs)")
    return photos


def sampled(case_id: int, share: float) -> bool:
    """Whether a self-handled case is in the center's check sample: a fixed scatter of the case numbers (Knuth's
    multiplicative hash), so that a share of 0.2 checks one case in five and the same case is always in or out."""
    return (case_id * 2654435761) % 2**32 / 2**32 < share


def _self_handle(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    photos = _photos(fields)
    case.owner_kind, case.owner_code, case.assignee = "station", user.station_code, None
    record_first_unit(case, user.station_code, now)
    case.self_handled = True
    case.check_pending = sampled(case.id, float(ctx.settings.get(SAMPLE_SETTING, DEFAULT_SAMPLE)))
    case.verified_at = case.verified_at or now
    case.accepted_at = case.handled_at = case.closed_at = now
    case.handled_by = user.username
    case.handled_on_time = case.closed_on_time = True
    return {"photos": photos, "workstation": user.station_code, "sampled_for_check": case.check_pending}


def _parent_station(session: Session, user: User, case: Case) -> str:
    parent = session.scalar(select(Station.parent_code).where(Station.code == user.station_code))
    return parent or case.station_code


def _report_to_station(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    from app.cases import workflow

    station = _parent_station(session, user, case)
    case.owner_kind, case.owner_code, case.helpers = "station", station, []
    record_first_unit(case, station, now)
    case.verified_at = case.verified_at or now
    case.dispatched_at = now
    if case.first_dispatched_at is None:
        case.first_dispatched_at = now
        case.dispatch_on_time = now <= case.first_reported_at + timedelta(hours=float(ctx.settings[
            "dispatch_limit_hours"]))
    workflow.start_clock(case, session.get(Category, case.category_code), ctx, now)
    return {"owner": {"kind": "station", "code": station}, "from": user.station_code,
            "deadline": case.deadline_at.isoformat() if case.deadline_at else None}


def _report_to_center(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    case.verified_at = case.verified_at or now
    return {"from": user.station_code, "to": "center"}


def _reopen(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    from app.cases import workflow

    before = {"kind": case.owner_kind, "code": case.owner_code}
    case.owner_kind = case.owner_code = case.assignee = None
    case.closed_at = case.closed_on_time = case.handled_on_time = None
    case.filed_at = now
    workflow.start_intake_clock(case, ctx.settings, start=now)
    return {"self_handled_by": before}


def _spot_check(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    if case.handled_by == user.username:
        raise Forbidden("the check of a self-handled case is the center's, not the workstation's")
    return {"result": "passed"}


def refuse_member_return(case: Case, user: User) -> None:
    """A member given the case by the station chief hands it back to the chief (hand_back), not to the center."""
    if case.assignee is not None and user.role in machine.MEMBERS:
        raise Forbidden(f"case {case.id} was assigned by the station chief: hand it back to the chief (hand_back)")


EFFECTS = {
    "assign": _assign, "take_back": _take_back, "hand_back": _hand_back, "self_handle": _self_handle,
    "report_to_station": _report_to_station, "report_to_center": _report_to_center, "reopen": _reopen,
    "spot_check": _spot_check,
}
