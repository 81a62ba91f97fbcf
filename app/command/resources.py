"""Emergency resources (应急资源): teams, vehicles, pumps, sandbags and other supplies at stations and depots;
the nearest to an incident by road (the routing network, travel time); dispatching records it in the
incident's log."""

from __future__ import annotations

import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.command import incidents
from app.command.models import Resource, ResourceDispatch
from app.db import found
from app.errors import Conflict, InputError
from app.field import network
from gis.crs import to_metric

KINDS = ("team", "vehicle", "pump", "sandbags", "generator", "boat", "lighting", "supplies")
MAX_SNAP_M = 1500.0


def _dispatched(session: Session) -> dict[int, int]:
    """Quantities out at incidents (not returned), per resource."""
    rows = session.execute(select(ResourceDispatch.resource_id, func.sum(ResourceDispatch.quantity))
                           .where(ResourceDispatch.returned_at.is_(None)).group_by(ResourceDispatch.resource_id))
    return {r: int(n) for r, n in rows}


def resource_json(r: Resource, out: int = 0) -> dict:
    """A resource as JSON, with what is still available."""
    p = to_shape(r.geom)
    return {"id": r.id, "code": r.code, "kind": r.kind, "name": r.name, "quantity": r.quantity, "unit": r.unit,
            "available": r.quantity - out, "station_code": r.station_code, "depot": r.depot, "lon": p.x, "lat": p.y,
            "illustrative": r.illustrative}


def listing(session: Session, kind: str | None = None) -> list[dict]:
    """The registry (optionally one kind)."""
    q = select(Resource).order_by(Resource.kind, Resource.code)
    if kind:
        if kind not in KINDS:
            raise InputError("kind", f"unknown resource kind {kind!r}; one of {', '.join(KINDS)}", 400)
        q = q.where(Resource.kind == kind)
    out = _dispatched(session)
    return [resource_json(r, out.get(r.id, 0)) for r in session.scalars(q)]


def _target(session: Session, incident_id: int) -> shapely.Point:
    """Where resources go: the incident's origin (a point on it for a line or a cell) in EPSG:4550."""
    incident = incidents.get(session, incident_id)
    point = session.scalar(select(func.ST_PointOnSurface(incident.origin)))
    return to_metric(to_shape(point))


def nearest(session: Session, incident_id: int, kind: str | None = None, limit: int = 5) -> list[dict]:
    """The available resources nearest to the incident by road travel time (those off the network last)."""
    target = _target(session, incident_id)
    candidates = [r for r in listing(session, kind) if r["available"] > 0]
    if not candidates:
        return []
    net = network.get(session)
    t = net.snap(target.x, target.y, field="incident", max_m=MAX_SNAP_M)
    xy = np.array([to_metric(shapely.Point(r["lon"], r["lat"])).coords[0] for r in candidates])
    snaps = net.snap_many(xy, MAX_SNAP_M)
    on = [i for i, s in enumerate(snaps) if s is not None]
    seconds = net.costs([snaps[i] for i in on], [t], "time")[:, 0] if on else np.array([])
    metres = net.costs([snaps[i] for i in on], [t], "length")[:, 0] if on else np.array([])
    for k, i in enumerate(on):
        if np.isfinite(seconds[k]):
            candidates[i]["minutes"] = round(float(seconds[k]) / 60, 1)
            candidates[i]["road_km"] = round(float(metres[k]) / 1000, 2)
    for i, r in enumerate(candidates):
        r["straight_km"] = round(float(np.hypot(*(xy[i] - (target.x, target.y)))) / 1000, 2)
    candidates.sort(key=lambda r: (r.get("minutes") is None, r.get("minutes") or 0, r["straight_km"]))
    return candidates[:limit]


def dispatch(session: Session, actor: str, incident_id: int, resource_id: int, quantity: int,
             note: str | None = None) -> ResourceDispatch:
    """Send a quantity of a resource to the incident: refused beyond what is available; logged."""
    incident = incidents.get(session, incident_id, lock=True)
    if incident.status == "closed":
        raise Conflict("incident_closed", f"incident {incident_id} is closed", message_zh="事件已结束，不能再调派")
    resource = session.get(Resource, resource_id, with_for_update=True)
    if resource is None:
        raise InputError("resource_id", f"no resource {resource_id}")
    available = resource.quantity - _dispatched(session).get(resource.id, 0)
    if quantity > available:
        raise InputError("quantity", f"{resource.name}: {available} {resource.unit} available, {quantity} asked",
                         message_zh=f"{resource.name}可调派 {available}{resource.unit}，不足 {quantity}")
    eta = next((r.get("minutes") for r in nearest(session, incident_id, resource.kind, 1000) if r["id"] == resource.id),
               None)
    row = ResourceDispatch(incident_id=incident_id, resource_id=resource.id, quantity=quantity, note=note,
                           eta_minutes=eta, dispatched_by=actor)
    session.add(row)
    session.flush()
    incidents.log(session, incident_id, actor, "dispatch", f"{resource.name} × {quantity} {resource.unit}",
                  {"resource_id": resource.id, "code": resource.code, "quantity": quantity, "eta_minutes": eta,
                   "note": note})
    return row


def dispatches(session: Session, incident_id: int) -> list[dict]:
    """What was sent to the incident."""
    rows = session.execute(select(ResourceDispatch, Resource)
                           .join(Resource, Resource.id == ResourceDispatch.resource_id)
                           .where(ResourceDispatch.incident_id == incident_id).order_by(ResourceDispatch.id)).all()
    return [{"id": d.id, "resource_id": r.id, "code": r.code, "name": r.name, "kind": r.kind, "quantity": d.quantity,
             "unit": r.unit, "eta_minutes": d.eta_minutes, "by": d.dispatched_by, "at": d.dispatched_at.isoformat(),
             "returned_at": d.returned_at.isoformat() if d.returned_at else None} for d, r in rows]


def add(session: Session, actor: str, payload: dict) -> Resource:
    """Register a resource at a station (its location) or a depot (lon, lat)."""
    from geoalchemy2.shape import from_shape

    from app.territory.models import Station

    if payload["kind"] not in KINDS:
        raise InputError("kind", f"unknown resource kind {payload['kind']!r}; one of {', '.join(KINDS)}")
    if session.scalar(select(Resource.id).where(Resource.code == payload["code"])) is not None:
        raise Conflict("duplicate", f"resource {payload['code']} exists already")
    station = payload.get("station_code")
    if station:
        where = session.scalar(select(Station.location).where(Station.code == station))
        if where is None:
            raise InputError("station_code", f"no station {station!r}")
    elif payload.get("lon") is not None and payload.get("lat") is not None:
        where = from_shape(shapely.Point(payload["lon"], payload["lat"]), srid=4326)
    else:
        raise InputError("station_code", "give the station (station_code) or the depot's lon and lat")
    row = Resource(code=payload["code"], kind=payload["kind"], name=payload["name"], quantity=payload["quantity"],
                   unit=payload.get("unit") or "", station_code=station, depot=payload.get("depot"), geom=where)
    session.add(row)
    session.flush()
    audit.record(session, actor, "resource.add", "resource", row.id, after={"code": row.code, "kind": row.kind,
                                                                          "quantity": row.quantity})
    return row


def get(session: Session, resource_id: int) -> Resource:
    """One resource."""
    return found(session, Resource, resource_id, "resource")
