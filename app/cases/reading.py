"""Reading cases: one case with its reports and history, and lists (paged GeoJSON, the map's viewport),
filtered by query parameters and scoped to what the caller may see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Row, RowMapping, and_, case, exists, func, select
from sqlalchemy.orm import Session

from app import params
from app.accounts.models import User
from app.cases import machine, workflow
from app.cases.models import Attachment, Case, CaseEvent, Report
from app.cases.scope import check_visible, visible_to
from app.errors import InputError, NotFound
from app.params import Args
from gis.crs import STORAGE_EPSG

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


def parse_filters(args: Args) -> CaseQuery:
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
    q.since, q.until = _instant(args, "from"), _instant(args, "to")
    q.bbox = params.bbox(args.get("bbox"))
    q.open_only = args.get("open") in ("1", "true", "yes")
    q.updated_after = _instant(args, "updated_after")
    q.limit = params.whole(args, "limit", 500, 1, MAX_LIMIT)
    q.offset = params.whole(args, "offset", 0, 0, 10**9)
    return q


def _instant(args: Args, name: str) -> datetime | None:
    return params.instant(name, args[name]) if args.get(name) else None


def light_expression(now: datetime, near: float) -> ColumnElement[str | None]:
    """The traffic light in SQL, the same rule as app.cases.worktime.light (`near`: near_due_share)."""
    frozen = case((Case.frozen_share < near, "green"), (Case.frozen_share <= 1.0, "yellow"), else_="red")
    return case(
        (Case.state.in_(machine.FINAL), None),
        (Case.frozen_share.is_not(None), frozen),
        (Case.deadline_at < now, "red"),
        (Case.warn_at <= now, "yellow"),
        else_="green",
    )


def lights(session: Session, now: datetime | None = None) -> ColumnElement[str | None]:
    """The traffic light at `now` in SQL, with this town's near_due_share."""
    return light_expression(now or datetime.now(UTC), workflow.near_due_share(session))


def find(session: Session, q: CaseQuery, user: User, now: datetime | None = None) -> Page:
    """One page of the cases matching the query."""
    lit = lights(session, now)
    light = lit.label("light")
    where = _where(q, user, lit)
    matched = session.scalar(select(func.count()).select_from(Case).where(*where))
    rows = session.execute(
        select(Case, func.ST_X(Case.geom), func.ST_Y(Case.geom), light)
        .where(*where).order_by(Case.first_reported_at.desc(), Case.id.desc()).offset(q.offset).limit(q.limit)
    ).all()
    next_offset = q.offset + len(rows) if q.offset + len(rows) < matched else None
    return Page(rows, matched, q.offset, next_offset)


def feature_of(session: Session, user: User, case_id: int, now: datetime | None = None) -> dict | None:
    """One case as a list feature, if the user may see it (None otherwise)."""
    light = lights(session, now).label("light")
    row = session.execute(
        select(Case, func.ST_X(Case.geom), func.ST_Y(Case.geom), light).where(Case.id == case_id, visible_to(user))
    ).first()
    return None if row is None else _feature(row)


def map_view(session: Session, q: CaseQuery, user: User, zoom: int, now: datetime | None = None,
             max_points: int = 3000) -> dict:
    """What the map draws for its viewport: the cases themselves, or counts on a grid when there are many.

    Clusters are counted in PostGIS (ST_SnapToGrid on a cell a few dozen pixels wide at this zoom),
    so the browser never receives the whole table.
    """
    lit = lights(session, now)
    where = _where(q, user, lit)
    light = lit.label("light")
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
               func.sum(case((lit == "red", 1), else_=0)))
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


def _map_feature(r: RowMapping) -> dict:
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


def _where(q: CaseQuery, user: User, light: ColumnElement[str | None]) -> list:
    where = [visible_to(user)]
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
        where.append(Case.geom.intersects(func.ST_MakeEnvelope(*q.bbox, STORAGE_EPSG)))
    if q.light:
        where.append(light == q.light)
    if q.updated_after:
        where.append(Case.updated_at > q.updated_after)
    return where


def _feature(row: Row) -> dict:
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


# --------------------------------------------------------------------------------------------
# One case
# --------------------------------------------------------------------------------------------

MILESTONES = ("verified", "filed", "dispatched", "accepted", "handled", "checked", "closed", "archived")


