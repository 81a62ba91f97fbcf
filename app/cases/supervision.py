"""Supervision (督查督办) and fallback (兜底): near-due and overdue lists, orders with their own
history, and the scheduled jobs that chase late cases and hand ownerless ones to the place's station.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.cases import reading, scope, workflow
from app.cases.models import Case, CaseEvent, Category, SupervisionEvent, SupervisionOrder
from app.errors import Conflict, Forbidden, InputError, NotFound

METHODS = ("phone", "written", "on_site", "meeting", "interview")
SYSTEM = "scheduler"
SUPERVISORS = ("supervisor", "leader", "shift_leader")  # open, remind and close orders
ANSWERERS = ("handler", "patrol", "dispatcher", *SUPERVISORS)  # report back on an order


# --------------------------------------------------------------------------------------------
# Lists and orders
# --------------------------------------------------------------------------------------------


def lists(session: Session, user: User, now: datetime | None = None, limit: int = 200) -> dict:
    """Near-due (yellow) and overdue (red) open cases the user may see, most urgent first."""
    now = now or datetime.now(UTC)
    out = {}
    for name, light in (("near_due", "yellow"), ("overdue", "red")):
        q = reading.CaseQuery(light=light, open_only=True, limit=limit)
        out[name] = reading.find(session, q, user, now).as_geojson()
    return out


def open_order(
    session: Session, user: User | None, case_id: int, method: str, reason: str,
    due_at: datetime | None = None, now: datetime | None = None, automatic: bool = False,
) -> SupervisionOrder:
    """A supervision order on a case; the case history notes it too."""
    now = now or datetime.now(UTC)
    if method not in METHODS:
        raise InputError("method", f"method must be one of {', '.join(METHODS)}")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 2000:
        raise InputError("reason", "reason is required (at most 2000 characters)")
    case = session.scalar(select(Case).where(Case.id == case_id).with_for_update())
    if case is None:
        raise NotFound("case", case_id)
    if case.state in workflow.machine.FINAL:
        raise Conflict("case_closed", f"case {case_id} is {case.state}: nothing to supervise")
    order = SupervisionOrder(case_id=case_id, method=method, reason=reason.strip(), state="open",
                             automatic=automatic, created_by=user.username if user else SYSTEM, created_at=now,
                             due_at=due_at)
    session.add(order)
    session.flush()
    _order_event(session, order, order.created_by, "opened", reason, now)
    case.version += 1
    session.add(CaseEvent(case_id=case.id, case_version=case.version, at=now, actor=order.created_by,
                          role=user.role if user else "system", action="supervised", from_state=case.state,
                          to_state=case.state, note=reason, data={"order_id": order.id, "method": method,
                                                                   "automatic": automatic}))
    session.flush()
    return order


def order_action(session: Session, user: User, order_id: int, action: str, note: str | None,
                 now: datetime | None = None) -> SupervisionOrder:
    """Answer (the owner reports back), remind, or close (the supervisor) an order."""
    now = now or datetime.now(UTC)
    if action in ("remind", "close") and user.role not in SUPERVISORS:
        raise Forbidden(f"role {user.role} may not {action} an order")
    if action == "answer" and user.role not in ANSWERERS:
        raise Forbidden(f"role {user.role} may not answer an order")
    order = session.scalar(select(SupervisionOrder).where(SupervisionOrder.id == order_id).with_for_update())
    if order is None:
        raise NotFound("supervision order", order_id)
    case = session.get(Case, order.case_id)
    if not scope.may_see(user, case):
        raise NotFound("supervision order", order_id)
    if action == "answer" and scope.scoped(user) and not scope.may_act(user, case, "feedback"):
        raise Forbidden(f"only the case's owner answers this order; case {case.id} is owned by "
                        f"{case.owner_kind} {case.owner_code}")
    allowed = {"answer": ("open",), "remind": ("open", "answered"), "close": ("open", "answered")}
    if action not in allowed:
        raise InputError("action", "action must be answer, remind or close")
    if order.state not in allowed[action]:
        raise Conflict("illegal", f"cannot {action} an order that is {order.state}")
    if action == "answer" and not (note or "").strip():
        raise InputError("note", "an answer needs a note")
    if action == "answer":
        order.state = "answered"
    elif action == "close":
        order.state, order.closed_at = "closed", now
    _order_event(session, order, user.username, action, note, now)
    session.flush()
    return order


def listing(session: Session, user: User, state: str | None = None, case_id: int | None = None) -> list[dict]:
    """Supervision orders on the cases the user may see, newest first (at most 500), by state and case."""
    query = (select(SupervisionOrder).join(Case, Case.id == SupervisionOrder.case_id)
             .where(scope.visible_to(user)).order_by(SupervisionOrder.id.desc()).limit(500))
    if state:
        query = query.where(SupervisionOrder.state == state)
    if case_id is not None:
        query = query.where(SupervisionOrder.case_id == case_id)
    return [order_summary(o) for o in session.scalars(query)]


def order_detail(session: Session, user: User, order_id: int) -> dict:
    """An order with its history, if the user may see its case."""
    order = session.get(SupervisionOrder, order_id)
    if order is None or not scope.may_see(user, session.get(Case, order.case_id)):
        raise NotFound("supervision order", order_id)
    events = session.scalars(select(SupervisionEvent).where(SupervisionEvent.order_id == order_id)
                             .order_by(SupervisionEvent.id)).all()
    return {**order_summary(order), "history": [
        {"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "note": e.note} for e in events]}


def order_summary(order: SupervisionOrder) -> dict:
    """An order without its history."""
    return {"id": order.id, "case_id": order.case_id, "method": order.method, "reason": order.reason,
            "state": order.state, "automatic": order.automatic, "created_by": order.created_by,
            "created_at": order.created_at.isoformat(), "due_at": order.due_at.isoformat() if order.due_at else None,
            "closed_at": order.closed_at.isoformat() if order.closed_at else None}


def _order_event(session: Session, order: SupervisionOrder, actor: str, action: str, note: str | None,
                 now: datetime) -> None:
    session.add(SupervisionEvent(order_id=order.id, at=now, actor=actor, action=action, note=note))


# --------------------------------------------------------------------------------------------
# Scheduled jobs
# --------------------------------------------------------------------------------------------


def supervise_overdue(session: Session, now: datetime) -> dict:
    """A written supervision order for every running case past its deadline that has no open order."""
    has_order = select(SupervisionOrder.id).where(SupervisionOrder.case_id == Case.id,
                                                  SupervisionOrder.state != "closed").exists()
    late = session.scalars(
        select(Case.id).where(Case.state.in_(("dispatched", "in_progress")), Case.deadline_at < now, ~has_order)
        .order_by(Case.deadline_at)
    ).all()
    for case_id in late:
        case = session.get(Case, case_id)
        open_order(session, None, case_id, "written",
                   f"超期督办：处置时限 {case.deadline_at.isoformat()} 已过 / overdue since the deadline",
                   now=now, automatic=True)
    return {"orders": len(late)}


def fallback(session: Session, now: datetime, ctx: workflow.Context | None = None) -> dict:
    """兜底: ownerless cases past the dispatch limit, and owners idle past `fallback_share` of the limit,
    go to the joint-duty station of the place, flagged for accountability afterwards."""
    ctx = ctx or workflow.Context.load(session)
    share = float(ctx.settings["fallback_share"])
    ownerless = session.scalars(
        select(Case).where(Case.state == "filed", Case.deadline_at < now, Case.suspension_pending.is_(False))
        .with_for_update(skip_locked=True)
    ).all()
    idle = session.scalars(
        select(Case).where(Case.state == "dispatched", Case.extension_pending.is_(False),
                           Case.suspension_pending.is_(False),
                           ~and_(Case.owner_kind == "station", Case.owner_code == Case.station_code))
        .with_for_update(skip_locked=True)
    ).all()
    moved = 0
    for case in ownerless:
        _hand_over(session, case, now, ctx, "无责任主体超过派遣时限，属地兜底 / no owner past the dispatch limit")
        moved += 1
    for case in idle:
        used = workflow.used_hours(case, now, ctx.calendar) / case.limit_hours if case.limit_hours else 0
        if used >= share:
            _hand_over(session, case, now, ctx,
                       f"{case.owner_kind} {case.owner_code} 未在时限 {share:.0%} 内签收，属地兜底 / "
                       f"the owner did not accept within {share:.0%} of the limit")
            moved += 1
    return {"handed_over": moved}


def _hand_over(session: Session, case: Case, now: datetime, ctx: workflow.Context, reason: str) -> None:
    before = {"kind": case.owner_kind, "code": case.owner_code, "state": case.state}
    from_state = case.state
    if case.state == "filed":
        case.state = "dispatched"
        case.dispatched_at = now
        if case.first_dispatched_at is None:
            case.first_dispatched_at, case.dispatch_on_time = now, False
        workflow.start_clock(case, session.get(Category, case.category_code), ctx, now)
    case.owner_kind, case.owner_code, case.helpers = "station", case.station_code, []
    case.duty_fallback, case.duty_fallback_reason = True, reason
    case.version += 1
    case.updated_at = now
    session.add(CaseEvent(case_id=case.id, case_version=case.version, at=now, actor=SYSTEM, role="system",
                          action="fallback", from_state=from_state, to_state=case.state, note=reason,
                          data={"before": before, "after": {"kind": "station", "code": case.station_code}}))
    session.flush()
