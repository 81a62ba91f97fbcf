"""Patrol routes (巡查路线): plan a station's route for a day, store it, assign it, export it.

Candidate stops are the station's hot spot cells (Gi* over the recent past, valued by z) and its
open cases (valued by urgency and how close the deadline is). The road network gives the travel
times at the patrol's speed; OR-Tools picks and orders the stops within the shift
(routing/patrol.py). The plan is stored as the route of that station and day (re-planning replaces
it, audited) and exported as GeoJSON and GPX.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import gpxpy
import gpxpy.gpx
import numpy as np
import shapely
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import mapping
from sqlalchemy import ColumnElement, and_, func, literal, or_, select
from sqlalchemy.orm import Session

from app import params
from app.accounts import audit
from app.accounts.models import User
from app.analysis import hotspots as hs
from app.cases import machine
from app.cases.models import Case, Category
from app.cases.worktime import BEIJING
from app.db import found
from app.errors import Forbidden, InputError, NotFound
from app.field import network as ns
from app.field.models import PatrolRoute
from app.params import BBox
from app.territory.models import Station
from gis.crs import STORAGE_EPSG, to_metric, to_storage
from routing import patrol as solver

URGENCY_WEIGHT = {"normal": 1.0, "urgent": 2.0, "emergency": 4.0}
CASE_WEIGHT = 2.0  # a normal open case is worth about a z = 2 hot spot cell
MAX_Z_VALUE = 10.0
MAX_SNAP_M = 1000.0


def parse(session: Session, payload: object) -> dict:
    """Check the body of POST /api/v1/patrols/plan; InputError names the bad field."""
    if not isinstance(payload, dict):
        raise InputError("body", "send a JSON object", 400, error="invalid_body")
    code = payload.get("station")
    station = session.scalar(select(Station).where(Station.code == code, Station.active.is_(True))) if code else None
    if station is None:
        raise InputError("station", f"unknown or inactive station {code!r}")
    raw = payload.get("date")
    day = params.day("date", raw) if raw else datetime.now(BEIJING).date()
    if "shift_minutes" in payload:
        shift_minutes = params.body_number(payload, "shift_minutes", 240, 10, 720, int)
    else:
        shift_minutes = int(round(params.body_number(payload, "shift_hours", 4, 0.25, 12) * 60))
    assignee = payload.get("assignee")
    if assignee is not None:
        check_assignee(session, assignee, station.code)
    return {
        "station": station, "day": day, "shift_minutes": shift_minutes,
        "speed_kph": params.body_number(payload, "speed_kph", 15.0, 2.0, 80.0),
        "stop_minutes": params.body_number(payload, "stop_minutes", 5.0, 0.0, 120.0),
        "max_stops": params.body_number(payload, "max_stops", 40, 1, 150, int),
        "hotspot_days": params.body_number(payload, "hotspot_days", 30, 7, 365, int),
        "time_limit_s": params.body_number(payload, "time_limit_s", 2.0, 0.2, 30.0),
        "assignee": assignee,
    }


def check_assignee(session: Session, username: object, station_code: str) -> User:
    """An active patrol officer (of the station when the officer has one)."""
    user = session.scalar(select(User).where(User.username == username)) if isinstance(username, str) else None
    if user is None or not user.active:
        raise InputError("assignee", f"no active user {username!r}")
    if user.role != "patrol":
        raise InputError("assignee", f"{username} is not patrol staff (role {user.role})")
    if user.station_code and user.station_code != station_code:
        raise InputError("assignee", f"{username} patrols for station {user.station_code}, not {station_code}")
    return user


def default_assignee(session: Session, station_code: str) -> str | None:
    """The station's first active patrol officer."""
    return session.scalar(
        select(User.username).where(User.role == "patrol", User.active.is_(True), User.station_code == station_code)
        .order_by(User.id).limit(1)
    )


# --- candidate stops -------------------------------------------------------------------------------

def candidates(session: Session, station: Station, day: date, hotspot_days: int, limit: int,
               now: datetime | None = None) -> list[dict]:
    """The station's hot spot cells and open cases, most valuable first, at most `limit`."""
    cells = hs.cell_set(session)
    end = day + timedelta(days=1)
    _, _, g = hs.hotspots(session, end - timedelta(days=hotspot_days), end, [])
    mine = _cells_of(cells, station)
    stops = []
    for i in np.flatnonzero(mine & (g.bins > 0)):
        lon, lat = cells.lonlat[i]
        stops.append({"kind": "cell", "ref": cells.codes[i], "label": f"热点网格 {cells.codes[i]}",
                      "lon": float(lon), "lat": float(lat), "value": round(min(float(g.z[i]), MAX_Z_VALUE), 3),
                      "detail": {"z": round(float(g.z[i]), 3), "class": gh_class(int(g.bins[i]))}})
    stops += _case_stops(session, station, day, now)
    stops.sort(key=lambda s: (-s["value"], s["kind"], str(s["ref"])))
    return stops[:limit]


