"""The tiers' work: a station chief's queue and team, a workstation's self-handled filing and its cases, outside
evaluators' reviews of closed cases, and the cases nobody accepted (首问责任制). Handed a session; no Flask."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.accounts.models import Department, Role, User
from app.cases import intake, machine, scope, workflow
from app.cases.models import Attachment, Case, CaseEvent, Category
from app.db import found
from app.errors import Conflict, Forbidden, InputError
from app.territory.models import Station
from app.tiers.models import CaseReview

QUEUE_STATES = ("dispatched", "in_progress", "handled")
REVIEW_LIMIT = 2000


def _summary(session: Session, case: Case, ctx: workflow.Context, now: datetime, names: dict) -> dict:
    clock = workflow.status(case, now, ctx.calendar, ctx.settings)
    category = session.get(Category, case.category_code)
    return {
        "id": case.id, "version": case.version, "state": case.state, "state_name": machine.STATES[case.state][0],
        "category": case.category_code, "category_name": category.name if category else case.category_code,
        "address": case.address, "description": case.description, "assignee": case.assignee,
        "assignee_name": names.get(case.assignee, case.assignee) if case.assignee else None,
        "deadline": clock["deadline"], "light": clock["light"], "share": clock["share"],
        "self_handled": case.self_handled, "check_pending": case.check_pending,
        "owner": case.owner_code, "first_reported_at": case.first_reported_at.isoformat(),
    }


def team(session: Session, station_code: str) -> list[dict]:
    """The members of a station's team: active patrol officers and department officers seated at the station."""
    rows = session.execute(select(User, Role.name, Department.name).join(Role, Role.code == User.role)
                           .outerjoin(Department, Department.code == User.department_code)
                           .where(User.station_code == station_code, User.active.is_(True),
                                  User.role.in_(machine.MEMBERS)).order_by(User.role, User.username)).all()
    return [{"username": u.username, "name": u.display_name, "role": u.role, "role_name": role,
             "department": u.department_code, "department_name": department} for u, role, department in rows]


def station_queue(session: Session, user: User, now: datetime | None = None) -> dict:
    """A station chief's queue: the open cases dispatched to the station, who has each, its deadline and light,
    the actions the chief may take, and the team to assign to."""
    if user.role != machine.CHIEF or not user.station_code:
        raise Forbidden("the station queue is the station chief's")
    now = now or datetime.now(UTC)
    ctx = workflow.Context.load(session)
    cases = session.scalars(select(Case).where(Case.owner_kind == "station", Case.owner_code == user.station_code,
                                               Case.state.in_(QUEUE_STATES))
                            .order_by(Case.deadline_at.asc().nulls_last(), Case.id)).all()
    members = team(session, user.station_code)
    names = {m["username"]: m["name"] for m in members}
    station = session.scalar(select(Station.name).where(Station.code == user.station_code))
    items = []
    for case in cases:
        item = _summary(session, case, ctx, now, names)
        item["actions"] = machine.allowed(workflow.view(case), user.role)
        items.append(item)
    return {"station": user.station_code, "station_name": station, "team": members, "cases": items,
            "unassigned": sum(1 for i in items if i["assignee"] is None)}


def file_self_handled(session: Session, settings: intake.IntakeSettings, user: User, inp: intake.ReportInput,
                      before: list[intake.Upload], after: list[intake.Upload], note: str,
                      now: datetime | None = None) -> Case:
    """A workstation's report of a problem it fixed itself (微循环): filed and closed at the workstation in one
    transaction, with the photos of the result, never entering the center's dispatch queue."""
    if user.role != machine.WORKSTATION:
        raise Forbidden("only workstation staff file self-handled cases")
    if not after:
        raise InputError("after", "a self-handled case needs at least one photo of the result (after)")
    if not (note or "").strip():
        raise InputError("note", "say what the workstation did (note)", error="missing_field")
    done = intake.submit_report(session, settings, user, inp, [*before, *after], None, now)
    case = session.get(Case, done.report.case_id)
    own = scope.workstation_territory(user)
    if case.workstation_code != own:
        raise InputError("lon", f"the place lies in workstation territory {case.workstation_code}, not in this "
                         f"workstation's ({own}): report it to the center instead", error="outside_workstation")
    if case.state != "reported" or case.report_count > 1:
        raise Conflict("merged", f"the report joined open case {case.id} ({machine.STATES[case.state][0]}): "
                       "it is being handled already, report it to that case instead")
    shots = session.scalars(select(Attachment.id).where(Attachment.report_id == done.report.id)
                            .order_by(Attachment.id)).all()[len(before):]
    photos = [f"/api/v1/attachments/{i}" for i in shots]
    workflow.act(session, user, case.id, "self_handle", case.version, {"note": note, "photos": photos}, now=now)
    audit.record(session, user.username, "case.self_handle", "case", case.id, after={"photos": len(photos)})
    return case


def workstation_cases(session: Session, user: User, self_handled: bool | None = None, limit: int = 50) -> dict:
    """A workstation's recent cases (its territory's), newest first; `self_handled` filters them."""
    if user.role != machine.WORKSTATION or not user.station_code:
        raise Forbidden("the workstation page is the workstation staff's")
    now = datetime.now(UTC)
    ctx = workflow.Context.load(session)
    query = select(Case).where(scope.visible_to(user))
    if self_handled is not None:
        query = query.where(Case.self_handled.is_(self_handled))
    cases = session.scalars(query.order_by(Case.first_reported_at.desc(), Case.id.desc()).limit(limit)).all()
    station = session.scalars(select(Station).where(Station.code == user.station_code)).one()
    items = []
    for case in cases:
        item = _summary(session, case, ctx, now, {})
        item["actions"] = machine.allowed(workflow.view(case), user.role)
        item["photos"] = after_photos(session, case.id)
        items.append(item)
    return {"workstation": station.code, "workstation_name": station.name, "station": station.parent_code,
            "cases": items}


