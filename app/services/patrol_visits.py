"""Patrol staff mark the stops of their route as visited (who, when), audited."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import User
from app.models_analysis import PatrolRoute
from app.services import audit
from app.services.errors import InputError, NotFound


def mark_visited(session: Session, user: User, route_id: int, seq: int, now: datetime | None = None) -> dict:
    """Record a visit of stop `seq`; only the assignee or patrol staff of the station may."""
    route = session.scalar(select(PatrolRoute).where(PatrolRoute.id == route_id).with_for_update())
    if route is None:
        raise NotFound("patrol route", route_id)
    if user.role == "patrol" and route.assignee != user.username and route.station_code != user.station_code:
        raise InputError("route", "this route belongs to another station", 403, error="forbidden")
    stops = [dict(s) for s in route.stops or []]
    stop = next((s for s in stops if s.get("seq") == seq), None)
    if stop is None:
        raise NotFound("stop", seq)
    stop["visited_at"] = (now or datetime.now(UTC)).isoformat()
    stop["visited_by"] = user.username
    route.stops = stops  # a new list, so the JSONB column is written
    audit.record(session, user.username, "patrol_route.visit", "patrol_route", route.id,
                 after={"seq": seq, "at": stop["visited_at"]})
    session.flush()
    return stop
