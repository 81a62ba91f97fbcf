"""Finding cases: filters from query parameters, scoped to what the caller may see, as paged GeoJSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from app.models import Case, Report, User
from app.services import params
from app.services.errors import InputError
from app.workflow import machine
from app.workflow.worktime import BEIJING

LIGHTS = ("green", "yellow", "red")
MAX_LIMIT = 5000


@dataclass
class CaseQuery:
    """The filters of GET /api/v1/cases."""

    states: list[str] = field(default_factory=list)
    station: str | None = None
    department: str | None = None
    category: str | None = None
    light: str | None = None
    channel: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None
    open_only: bool = False
    updated_after: datetime | None = None
    limit: int = 500
    offset: int = 0


@dataclass
class Page:
    """One page of cases."""

    rows: list
    matched: int
    offset: int
    next_offset: int | None

    def as_geojson(self) -> dict:
        """A FeatureCollection with numberMatched / numberReturned."""
        return {
            "type": "FeatureCollection",
            "numberMatched": self.matched,
            "numberReturned": len(self.rows),
            "features": [_feature(r) for r in self.rows],
        }


def parse_filters(args) -> CaseQuery:
    """Check the query parameters; InputError names the bad one."""
    q = CaseQuery()
    if args.get("state"):
        q.states = [s.strip() for s in args["state"].split(",") if s.strip()]
        unknown = [s for s in q.states if s not in machine.STATES]
        if unknown:
            raise InputError("state", f"unknown state {unknown[0]!r}; states: {', '.join(machine.STATES)}")
    q.station, q.department, q.category, q.channel = (args.get(k) or None for k in
                                                      ("station", "department", "category", "channel"))
    q.light = args.get("light") or None
    if q.light is not None and q.light not in LIGHTS:
        raise InputError("light", "light must be green, yellow or red")
    q.since, q.until = _time(args, "from"), _time(args, "to")
    q.bbox = params.bbox(args.get("bbox"))
    q.open_only = args.get("open") in ("1", "true", "yes")
    q.updated_after = _time(args, "updated_after")
    q.limit = params.whole(args, "limit", 500, 1, MAX_LIMIT)
    q.offset = params.whole(args, "offset", 0, 0, 10**9)
    return q


def _time(args, name: str) -> datetime | None:
    raw = args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(name, f"{name} must be an ISO 8601 date or time, got {raw!r}", 400) from None
    return value if value.tzinfo else value.replace(tzinfo=BEIJING)  # no zone: Beijing time


def light_expression(now: datetime):
    """The traffic light in SQL, the same rule as app.workflow.worktime.light."""
    frozen = case((Case.frozen_share < 0.8, "green"), (Case.frozen_share <= 1.0, "yellow"), else_="red")
    return case(
        (Case.state.in_(machine.FINAL), None),
        (Case.frozen_share.is_not(None), frozen),
        (Case.deadline_at < now, "red"),
        (Case.warn_at <= now, "yellow"),
        else_="green",
    )


def scope(user: User):
    """What a user may see: handlers their department's cases, patrol staff their station's."""
    if user.role == "handler":
        return and_(Case.owner_kind == "department",
                    or_(Case.owner_code == user.department_code,
                        Case.helpers.contains([user.department_code])))
    if user.role == "patrol" and user.station_code:
        return or_(Case.station_code == user.station_code, Case.owner_code == user.station_code)
    return literal(True)


def find(session: Session, q: CaseQuery, user: User, now: datetime | None = None) -> Page:
    """One page of the cases matching the query."""
    now = now or datetime.now(UTC)
    light = light_expression(now).label("light")
    where = _where(q, user, now)
    matched = session.scalar(select(func.count()).select_from(Case).where(*where))
    rows = session.execute(
        select(Case, func.ST_X(Case.geom), func.ST_Y(Case.geom), light)
        .where(*where).order_by(Case.first_reported_at.desc(), Case.id.desc()).offset(q.offset).limit(q.limit)
    ).all()
    next_offset = q.offset + len(rows) if q.offset + len(rows) < matched else None
    return Page(rows, matched, q.offset, next_offset)


def map_view(session: Session, q: CaseQuery, user: User, zoom: int, now: datetime | None = None,
             max_points: int = 3000) -> dict:
    """What the map draws for its viewport: the cases themselves, or counts on a grid when there are many.

    Clusters are counted in PostGIS (ST_SnapToGrid on a cell a few dozen pixels wide at this zoom),
    so the browser never receives the whole table.
    """
    now = now or datetime.now(UTC)
    where = _where(q, user, now)
    light = light_expression(now).label("light")
    # At most max_points + 1 ids, unordered: cheap, and tells whether to draw points or count clusters.
    ids = session.scalars(select(Case.id).where(*where).limit(max_points + 1)).all()
    if len(ids) <= max_points:
        rows = session.execute(select(*MAP_COLUMNS, light).where(Case.id.in_(ids))).mappings().all()
        return {"type": "FeatureCollection", "clustered": False, "numberMatched": len(rows),
                "numberReturned": len(rows), "features": [_map_feature(r) for r in rows]}
    size = 360.0 / (256 * 2 ** max(min(zoom, 20), 0)) * 48  # degrees per cluster cell: ~48 px
    cell = func.ST_SnapToGrid(Case.geom, size)
    rows = session.execute(
        select(func.count(), func.avg(func.ST_X(Case.geom)), func.avg(func.ST_Y(Case.geom)),
               func.sum(case((light_expression(now) == "red", 1), else_=0)))
        .where(*where).group_by(cell)
    ).all()
    return {
        "type": "FeatureCollection", "clustered": True, "numberMatched": sum(r[0] for r in rows),
        "numberReturned": len(rows),
        "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(x, 6), round(y, 6)]},
                      "properties": {"count": n, "red": int(red or 0)}} for n, x, y, red in rows],
    }


MAP_COLUMNS = (
    Case.id, Case.state, Case.category_code, Case.urgency, Case.station_code, Case.grid_code, Case.owner_kind,
    Case.owner_code, Case.deadline_at, Case.report_count, Case.escalation_level, Case.version,
    Case.first_reported_at, func.ST_X(Case.geom).label("x"), func.ST_Y(Case.geom).label("y"),
)


def _map_feature(r) -> dict:
    """A case as the map draws it: enough for the marker and its title; the panel loads the rest."""
    return {
        "type": "Feature", "id": r["id"],
        "geometry": {"type": "Point", "coordinates": [round(r["x"], 7), round(r["y"], 7)]},
        "properties": {
            "id": r["id"], "state": r["state"], "category": r["category_code"], "urgency": r["urgency"],
            "station": r["station_code"], "grid_code": r["grid_code"],
            "owner": f"{r['owner_kind']}:{r['owner_code']}" if r["owner_code"] else None, "light": r["light"],
            "deadline": r["deadline_at"].isoformat() if r["deadline_at"] else None,
            "report_count": r["report_count"], "escalation_level": r["escalation_level"], "version": r["version"],
            "first_reported_at": r["first_reported_at"].isoformat(),
        },
    }


def _where(q: CaseQuery, user: User, now: datetime) -> list:
    where = [scope(user)]
    if q.states:
        where.append(Case.state.in_(q.states))
    if q.open_only:
        where.append(Case.state.not_in(machine.FINAL))
    if q.station:
        where.append(Case.station_code == q.station)
    if q.department:
        where.append(and_(Case.owner_kind == "department", Case.owner_code == q.department))
    if q.category:
        where.append(Case.category_code.startswith(q.category))
    if q.channel:
        where.append(exists().where(Report.case_id == Case.id, Report.channel == q.channel))
    if q.since:
        where.append(Case.first_reported_at >= q.since)
    if q.until:
        where.append(Case.first_reported_at < q.until)
    if q.bbox:
        where.append(Case.geom.intersects(func.ST_MakeEnvelope(*q.bbox, 4326)))
    if q.light:
        where.append(light_expression(now) == q.light)
    if q.updated_after:
        where.append(Case.updated_at > q.updated_after)
    return where


def _feature(row) -> dict:
    c, lon, lat, light = row
    return {
        "type": "Feature",
        "id": c.id,
        "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
        "properties": {
            "id": c.id, "state": c.state, "state_name": machine.STATES[c.state][0], "category": c.category_code,
            "urgency": c.urgency, "description": c.description[:200], "address": c.address,
            "station": c.station_code, "grid_code": c.grid_code,
            "owner": f"{c.owner_kind}:{c.owner_code}" if c.owner_code else None,
            "light": light, "deadline": c.deadline_at.isoformat() if c.deadline_at else None,
            "report_count": c.report_count, "escalation_level": c.escalation_level, "version": c.version,
            "first_reported_at": c.first_reported_at.isoformat(),
        },
    }
