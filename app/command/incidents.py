"""Incidents (突发事件): declared from a case, a hot spot (a grid cell) or a point on the map, with a type of
one of the four national classes, a level I-IV, a commander, a status (declared -> responding -> stabilised ->
closed) and an affected area, drawn or given as a buffer in metres (EPSG:4550) around a point or a line, clipped
to the town. Linked cases, suggestions for linking (open cases reported inside the area since shortly before
the declaration), the situation log. Every change is logged on the incident and audited; a refusal writes
nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import shapely
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import mapping, shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.accounts.models import User
from app.cases.machine import FINAL
from app.cases.models import Case
from app.command.models import (
    Incident,
    IncidentCase,
    IncidentLogEntry,
    IncidentType,
    ResourceDispatch,
)
from app.errors import Conflict, DomainError, InputError, NotFound
from app.territory.boundaries import in_version
from app.territory.models import AdminArea, GridCell
from gis.crs import METRIC_EPSG, STORAGE_EPSG

CLASSES = ("natural", "accident", "health", "social")  # 自然灾害, 事故灾难, 公共卫生事件, 社会安全事件
LEVELS = {"I": 1, "II": 2, "III": 3, "IV": 4}
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}
STATUSES = ("declared", "responding", "stabilised", "closed")
TRANSITIONS = {"declared": {"responding", "closed"}, "responding": {"stabilised"},
               "stabilised": {"responding", "closed"}, "closed": set()}
FIRST_REPORT_MINUTES = {1: 30, 2: 30, 3: 60, 4: 60}  # the first report is due this long after the declaration
SUGGEST_BEFORE = timedelta(hours=2)  # cases reported this long before the declaration are suggested too
MAX_BUFFER_M = 20_000.0
MAX_VERTICES = 5000
COMMANDERS = ("commander", "leader", "shift_leader", "admin")


class AreaOutsideTown(DomainError):
    """The affected area does not touch the town: 422."""

    status = 422
    error = "area_outside_town"


def level_of(raw: object) -> int:
    """'I'..'IV' (or 1..4) -> 1..4; anything else is refused naming `level`."""
    if isinstance(raw, str) and raw.strip().upper() in LEVELS:
        return LEVELS[raw.strip().upper()]
    if isinstance(raw, int) and not isinstance(raw, bool) and raw in LEVEL_NAMES:
        return raw
    raise InputError("level", f"unknown level {raw!r}: give I, II, III or IV (I is the gravest)",
                     message_zh=f"事件级别“{raw}”不存在：请选 I、II、III 或 IV 级（I 级最高）")


def _type(session: Session, code: str) -> IncidentType:
    found = session.get(IncidentType, code)
    if found is None:
        known = ", ".join(session.scalars(select(IncidentType.code).order_by(IncidentType.code)))
        raise InputError("type", f"unknown incident type {code!r}; choose one of {known}")
    return found


def _commander(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        raise InputError("commander", f"no active user {username!r}")
    if user.role not in COMMANDERS:
        raise InputError("commander", f"{username} ({user.role}) cannot command an incident; roles that can: "
                         + ", ".join(COMMANDERS))
    return user


def _geometry(field: str, raw: object, kinds: tuple[str, ...]) -> shapely.Geometry:
    """A GeoJSON geometry of one of `kinds` in lon/lat, finite, within Shanghai's degrees, not too large."""
    if not isinstance(raw, dict) or raw.get("type") not in kinds:
        raise InputError(field, f"{field} must be a GeoJSON {' or '.join(kinds)} in WGS84 lon/lat")
    try:
        geom = shape(raw)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, shapely.errors.GEOSException):
        raise InputError(field, f"{field} is not a well-formed GeoJSON {raw.get('type')}") from None
    coords = shapely.get_coordinates(geom)
    if geom.is_empty or len(coords) == 0 or not shapely.is_valid_input(geom):
        raise InputError(field, f"{field} is empty")
    if len(coords) > MAX_VERTICES:
        raise InputError(field, f"{field} has {len(coords)} vertices; at most {MAX_VERTICES}")
    lon, lat = coords[:, 0], coords[:, 1]
    if not (shapely.is_valid_input(geom) and (abs(lon) <= 180).all() and (abs(lat) <= 90).all()):
        raise InputError(field, f"{field}: coordinates must be lon/lat degrees")
    if not ((lon > 119).all() and (lon < 124).all() and (lat > 29).all() and (lat < 33).all()):
        raise AreaOutsideTown(f"{field} lies far outside the town (lon/lat near 121.9, 30.9 expected)", field,
                              message_zh="影响范围不在本镇内")
    if isinstance(geom, shapely.Polygon | shapely.MultiPolygon) and not geom.is_valid:
        geom = shapely.make_valid(geom)
    return geom


