"""Reading cases: one case with its reports and history, and lists (paged GeoJSON, the map's viewport),
filtered by query parameters and scoped to what the caller may see."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Row, RowMapping, and_, case, exists, false, func, or_, select
from sqlalchemy.orm import Session

from app import params
from app.accounts.models import User
from app.cases import machine, workflow
from app.cases.models import Attachment, Case, CaseEvent, Report
from app.cases.scope import check_visible, visible_to
from app.db import found
from app.errors import InputError, NotFound
from app.params import Args
from app.territory.models import AdminArea
from gis.crs import STORAGE_EPSG

LIGHTS = ("green", "yellow", "red")
MAX_LIMIT = 5000
MAX_SEARCH = 100
# ?sort= keys (a leading "-" sorts descending; the case id breaks ties in the same direction)
SORTS = {
    "id": Case.id, "reported_at": Case.first_reported_at, "deadline": Case.deadline_at,
    "updated_at": Case.updated_at, "category": Case.category_code, "station": Case.station_code,
    "state": Case.state, "urgency": Case.urgency,
}
TIME_SORTS = frozenset({"reported_at", "deadline", "updated_at"})
DEFAULT_SORT = "-reported_at"


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
    text: str | None = None  # ?q=: a case number (18 or #18), or text in the address, phone or description
    sort: str = DEFAULT_SORT
    mine: bool = False  # ?mine=1: cases owned by the caller's department (handlers) or station (patrol staff)
    after: tuple | None = None  # the cursor: the sort value and id of the last case of the previous page
    conditions: tuple = ()  # further WHERE conditions on Case (an OGC API CQL2 filter, app/interop/cql.py)
    limit: int = 500
    offset: int = 0


@dataclass
class Page:
    """One page of cases."""

    rows: list
    matched: int
    offset: int
    next_offset: int | None
    next_cursor: str | None = None

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
    q.text = _search_text(args.get("q"))
    q.sort = _sort(args.get("sort"))
    q.mine = _yes_no(args, "mine")
    if args.get("cursor"):
        if args.get("offset"):
            raise InputError("cursor", "give cursor or offset, not both", 400)
        q.after = decode_cursor(args["cursor"], q.sort)
    return q


def _yes_no(args: Args, name: str) -> bool:
    raw = (args.get(name) or "").strip().lower()
    if raw not in ("", "0", "1", "true", "false", "yes", "no"):
        raise InputError(name, f"{name} must be 1 or 0, got {raw[:20]!r}", 400)
    return raw in ("1", "true", "yes")


def _search_text(raw: str | None) -> str | None:
    text = (raw or "").strip()
    if len(text) > MAX_SEARCH:
        raise InputError("q", f"q may be at most {MAX_SEARCH} characters", 400)
    return text or None


def _sort(raw: str | None) -> str:
    sort = (raw or "").strip() or DEFAULT_SORT
    if sort.removeprefix("-") not in SORTS:
        raise InputError("sort", f"unknown sort {sort[:40]!r}; sorts: {', '.join(SORTS)} (a leading - for "
                                 "descending)", 400)
    return sort


# --------------------------------------------------------------------------------------------
# Cursor paging: the token carries the sort and the last row's sort value and id (keyset paging)
# --------------------------------------------------------------------------------------------


def encode_cursor(sort: str, value: object, case_id: int) -> str:
    """An opaque token for the page after the case (`value`: its sort value)."""
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps({"s": sort, "v": value, "id": case_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, sort: str) -> tuple:
    """The (sort value, id) a token carries; InputError (400, field cursor) when it is not one of ours or was
    made for another sort."""
    bad = InputError("cursor", "cursor is not a token this API gave (take links.next as it is)", 400)
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(data, dict) or not _bigint(data.get("id")):
        raise bad
    if data.get("s") != sort:
        raise InputError("cursor", f"cursor was made for sort {str(data.get('s'))[:40]!r}, not {sort!r}", 400)
    value = data.get("v")
    key = sort.removeprefix("-")
    if key == "id" and not _bigint(value):
        raise bad
    if key != "id" and value is not None and not isinstance(value, str):
        raise bad
    if key in TIME_SORTS and value is not None:
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise bad from None
    return value, data["id"]


def _bigint(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def _order(sort: str) -> list:
    column, descending = SORTS[sort.removeprefix("-")], sort.startswith("-")
    if descending:
        return [column.desc().nulls_last(), Case.id.desc()]
    return [column.asc().nulls_last(), Case.id.asc()]


def _after(sort: str, value: object, case_id: int) -> ColumnElement[bool]:
    """The rows after (value, id) in the order of `sort` (NULL sort values come last in both directions)."""
    column, descending = SORTS[sort.removeprefix("-")], sort.startswith("-")
    tie = Case.id < case_id if descending else Case.id > case_id
    if value is None:
        return and_(column.is_(None), tie)
    beyond = column < value if descending else column > value
    return or_(beyond, and_(column == value, tie), column.is_(None))


def _search(text: str) -> ColumnElement[bool]:
    """A case number (18 or #18), or a substring of the address, description, reporter phone or reference
    (the trigram indexes of migration 0007 serve these ILIKEs)."""
    number = re.fullmatch(r"#\s*(\d{1,18})|(\d{1,18})", text)
    by_id = Case.id == int(number.group(1) or number.group(2)) if number else false()
    if number and text.startswith("#"):
        return by_id
    like = "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"
    in_reports = exists().where(Report.case_id == Case.id, or_(
        Report.reporter_phone.ilike(like, escape="\\"), Report.address_text.ilike(like, escape="\\"),
        Report.description.ilike(like, escape="\\"), Report.reference.ilike(like, escape="\\")))
    return or_(by_id, Case.address.ilike(like, escape="\\"), Case.description.ilike(like, escape="\\"), in_reports)


def _mine(user: User) -> ColumnElement[bool]:
    if user.role == "handler" and user.department_code:
        return and_(Case.owner_kind == "department", Case.owner_code == user.department_code)
    if user.role == "patrol" and user.station_code:
        return and_(Case.owner_kind == "station", Case.owner_code == user.station_code)
    raise InputError("mine", f"mine=1 lists the cases of a handler's department or a patrol officer's station; "
                             f"role {user.role} has neither", 400)


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
    page = select(Case, func.ST_X(Case.geom), func.ST_Y(Case.geom), light).where(*where).order_by(*_order(q.sort))
    if q.after is not None:
        page = page.where(_after(q.sort, *q.after))
    else:
        page = page.offset(q.offset)
    rows = session.execute(page.limit(q.limit + 1)).all()
    more, rows = len(rows) > q.limit, rows[:q.limit]
    next_offset = q.offset + len(rows) if more and q.after is None else None
    cursor = None
    if more:
        last = rows[-1][0]
        cursor = encode_cursor(q.sort, getattr(last, SORTS[q.sort.removeprefix("-")].key), last.id)
    return Page(rows, matched, q.offset, next_offset, cursor)


def feature_of(session: Session, user: User, case_id: int, now: datetime | None = None) -> dict | None:
    """One case as a list feature, if the user may see it (None otherwise)."""
    light = lights(session, now).label("light")
    row = session.execute(
        select(Case, func.ST_X(Case.geom), func.ST_Y(Case.geom), light).where(Case.id == case_id, visible_to(user))
    ).first()
    return None if row is None else _feature(row)


def map_view(session: Session, q: CaseQuery, user: User, zoom: int, now: datetime | None = None,
             max_points: int = 3000) -> dict:
    """What the map draws for its viewport: the cases themselves, or counts on a grid when there are many (with the
    red, yellow and green cases of each, so that a cluster takes the colour of its worst light).

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
               *(func.sum(case((lit == colour, 1), else_=0)) for colour in ("red", "yellow", "green")))
        .where(*where).group_by(cell)
    ).all()
    return {
        "type": "FeatureCollection", "clustered": True, "numberMatched": sum(r[0] for r in rows),
        "numberReturned": len(rows),
        "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(x, 6), round(y, 6)]},
                      "properties": {"count": n, "red": int(red or 0), "yellow": int(yellow or 0),
                                     "green": int(green or 0)}} for n, x, y, red, yellow, green in rows],
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
    where = [visible_to(user), *q.conditions]
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
    return where + _queue_where(q, user)