def after_photos(session: Session, case_id: int) -> list[str]:
    """The photos of the result a workstation gave when it self-handled the case."""
    data = session.scalar(select(CaseEvent.data).where(CaseEvent.case_id == case_id,
                                                       CaseEvent.action == "self_handle").limit(1))
    return list((data or {}).get("photos") or [])


def review(session: Session, user: User, case_id: int, rating: object, text: object,
           now: datetime | None = None) -> dict:
    """An evaluator rates (1-5) and reviews a closed case; a second review by the same evaluator replaces the
    first (audited before and after)."""
    if user.role != machine.EVALUATOR:
        raise Forbidden("only outside evaluators review cases")
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise InputError("rating", "rating must be a whole number from 1 to 5")
    if text is not None and (not isinstance(text, str) or len(text) > REVIEW_LIMIT):
        raise InputError("review", f"review must be text of at most {REVIEW_LIMIT} characters")
    case = found(session, Case, case_id, "case")
    if case.state not in scope.REVIEWABLE:
        raise Conflict("case_open", f"case {case_id} is not closed yet: only closed cases are rated",
                       field="case")
    existing = session.scalar(select(CaseReview).where(CaseReview.case_id == case_id,
                                                       CaseReview.username == user.username).with_for_update())
    before = {"rating": existing.rating, "review": existing.review} if existing else None
    if existing is None:
        existing = CaseReview(case_id=case_id, username=user.username)
        session.add(existing)
    existing.rating, existing.review, existing.at = rating, text, now or datetime.now(UTC)
    session.flush()
    audit.record(session, user.username, "case.review", "case", case_id, before=before,
                 after={"rating": rating, "review": text})
    return review_summary(session, case_id)


def closed_for_review(session: Session, user: User, limit: int = 50) -> list[dict]:
    """The most recently closed cases, with the evaluator's own rating and review of each (if any)."""
    if user.role != machine.EVALUATOR:
        raise Forbidden("the review page is the outside evaluators'")
    cases = session.scalars(select(Case).where(Case.state.in_(scope.REVIEWABLE))
                            .order_by(Case.closed_at.desc().nulls_last(), Case.id.desc()).limit(limit)).all()
    mine = {r.case_id: r for r in session.scalars(select(CaseReview).where(
        CaseReview.username == user.username, CaseReview.case_id.in_([c.id for c in cases])))}
    names = dict(session.execute(select(Category.code, Category.name)).all())
    stations = dict(session.execute(select(Station.code, Station.name)).all())
    return [{"id": c.id, "version": c.version, "category_name": names.get(c.category_code, c.category_code),
             "description": c.description, "address": c.address, "station_name": stations.get(c.station_code),
             "closed_at": c.closed_at.isoformat() if c.closed_at else None, "self_handled": c.self_handled,
             "rating": mine[c.id].rating if c.id in mine else None,
             "review": mine[c.id].review if c.id in mine else None} for c in cases]


def reviews_for(session: Session, user: User, case_id: int) -> dict:
    """The reviews of a case the user may see (404 otherwise)."""
    case = found(session, Case, case_id, "case")
    scope.check_visible(user, case)
    return review_summary(session, case_id)


def review_summary(session: Session, case_id: int) -> dict:
    """The evaluators' reviews of a case and their mean rating."""
    rows = session.scalars(select(CaseReview).where(CaseReview.case_id == case_id).order_by(CaseReview.id)).all()
    mean = round(sum(r.rating for r in rows) / len(rows), 3) if rows else None
    return {"case_id": case_id, "mean": mean, "count": len(rows),
            "reviews": [{"by": r.username, "rating": r.rating, "review": r.review, "at": r.at.isoformat()}
                        for r in rows]}


def unaccepted(session: Session, now: datetime, hours: float = 2.0, mine: ColumnElement[bool] | None = None,
               limit: int = 50) -> list[dict]:
    """Cases dispatched more than `hours` ago that no unit has accepted yet (首问责任制): the first unit that
    received each stays answerable."""
    cut = now - timedelta(hours=hours)
    query = select(Case.id, Case.first_unit, Case.first_unit_at, Case.owner_code, Case.address,
                   Case.category_code).where(Case.state == "dispatched", Case.accepted_at.is_(None),
                                             Case.dispatched_at <= cut, Case.first_unit.is_not(None))
    if mine is not None:
        query = query.where(mine)
    rows = session.execute(query.order_by(Case.first_unit_at, Case.id).limit(limit)).all()
    names = dict(session.execute(select(Station.code, Station.name)).all())
    names.update(dict(session.execute(select(Department.code, Department.name)).all()))
    return [{"id": r.id, "first_unit": r.first_unit, "first_unit_name": names.get(r.first_unit, r.first_unit),
             "since": r.first_unit_at.isoformat() if r.first_unit_at else None, "owner": r.owner_code,
             "address": r.address, "category": r.category_code} for r in rows]