def case_view(session: Session, user: User, case_id: int, check_scope: bool = True,
              now: datetime | None = None) -> dict:
    """A case as the caller sees it: its detail, the actions the caller may take now with the fields each
    one takes, and the rules' suggested owner while it waits for dispatch. `check_scope` False: the
    answer to an action the caller just took (a returned case leaves the handler's scope)."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("case", case_id)
    if check_scope:
        check_visible(user, case)
    body = case_detail(session, case, now)
    body["actions"] = machine.allowed(workflow.view(case), user.role)
    body["action_fields"] = {name: machine.form(name) for name in body["actions"]}
    if case.state == "filed":
        body["suggested_owner"] = workflow.suggest_owner(session, case, workflow.first_channel(session, case))
    return body


def case_detail(session: Session, case: Case, now: datetime | None = None) -> dict:
    """A case with its reports, attachments (metadata only), owner, clock and full history, oldest first."""
    case_id = case.id
    ctx = workflow.Context.load(session)
    clock = workflow.status(case, now or datetime.now(UTC), ctx.calendar, ctx.settings)
    lon, lat = session.execute(select(func.ST_X(Case.geom), func.ST_Y(Case.geom)).where(Case.id == case_id)).one()
    events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.at, CaseEvent.id)
    ).all()
    return {
        "id": case.id, "state": case.state, "version": case.version, "category": case.category_code,
        "urgency": case.urgency, "description": case.description, "address": case.address,
        "lon": round(lon, 7), "lat": round(lat, 7),
        "grid_code": case.grid_code, "workstation": case.workstation_code, "community": case.community_code,
        "station": case.station_code, "boundary_version": case.boundary_version_id,
        "near_boundary": case.near_boundary, "fallback": case.fallback, "inside_town": case.inside_town,
        "report_count": case.report_count, "split_from": case.split_from_id,
        "state_name": machine.STATES[case.state][0],
        "owner": {"kind": case.owner_kind, "code": case.owner_code} if case.owner_code else None,
        "helpers": case.helpers or [], "escalation_level": case.escalation_level,
        "extension_pending": case.extension_pending, "extension_request": case.extension_request,
        "suspension_pending": case.suspension_pending, "duty_fallback": case.duty_fallback,
        "deadline": clock["deadline"], "elapsed_share": clock["share"], "light": clock["light"],
        "clock_paused": clock["paused"], "limit_hours": case.limit_hours, "limit_unit": case.limit_unit,
        "milestones": {k: _iso(getattr(case, f"{k}_at")) for k in MILESTONES},
        "rework_count": case.rework_count, "return_count": case.return_count,
        "extension_count": case.extension_count, "satisfaction": case.satisfaction,
        "first_reported_at": case.first_reported_at.isoformat(), "last_reported_at": case.last_reported_at.isoformat(),
        "reports": [report_summary(r) for r in case.reports],
        "history": [
            {"at": e.at.isoformat(), "actor": e.actor, "role": e.role, "action": e.action, "from_state": e.from_state,
             "to_state": e.to_state, "case_version": e.case_version, "note": e.note, "data": e.data}
            for e in events
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def report_summary(report: Report) -> dict:
    """A report as the case view and GET /api/v1/reports/<id> show it."""
    return {
        "id": report.id, "case_id": report.case_id, "channel": report.channel, "reference": report.reference,
        "reporter_name": report.reporter_name, "reporter_phone": report.reporter_phone,
        "category": report.category_code, "urgency": report.urgency, "description": report.description,
        "address": report.address_text, "location_source": report.location_source,
        "geocode_score": report.geocode_score, "grid_code": report.grid_code, "station": report.station_code,
        "boundary_version": report.boundary_version_id, "near_boundary": report.near_boundary,
        "merged": report.merged, "merge_distance_m": report.merge_distance_m,
        "reported_at": report.reported_at.isoformat(), "received_at": report.received_at.isoformat(),
        "attachments": [attachment_summary(a) for a in report.attachments],
    }


def attachment_summary(a: Attachment) -> dict:
    """Attachment metadata; uploaded bytes are fetched from /api/v1/attachments/<id>."""
    if a.kind == "url":
        return {"id": a.id, "kind": "url", "url": a.url}
    return {"id": a.id, "kind": "upload", "url": f"/api/v1/attachments/{a.id}", "filename": a.filename,
            "content_type": a.content_type, "size_bytes": a.size_bytes, "sha256": a.sha256}


def report_view(session: Session, user: User, report_id: int) -> dict:
    """One report, if the caller may see its case."""
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound("report", report_id)
    check_visible(user, report.case)
    return report_summary(report)


def attachment(session: Session, user: User, attachment_id: int) -> Attachment:
    """An uploaded photo with its bytes, if the caller may see its case (URL attachments have no bytes)."""
    found = session.get(Attachment, attachment_id)
    if found is None or found.kind != "upload":
        raise NotFound("uploaded attachment", attachment_id)
    check_visible(user, session.get(Report, found.report_id).case)
    return found