def _queue_where(q: CaseQuery, user: User) -> list:
    """The work queue's conditions: the search and "my tasks"."""
    where = []
    if q.text:
        where.append(_search(q.text))
    if q.mine:
        where.append(_mine(user))
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
    case = found(session, Case, case_id, "case")
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
        "workstation_name": _area_name(session, "workstation", case.workstation_code),
        "community_name": _area_name(session, "community", case.community_code),
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


def _area_name(session: Session, level: str, code: str | None) -> dict | None:
    """{zh, en}: the name of a community or workstation territory (its newest version)."""
    if not code:
        return None
    row = session.execute(select(AdminArea.name, AdminArea.name_en)
                          .where(AdminArea.level == level, AdminArea.code == code)
                          .order_by(AdminArea.version_low.desc()).limit(1)).first()
    return {"zh": row[0], "en": row[1] or row[0]} if row else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def report_summary(report: Report) -> dict:
    """A report as the case view and GET /api/v1/reports/<id> show it."""
    return {
        "id": report.id, "case_id": report.case_id, "channel": report.channel, "reference": report.reference,
        "reporter_name": report.reporter_name, "reporter_phone": report.reporter_phone,
        "category": report.category_code, "urgency": report.urgency, "description": report.description,
        "address": report.address_text, "geocoded_address": report.geocoded_address,
        "location_source": report.location_source,
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
    report = found(session, Report, report_id, "report")
    check_visible(user, report.case)
    return report_summary(report)


def attachment(session: Session, user: User, attachment_id: int) -> Attachment:
    """An uploaded photo with its bytes, if the caller may see its case (URL attachments have no bytes)."""
    found = session.get(Attachment, attachment_id)
    if found is None or found.kind != "upload":
        raise NotFound("uploaded attachment", attachment_id)
    check_visible(user, session.get(Report, found.report_id).case)
    return found