def _metric_buffer(geom_sql: Any, metres: float) -> Any:
    return func.ST_Transform(func.ST_Buffer(func.ST_Transform(geom_sql, METRIC_EPSG), metres), STORAGE_EPSG)


def _town(session: Session) -> Any:
    town = session.scalar(select(func.ST_Union(AdminArea.geom)).where(AdminArea.level == "town", in_version(AdminArea)))
    if town is None:
        raise Conflict("no_boundaries", "no town boundary is loaded")
    return town


def _clip(session: Session, area_sql: Any, field: str) -> Any:
    """The area clipped to the town, as a MultiPolygon; refused when it does not touch the town."""
    town = _town(session)
    row = session.execute(select(
        func.ST_Intersects(area_sql, town),
        func.ST_Multi(func.ST_CollectionExtract(func.ST_MakeValid(func.ST_Intersection(area_sql, town)), 3)),
    )).one()
    if not row[0]:
        raise AreaOutsideTown(f"{field}: the affected area lies outside the town", field,
                              message_zh="影响范围在本镇以外：请在镇域内划定")
    return row[1]


def _source(session: Session, payload: dict) -> tuple[str, str | None, Any, int | None]:
    """(kind, reference, origin geometry, case id) of the declaration."""
    if payload.get("case_id") is not None:
        case = session.get(Case, payload["case_id"])
        if case is None:
            raise InputError("case_id", f"no case {payload['case_id']}")
        return "case", str(case.id), case.geom, case.id
    if payload.get("grid_code"):
        cell = session.scalar(select(GridCell).where(GridCell.code == payload["grid_code"], in_version(GridCell)))
        if cell is None:
            raise InputError("grid_code", f"no current grid cell {payload['grid_code']!r}")
        return "hotspot", cell.code, cell.geom, None
    if payload.get("lon") is not None and payload.get("lat") is not None:
        point = _geometry("lon", {"type": "Point", "coordinates": [payload["lon"], payload["lat"]]}, ("Point",))
        return "point", None, from_shape(point, srid=STORAGE_EPSG), None
    raise InputError("case_id", "declare from a case (case_id), a hot spot (grid_code) or a point (lon, lat)")


def _area(session: Session, payload: dict, origin: Any) -> tuple[Any, float | None]:
    """The affected area (drawn `area`, or `buffer_m` around `geometry` or the origin), clipped to the town."""
    if payload.get("area") is not None:
        drawn = _geometry("area", payload["area"], ("Polygon", "MultiPolygon"))
        return _clip(session, from_shape(drawn, srid=STORAGE_EPSG), "area"), None
    metres = payload.get("buffer_m")
    if metres is None:
        raise InputError("buffer_m", "draw the affected area (area) or give a buffer in metres (buffer_m)")
    if not 1 <= float(metres) <= MAX_BUFFER_M:
        raise InputError("buffer_m", f"buffer_m must lie between 1 and {MAX_BUFFER_M:.0f} metres")
    base = origin
    if payload.get("geometry") is not None:
        line = _geometry("geometry", payload["geometry"], ("Point", "LineString"))
        base = from_shape(line, srid=STORAGE_EPSG)
    return _clip(session, _metric_buffer(base, float(metres)), "buffer_m"), float(metres)


def log(session: Session, incident_id: int, actor: str, kind: str, text: str = "", data: dict | None = None) -> None:
    """Append one line to the situation log (and the audit trail), in the caller's transaction."""
    session.add(IncidentLogEntry(incident_id=incident_id, actor=actor, kind=kind, text=text, data=data,
                                 at=datetime.now(UTC)))
    audit.record(session, actor, f"incident.{kind}", "incident", incident_id, after={"text": text, **(data or {})})