def gh_class(b: int) -> str:
    from gis.spatial_stats import bin_class

    return bin_class(b)


def _cells_of(cells: hs.CellSet, station: Station) -> np.ndarray:
    if station.tier == "workstation" and station.workstation_code:
        return np.array([w == station.workstation_code for w in cells.workstation])
    if station.tier == "town_center":
        return np.ones(len(cells.codes), dtype=bool)
    return np.array([s == station.code for s in cells.station])


def _case_stops(session: Session, station: Station, day: date, now: datetime | None) -> list[dict]:
    day_start = datetime.combine(day, datetime.min.time(), BEIJING)
    day_end = day_start + timedelta(days=1)
    if station.tier == "workstation" and station.workstation_code:
        where = Case.workstation_code == station.workstation_code
    elif station.tier == "town_center":
        where = Case.id.is_not(None)
    else:
        where = or_(Case.station_code == station.code, and_(Case.owner_kind == "station",
                                                            Case.owner_code == station.code))
    rows = session.execute(
        select(Case, Category.name).join(Category, Category.code == Case.category_code)
        .where(where, Case.state.in_(machine.OPEN), Case.first_reported_at < day_end)
        .order_by(Case.id)
    ).all()
    out = []
    for case, category in rows:
        p = to_shape(case.geom)
        factor = 1.0
        if case.deadline_at is not None:
            factor = 3.0 if case.deadline_at <= day_start else 2.0 if case.deadline_at <= day_end else 1.0
        value = CASE_WEIGHT * URGENCY_WEIGHT.get(case.urgency, 1.0) * factor
        out.append({"kind": "case", "ref": case.id, "label": f"案件#{case.id} {category}", "lon": p.x, "lat": p.y,
                    "value": value, "detail": {"state": case.state, "urgency": case.urgency,
                                               "deadline": case.deadline_at.isoformat() if case.deadline_at else None,
                                               "address": case.address}})
    return out


# --- planning --------------------------------------------------------------------------------------

def plan(session: Session, actor: str, payload: object, now: datetime | None = None) -> PatrolRoute:
    """Plan, store (replacing the station's route of that day) and return the route."""
    p = parse(session, payload)
    station: Station = p["station"]
    net = ns.get(session)
    depot_pt = to_shape(station.location)
    depot = ns.snap(net, depot_pt.x, depot_pt.y, "station", MAX_SNAP_M)
    stops = candidates(session, station, p["day"], p["hotspot_days"], p["max_stops"], now)
    xy = to_metric(shapely.points([(s["lon"], s["lat"]) for s in stops])) if stops else []
    snaps = net.snap_many(shapely.get_coordinates(xy), MAX_SNAP_M) if stops else []
    reachable = [(s, sn) for s, sn in zip(stops, snaps, strict=True) if sn is not None]
    stops = [s for s, _ in reachable]
    points = [depot] + [sn for _, sn in reachable]
    speed = p["speed_kph"] / 3.6
    times = net.costs(points, points, "length") / speed
    np.fill_diagonal(times, 0.0)
    shift_s = p["shift_minutes"] * 60
    service_s = int(round(p["stop_minutes"] * 60))
    result = solver.plan(times, [s["value"] for s in stops], service_s, shift_s, p["time_limit_s"])
    visited = [points[0]] + [points[i + 1] for i in result.order] + [points[0]] if result.order else []
    coords: list = []
    length = 0.0
    for a, b in zip(visited[:-1], visited[1:], strict=False):
        leg = net.route(a, b, "length")
        pts = leg.coords if not coords else leg.coords[1:]
        coords.extend(pts)
        length += leg.length_m
    line = to_storage(shapely.LineString(coords)) if len(coords) >= 2 else None
    ordered, clock = [], 0.0
    previous = [-1] + result.order[:-1] if result.order else []
    for seq, (prev, i) in enumerate(zip(previous, result.order, strict=True), start=1):
        clock += float(np.ceil(times[prev + 1, i + 1]))
        ordered.append({**stops[i], "seq": seq, "arrive_s": int(clock)})
        clock += service_s
    assignee = p["assignee"] or default_assignee(session, station.code)
    route = session.scalar(select(PatrolRoute).where(PatrolRoute.station_code == station.code,
                                                     PatrolRoute.day == p["day"]))
    before = summary(route) if route is not None else None
    if route is None:
        route = PatrolRoute(station_code=station.code, day=p["day"])
        session.add(route)
    route.shift_minutes, route.speed_kph, route.assignee = p["shift_minutes"], p["speed_kph"], assignee
    route.stops, route.length_m, route.duration_s, route.value = ordered, round(length, 1), result.total_s, \
        round(result.value, 3)
    route.geom = from_shape(line, srid=STORAGE_EPSG) if line is not None else None
    route.solver = {"status": result.status, "objective": result.objective, "time_limit_s": p["time_limit_s"],
                    "candidates": len(stops), "visited": len(ordered), "travel_s": result.travel_s,
                    "service_s_per_stop": service_s, "stop_minutes": p["stop_minutes"],
                    "hotspot_days": p["hotspot_days"], "planned_at": (now or datetime.now(UTC)).isoformat()}
    route.created_by = actor
    route.created_at = now or datetime.now(UTC)
    session.flush()
    audit.record(session, actor, "patrol_route.plan", "patrol_route", route.id, before=before, after=summary(route))
    return route


