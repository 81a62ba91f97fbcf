"""JSON API, version 1 (bearer token or a signed-in session)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from app.auth import current_user, login_required
from app.db import db
from app.services.ownership import NoBoundaries
from gis import crs as gcrs
from gis.points import PointError, check_point
from layers import features

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.errorhandler(404)
def _not_found(_exc):
    return jsonify(error="not_found", message="no such resource"), 404


@bp.errorhandler(405)
def _method(_exc):
    return jsonify(error="method_not_allowed", message="method not allowed here"), 405


@bp.get("/me")
@login_required
def me():
    """Who the caller is."""
    user = current_user()
    return jsonify(
        username=user.username, display_name=user.display_name, role=user.role,
        department=user.department_code, station=user.station_code,
    )


@bp.get("/layers/<name>")
@login_required
def layer(name: str):
    """A boundary layer as GeoJSON."""
    try:
        return jsonify(features.layer(db.session(), name))
    except features.UnknownLayer:
        return jsonify(error="unknown_layer", message=f"no layer {name!r}", layers=sorted(features.LAYERS)), 404


@bp.errorhandler(PointError)
def _bad_point(exc: PointError):
    return jsonify(error="invalid_coordinates", field=exc.field, message=exc.message), exc.status


@bp.errorhandler(NoBoundaries)
def _no_boundaries(exc: NoBoundaries):
    return jsonify(error="no_boundaries", message=str(exc)), 409


@bp.get("/locate")
@login_required
def locate():
    """Owners of a point given in WGS84, CGCS2000, GCJ-02 or BD-09."""
    crs = request.args.get("crs", "wgs84")
    try:
        crs = gcrs.input_crs_name(crs)
    except gcrs.UnknownCRS as exc:
        return jsonify(error="invalid_crs", field="crs", message=str(exc)), 400
    lon, lat = check_point(request.args.get("lon"), request.args.get("lat"))
    wlon, wlat = gcrs.to_wgs84(lon, lat, crs)
    owners = current_app.extensions["ownership"].get(db.session()).owner_at(wlon, wlat)
    return jsonify(
        input={"lon": lon, "lat": lat, "crs": crs},
        point={"lon": round(wlon, 7), "lat": round(wlat, 7), "srid": gcrs.STORAGE_EPSG},
        **owners.as_dict(),
    )