def declare(session: Session, actor: str, payload: dict, now: datetime | None = None) -> Incident:
    """Declare an incident (checked fully before anything is written)."""
    now = now or datetime.now(UTC)
    itype = _type(session, payload["type"])
    level = level_of(payload.get("level"))
    commander = _commander(session, payload["commander"])
    kind, ref, origin, case_id = _source(session, payload)
    area, metres = _area(session, payload, origin)
    incident = Incident(title=payload["title"], type_code=itype.code, level=level, status="declared",
                        commander=commander.username, source_kind=kind, source_ref=ref, origin=origin,
                        buffer_m=metres, area=area, declared_by=actor, declared_at=now,
                        first_report_due_at=now + timedelta(minutes=FIRST_REPORT_MINUTES[level]), version=1)
    session.add(incident)
    session.flush()
    log(session, incident.id, actor, "declared", payload["title"],
        {"type": itype.code, "level": LEVEL_NAMES[level], "commander": commander.username, "source": kind,
         "source_ref": ref, "buffer_m": metres})
    if case_id is not None:
        _link(session, actor, incident, case_id)
    return incident


def get(session: Session, incident_id: int, lock: bool = False) -> Incident:
    """One incident (404 when none)."""
    found = session.get(Incident, incident_id, with_for_update=lock)
    if found is None:
        raise NotFound("incident", incident_id)
    return found


def _open(session: Session, incident_id: int, version: int | None = None) -> Incident:
    incident = get(session, incident_id, lock=True)
    if incident.status == "closed":
        raise Conflict("incident_closed", f"incident {incident_id} is closed",
                       message_zh="事件已结束，不能再操作")
    if version is not None and version != incident.version:
        raise Conflict("stale_version", f"incident {incident_id} is at version {incident.version}, not {version}")
    return incident


def set_status(session: Session, actor: str, incident_id: int, status: str, version: int | None = None,
               note: str | None = None) -> Incident:
    """Move the incident along declared -> responding -> stabilised -> closed (stabilised may fall back to
    responding); closing hands its open cases back to the daily loop and returns the dispatched resources."""
    if status not in STATUSES:
        raise InputError("status", f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    incident = _open(session, incident_id, version)
    if status not in TRANSITIONS[incident.status]:
        raise InputError("status", f"an incident {incident.status} cannot become {status}", error="illegal",
                         message_zh=f"事件当前为“{incident.status}”，不能改为“{status}”")
    before = incident.status
    incident.status = status
    incident.version += 1
    log(session, incident.id, actor, "status", note or "", {"from": before, "to": status})
    if status == "closed":
        _close(session, actor, incident)
    return incident


def _close(session: Session, actor: str, incident: Incident) -> None:
    now = datetime.now(UTC)
    incident.closed_at = now
    rows = session.execute(select(IncidentCase, Case.state).join(Case, Case.id == IncidentCase.case_id)
                           .where(IncidentCase.incident_id == incident.id, IncidentCase.released_at.is_(None))).all()
    for link, state in rows:
        link.released_at = now
        if state not in FINAL:
            log(session, incident.id, actor, "case_handed_back", f"#{link.case_id}",
                {"case_id": link.case_id, "state": state})
    for d in session.scalars(select(ResourceDispatch).where(ResourceDispatch.incident_id == incident.id,
                                                            ResourceDispatch.returned_at.is_(None))):
        d.returned_at = now


def set_area(session: Session, actor: str, incident_id: int, payload: dict) -> Incident:
    """Redraw the affected area (drawn, or a new buffer)."""
    incident = _open(session, incident_id, payload.get("version"))
    area, metres = _area(session, payload, incident.origin)
    incident.area, incident.buffer_m = area, metres
    incident.version += 1
    log(session, incident.id, actor, "area", "", {"buffer_m": metres})
    return incident


def _link(session: Session, actor: str, incident: Incident, case_id: int) -> None:
    case = session.get(Case, case_id)
    if case is None:
        raise InputError("case_ids", f"no case {case_id}")
    if session.get(IncidentCase, (incident.id, case_id)) is not None:
        return
    session.add(IncidentCase(incident_id=incident.id, case_id=case_id, linked_by=actor))
    log(session, incident.id, actor, "case_linked", f"#{case_id}", {"case_id": case_id, "state": case.state})


def link_cases(session: Session, actor: str, incident_id: int, case_ids: list[int]) -> Incident:
    """Link cases to the incident (already linked ones are left as they are)."""
    incident = _open(session, incident_id)
    for case_id in case_ids:
        _link(session, actor, incident, case_id)
    session.flush()
    return incident


def add_note(session: Session, actor: str, incident_id: int, text: str) -> None:
    """A commander's note in the situation log."""
    _open(session, incident_id)
    log(session, incident_id, actor, "note", text)


def suggestions(session: Session, incident_id: int, now: datetime | None = None) -> list[dict]:
    """Open cases inside the area first reported since shortly before the declaration, not yet linked."""
    incident = get(session, incident_id)
    now = now or datetime.now(UTC)
    linked = select(IncidentCase.case_id).where(IncidentCase.incident_id == incident_id)
    rows = session.execute(
        select(Case.id, Case.category_code, Case.address, Case.state, Case.first_reported_at,
               func.ST_X(Case.geom), func.ST_Y(Case.geom))
        .where(func.ST_Intersects(Case.geom, incident.area), Case.state.not_in(FINAL),
               Case.first_reported_at >= incident.declared_at - SUGGEST_BEFORE, Case.first_reported_at <= now,
               Case.id.not_in(linked))
        .order_by(Case.first_reported_at.desc()).limit(200)).all()
    return [{"id": r[0], "category": r[1], "address": r[2], "state": r[3], "first_reported_at": r[4].isoformat(),
             "lon": r[5], "lat": r[6]} for r in rows]


def linked(session: Session, incident_id: int) -> list[dict]:
    """The incident's cases with their state and whether they were handed back."""
    rows = session.execute(select(IncidentCase, Case.state, Case.category_code, Case.address)
                           .join(Case, Case.id == IncidentCase.case_id)
                           .where(IncidentCase.incident_id == incident_id).order_by(IncidentCase.case_id)).all()
    return [{"id": link.case_id, "state": state, "category": cat, "address": address,
             "linked_at": link.linked_at.isoformat() if link.linked_at else None,
             "released_at": link.released_at.isoformat() if link.released_at else None}
            for link, state, cat, address in rows]


def log_entries(session: Session, incident_id: int) -> list[dict]:
    """The situation log, oldest first."""
    get(session, incident_id)
    rows = session.scalars(select(IncidentLogEntry).where(IncidentLogEntry.incident_id == incident_id)
                           .order_by(IncidentLogEntry.id))
    return [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "kind": e.kind, "text": e.text,
             "data": e.data or {}} for e in rows]


