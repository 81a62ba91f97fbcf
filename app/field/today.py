"""The field app's day: the signed-in officer's route of the day (the next stop first, each stop with its
address), and their tasks: the cases they must accept, handle or check, with the details the phone keeps for
working offline."""

from __future__ import annotations

from datetime import date

from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.cases import machine, reading, workflow
from app.cases.models import Case
from app.cases.scope import may_act, visible_to
from app.field import evidence, patrols, positions
from app.field.models import PatrolRoute
from app.territory import caches

TASK_ACTIONS = ("accept", "feedback", "check", "rework")
TASK_STATES = ("dispatched", "in_progress", "handled")
MAX_TASKS = 40
STOP_ADDRESS_M = 300.0


def my_route(session: Session, user: User, day: date) -> PatrolRoute | None:
    """The route assigned to the officer that day, else their station's."""
    q = select(PatrolRoute).where(PatrolRoute.day == day)
    route = session.scalar(q.where(PatrolRoute.assignee == user.username).order_by(PatrolRoute.id))
    if route is None and user.station_code:
        route = session.scalar(q.where(PatrolRoute.station_code == user.station_code).order_by(PatrolRoute.id))
    return route


def _stop_address(session: Session, stop: dict) -> str | None:
    known = (stop.get("detail") or {}).get("address")
    if known:
        return known
    found = caches.geocoder(session).reverse(stop["lon"], stop["lat"], max_distance_m=STOP_ADDRESS_M)
    return found.address if found is not None else None


def route_of_day(session: Session, user: User, day: date) -> dict | None:
    """The route with its stops in working order: unvisited stops first (by their sequence), then visited ones;
    each stop has its address and, once visited, the check against the officer's track."""
    route = my_route(session, user, day)
    if route is None:
        return None
    stops = [dict(s) for s in route.stops or []]
    checks = positions.visit_checks(session, stops, route.day)
    for s in stops:
        s["address"] = _stop_address(session, s)
        s.update(checks.get(s["seq"], {}))
    stops.sort(key=lambda s: (bool(s.get("visited_at")), s["seq"]))
    body = patrols.summary(route)
    body["station_name"] = patrols.station_name(session, route.station_code)
    body["stops"] = stops
    body["line"] = mapping(to_shape(route.geom)) if route.geom is not None else None
    body["next_seq"] = next((s["seq"] for s in stops if not s.get("visited_at")), None)
    return body


def tasks(session: Session, user: User) -> list[dict]:
    """The cases the user may accept, give feedback on, or check now, with their detail and photos."""
    rows = session.scalars(
        select(Case).where(visible_to(user), Case.state.in_(TASK_STATES),
                           or_(Case.owner_kind.is_not(None), Case.state == "handled"))
        .order_by(Case.deadline_at.asc().nulls_last(), Case.id).limit(MAX_TASKS * 3)).all()
    out = []
    for case in rows:
        actions = [a for a in machine.allowed(workflow.view(case), user.role)
                   if a in TASK_ACTIONS and may_act(user, case, a)
                   and not (a in ("check", "rework") and case.handled_by == user.username)]
        if not actions:
            continue
        detail = reading.case_view(session, user, case.id)
        detail["task_actions"] = actions
        detail["evidence"] = evidence.evidence(session, user, case.id)
        out.append(detail)
        if len(out) >= MAX_TASKS:
            break
    return out