def summary(route: PatrolRoute) -> dict:
    """The route's figures without geometry."""
    return {"id": route.id, "station_code": route.station_code, "day": route.day.isoformat(),
            "shift_minutes": route.shift_minutes, "speed_kph": route.speed_kph, "assignee": route.assignee,
            "length_m": route.length_m, "duration_s": route.duration_s, "value": route.value,
            "stops": len(route.stops or []), "created_by": route.created_by,
            "created_at": route.created_at.isoformat() if route.created_at else None}


def get(session: Session, route_id: int) -> PatrolRoute:
    """A stored route or NotFound."""
    route = found(session, PatrolRoute, route_id, "patrol route")
    return route


def visible_to(user: User | None) -> ColumnElement[bool]:
    """The routes a user may see: patrol staff their own and their station's; everyone else all."""
    if user is None or user.role != "patrol":
        return literal(True)
    mine = PatrolRoute.assignee == user.username
    return or_(mine, PatrolRoute.station_code == user.station_code) if user.station_code else mine


def may_see(user: User, route: PatrolRoute) -> bool:
    """The rule of visible_to for one loaded route."""
    if user.role != "patrol":
        return True
    same_station = user.station_code is not None and route.station_code == user.station_code
    return route.assignee == user.username or same_station


def visible(session: Session, user: User, route_id: int) -> PatrolRoute:
    """A stored route the user may see (Forbidden for another station's)."""
    route = get(session, route_id)
    if not may_see(user, route):
        raise Forbidden("this route belongs to another station")
    return route


def station_name(session: Session, code: str) -> str | None:
    """The name of the route's station, for titles."""
    return session.scalar(select(Station.name).where(Station.code == code))


def assign(session: Session, actor: str, route_id: int, username: object) -> PatrolRoute:
    """Give the route to a patrol officer (audited)."""
    route = get(session, route_id)
    check_assignee(session, username, route.station_code)
    before = route.assignee
    route.assignee = username
    session.flush()
    audit.record(session, actor, "patrol_route.assign", "patrol_route", route.id, before={"assignee": before},
                 after={"assignee": username})
    return route


def detail_geojson(route: PatrolRoute, station_name: str | None = None) -> dict:
    """The route and its stops as a GeoJSON FeatureCollection."""
    features = []
    if route.geom is not None:
        features.append({"type": "Feature", "id": f"route-{route.id}", "geometry": mapping(to_shape(route.geom)),
                         "properties": {"feature": "route", **summary(route)}})
    for s in route.stops or []:
        props = {k: v for k, v in s.items() if k not in ("lon", "lat")}
        features.append({"type": "Feature", "id": f"stop-{route.id}-{s['seq']}",
                         "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
                         "properties": {"feature": "stop", "route_id": route.id, **props}})
    return {"type": "FeatureCollection", **summary(route), "station_name": station_name,
            "solver": route.solver, "features": features}


def _feature(route: PatrolRoute) -> dict:
    geometry = mapping(to_shape(route.geom)) if route.geom is not None else None  # a route with no stop
    return {"type": "Feature", "id": route.id, "geometry": geometry, "properties": summary(route)}


