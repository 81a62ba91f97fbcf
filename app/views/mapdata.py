"""Data for the map consoles: viewport cases, basemap layers, coordinate conversion, boundary
versions, coverage proposals (planner) and case counts per grid cell."""

from __future__ import annotations

import json
from datetime import datetime, time
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request
from geoalchemy2 import functions as gf
from sqlalchemy import Integer, cast, func, select

from app.auth import current_user, login_required, roles_required
from app.db import db
from app.models import Address, BoundaryVersion, Case
from app.services import caselist, kpi, planning
from app.services.errors import InputError
from app.views.errors import json_errors
from app.workflow.worktime import BEIJING
from gis import crs as gcrs
from gis.points import check_point

bp = Blueprint("mapdata", __name__, url_prefix="/api/v1")
json_errors(bp)
WATER = Path(__file__).resolve().parents[2] / "data" / "boundaries" / "water.geojson"
PLANNERS = ("planner", "admin")


@bp.get("/cases/map")
@login_required
def cases_map():
    """Cases in the viewport (?bbox=&zoom= and the /cases filters): points, or counts per cell when many."""
    q = caselist.parse_filters(request.args)
    if q.bbox is None:
        raise InputError("bbox", "bbox is required: minlon,minlat,maxlon,maxlat", 400)
    zoom = request.args.get("zoom", "14")
    if not zoom.isdigit():
        raise InputError("zoom", "zoom must be a whole number", 400)
    return jsonify(caselist.map_view(db.session(), q, current_user(), int(zoom)))


@bp.get("/convert")
@login_required
def convert():
    """A point from one CRS to another (wgs84, cgcs2000, gcj02, bd09), for copying coordinates."""
    try:
        src = gcrs.input_crs_name(request.args.get("from", "wgs84"))
        dst = gcrs.input_crs_name(request.args.get("to", "gcj02"))
    except gcrs.UnknownCRS as exc:
        raise InputError("crs", str(exc), 400) from None
    lon, lat = check_point(request.args.get("lon"), request.args.get("lat"))
    wlon, wlat = gcrs.to_wgs84(lon, lat, src)
    x, y = gcrs.from_wgs84(wlon, wlat, dst)
    return jsonify(lon=round(float(x), 7), lat=round(float(y), 7), crs=dst)


@bp.get("/basemap/<name>")
@login_required
def basemap(name: str):
    """Offline basemap layers drawn from our own data: water and named places."""
    if name == "water":
        return current_app.response_class(WATER.read_bytes(), mimetype="application/geo+json")
    if name == "places":
        rows = db.session().execute(
            select(Address.name, Address.place_type, gf.ST_AsGeoJSON(Address.geom, 6))
            .where(Address.kind == "place").order_by(Address.id)
        ).all()
        return jsonify(type="FeatureCollection", features=[
            {"type": "Feature", "geometry": json.loads(g), "properties": {"name": n, "place_type": t}}
            for n, t, g in rows])
    raise InputError("name", "basemap layers: water, places", 404, error="not_found")


@bp.get("/boundaries/versions")
@login_required
def versions():
    """Every boundary version, newest first."""
    rows = db.session().scalars(select(BoundaryVersion).order_by(BoundaryVersion.id.desc())).all()
    return jsonify(versions=[
        {"id": v.id, "kind": v.kind, "reason": v.reason, "created_by": v.created_by,
         "created_at": v.created_at.isoformat(), "effective_from": v.effective_from.isoformat(),
         "layers": v.layers, "parent_id": v.parent_id} for v in rows])


def _proposal():
    payload = request.get_json(silent=True)
    session = db.session()
    index = current_app.extensions["ownership"].get(session)
    return session, index, payload


@bp.post("/planning/coverage/preview")
@roles_required(*PLANNERS)
def coverage_preview():
    """Validation and impact of a coverage proposal; nothing is written."""
    session, index, payload = _proposal()
    features, new_stations = planning.parse(session, payload)
    return jsonify(planning.preview(session, index, features, new_stations))


@bp.post("/planning/coverage")
@roles_required(*PLANNERS)
def coverage_save():
    """Save a proposal as a new boundary version (reason required; reassign move|keep)."""
    _, index, payload = _proposal()
    return jsonify(db.commit(lambda s: planning.save(s, index, current_user().username, payload))), 201


@bp.get("/stats/grid-counts")
@login_required
def grid_counts():
    """Cases per grid cell first reported in [from, to) (default this month), for the choropleth."""
    start, end = kpi.period(request.args.get("from"), request.args.get("to"))
    lo, hi = (datetime.combine(d, time.min, BEIJING) for d in (start, end))
    rows = db.session().execute(
        select(Case.grid_code, func.count()).where(Case.first_reported_at >= lo, Case.first_reported_at < hi,
                                                   Case.grid_code.is_not(None), caselist.scope(current_user()))
        .group_by(Case.grid_code)
    ).all()
    return jsonify({"from": start.isoformat(), "to": end.isoformat(), "counts": dict(rows)})


@bp.get("/stats/monthly")
@login_required
def monthly():
    """Cases per month (by first report) with how many were closed and closed on time: the trend chart."""
    month = func.date_trunc("month", func.timezone("Asia/Shanghai", Case.first_reported_at))
    rows = db.session().execute(
        select(month, func.count(), func.count(Case.closed_at),
               func.sum(cast(Case.closed_on_time, Integer)))
        .where(caselist.scope(current_user())).group_by(month).order_by(month)
    ).all()
    return jsonify(months=[{"month": m.strftime("%Y-%m"), "cases": n, "closed": c, "closed_on_time": int(t or 0)}
                           for m, n, c, t in rows])


@bp.post("/patrols/<int:route_id>/stops/<int:seq>/visited")
@roles_required("patrol", "shift_leader", "dispatcher", "supervisor", "admin")
def stop_visited(route_id: int, seq: int):
    """A patrol officer marks a stop of the route as visited."""
    from app.services import patrol_visits

    return jsonify(db.commit(lambda s: patrol_visits.mark_visited(s, current_user(), route_id, seq)))