def geojson(geom: Any) -> dict:
    """A stored geometry as a GeoJSON geometry."""
    return mapping(to_shape(geom))


def incident_json(session: Session, incident: Incident) -> dict:
    """An incident as JSON, with its area as GeoJSON and its area in km²."""
    itype = session.get(IncidentType, incident.type_code)
    area_m2 = session.scalar(select(func.ST_Area(func.ST_Transform(incident.area, METRIC_EPSG))))
    return {"id": incident.id, "title": incident.title, "type": incident.type_code, "type_name": itype.name,
            "type_name_en": itype.name_en, "class": itype.class_code, "level": LEVEL_NAMES[incident.level],
            "status": incident.status, "commander": incident.commander, "source_kind": incident.source_kind,
            "source_ref": incident.source_ref, "buffer_m": incident.buffer_m, "declared_by": incident.declared_by,
            "declared_at": incident.declared_at.isoformat(),
            "first_report_due_at": incident.first_report_due_at.isoformat(),
            "closed_at": incident.closed_at.isoformat() if incident.closed_at else None, "version": incident.version,
            "area_km2": round((area_m2 or 0) / 1e6, 3), "area": geojson(incident.area),
            "origin": geojson(incident.origin)}


def listing(session: Session, include_closed: bool = False) -> list[dict]:
    """Incidents, newest first (open ones unless `include_closed`)."""
    q = select(Incident).order_by(Incident.id.desc()).limit(100)
    if not include_closed:
        q = q.where(Incident.status != "closed")
    return [{k: v for k, v in incident_json(session, i).items() if k not in ("area", "origin")}
            for i in session.scalars(q)]


def types(session: Session) -> list[dict]:
    """The incident types by class."""
    return [{"code": t.code, "class": t.class_code, "name": t.name, "name_en": t.name_en}
            for t in session.scalars(select(IncidentType).order_by(IncidentType.class_code, IncidentType.code))]