def listing(session: Session, user: User, day: date | None, station: str | None, assignee: str | None,
            box: BBox | None =None) -> dict:
    """GET /api/v1/patrols: routes as LineString Features (the map's patrol layer)."""
    q = select(PatrolRoute).where(visible_to(user)).order_by(PatrolRoute.day.desc(), PatrolRoute.station_code)
    if day is not None:
        q = q.where(PatrolRoute.day == day)
    if station:
        q = q.where(PatrolRoute.station_code == station)
    if assignee:
        q = q.where(PatrolRoute.assignee == assignee)
    if box is not None:
        q = q.where(func.ST_Intersects(PatrolRoute.geom, func.ST_MakeEnvelope(*box, STORAGE_EPSG)))
    features = [_feature(route) for route in session.scalars(q.limit(500))]
    return {"type": "FeatureCollection", "features": features, "numberReturned": len(features)}


def page(session: Session, user: User | None, box: tuple | None = None, start: datetime | None = None,
         end: datetime | None = None, limit: int | None = None, offset: int = 0,
         route_id: int | None = None) -> tuple[list[dict], int]:
    """Routes the user may see, newest day first, within a box and a closed period of days: a page and the
    count (the OGC collection)."""
    q = select(PatrolRoute).where(visible_to(user))
    if route_id is not None:
        q = q.where(PatrolRoute.id == route_id)
    if box is not None:
        q = q.where(func.ST_Intersects(PatrolRoute.geom, func.ST_MakeEnvelope(*box, STORAGE_EPSG)))
    if start is not None:
        q = q.where(PatrolRoute.day >= start.date())
    if end is not None:
        q = q.where(PatrolRoute.day <= end.date())
    matched = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.scalars(q.order_by(PatrolRoute.day.desc(), PatrolRoute.id).offset(offset).limit(limit))
    return [{**_feature(r), "id": str(r.id)} for r in rows], matched


def gpx(route: PatrolRoute, station_name: str | None = None) -> str:
    """The route as GPX 1.1: one track, and a waypoint per stop in visiting order."""
    doc = gpxpy.gpx.GPX()
    doc.name = f"{station_name or route.station_code} {route.day.isoformat()} 巡查路线"
    doc.creator = "nanhui-grid"
    for s in route.stops or []:
        note = f"value {s['value']}, arrive +{s['arrive_s'] // 60} min"
        doc.waypoints.append(gpxpy.gpx.GPXWaypoint(latitude=s["lat"], longitude=s["lon"],
                                                   name=f"{s['seq']}. {s['label']}", description=note))
    if route.geom is not None:
        track = gpxpy.gpx.GPXTrack(name=doc.name)
        segment = gpxpy.gpx.GPXTrackSegment()
        for lon, lat in to_shape(route.geom).coords:
            segment.points.append(gpxpy.gpx.GPXTrackPoint(latitude=lat, longitude=lon))
        track.segments.append(segment)
        doc.tracks.append(track)
    return doc.to_xml(version="1.1")


def mark_visited(session: Session, user: User, route_id: int, seq: int, now: datetime | None = None,
                 at: datetime | None = None, where: tuple[float, float] | None = None) -> dict:
    """Record a visit of stop `seq` (`at`: when the phone saw it, if it was offline; `where`: the phone's position);
    only the assignee or patrol staff of the station may. A stop already visited keeps its first visit."""
    route = session.scalar(select(PatrolRoute).where(PatrolRoute.id == route_id).with_for_update())
    if route is None:
        raise NotFound("patrol route", route_id)
    if not may_see(user, route):
        raise Forbidden("this route belongs to another station")
    stops = [dict(s) for s in route.stops or []]
    stop = next((s for s in stops if s.get("seq") == seq), None)
    if stop is None:
        raise NotFound("stop", seq)
    if stop.get("visited_at"):
        return {**stop, "already_visited": True}
    now = now or datetime.now(UTC)
    if at is not None and at > now + timedelta(minutes=5):
        raise InputError("at", "the visit cannot lie in the future")
    stop["visited_at"] = (at or now).isoformat()
    stop["visited_by"] = user.username
    if where is not None:
        stop["visited_lon"], stop["visited_lat"] = where
    route.stops = stops  # a new list, so the JSONB column is written
    audit.record(session, user.username, "patrol_route.visit", "patrol_route", route.id,
                 after={"seq": seq, "at": stop["visited_at"]})
    session.flush()
    return stop
