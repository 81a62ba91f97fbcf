"""JSON API, version 1 (bearer token or a signed-in session)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from app.auth import current_user, login_required
from app.db import db
from app.services import params
from app.services.errors import InputError
from app.views.errors import json_errors
from gis import crs as gcrs
from gis.points import check_point
from layers import features

bp = Blueprint("api", __name__, url_prefix="/api/v1")


json_errors(bp)


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
    version = request.args.get("version")
    if version is not None:
        if name != "station_coverage" or not version.isdigit():
            raise InputError("version", "version applies to station_coverage and is a boundary version id", 400)
        return jsonify(features.coverage_layer(db.session(), int(version)))
    try:
        return jsonify(features.layer(db.session(), name))
    except features.UnknownLayer:
        return jsonify(error="unknown_layer", message=f"no layer {name!r}", layers=sorted(features.LAYERS)), 404


@bp.get("/locate")
@login_required
def locate():
    """Owners of a point given in WGS84, CGCS2000, GCJ-02 or BD-09."""
    crs = _input_crs(request.args.get("crs"))
    lon, lat = check_point(request.args.get("lon"), request.args.get("lat"))
    wlon, wlat = gcrs.to_wgs84(lon, lat, crs)
    owners = current_app.extensions["ownership"].get(db.session()).owner_at(wlon, wlat)
    return jsonify(
        input={"lon": lon, "lat": lat, "crs": crs},
        point={"lon": round(wlon, 7), "lat": round(wlat, 7), "srid": gcrs.STORAGE_EPSG},
        **owners.as_dict(),
    )


def _input_crs(raw: str | None) -> str:
    try:
        return gcrs.input_crs_name(raw or "wgs84")
    except gcrs.UnknownCRS as exc:
        raise InputError("crs", str(exc), 400, error="invalid_crs") from None


def _owners_of(lon: float, lat: float) -> dict:
    return current_app.extensions["ownership"].get(db.session()).owner_at(lon, lat).as_dict()


@bp.get("/geocode")
@login_required
def geocode():
    """Candidates for an address, compound or place, best first, each with its owners."""
    q = (request.args.get("q") or "").strip()
    if not q:
        raise InputError("q", "q is missing: give an address, e.g. ?q=环湖西二路88号", 400, error="missing_field")
    if len(q) > 200:
        raise InputError("q", f"q is {len(q)} characters long; at most 200 are allowed")
    limit = params.whole(request.args, "limit", 5, 1, 20)
    candidates = current_app.extensions["geocoder"].get(db.session()).geocode(q, limit=limit)
    return jsonify(
        query=q,
        candidates=[
            {"address": c.address, "name": c.name, "lon": c.lon, "lat": c.lat, "score": c.score, "kind": c.kind,
             "address_id": c.address_id, "owners": _owners_of(c.lon, c.lat)}
            for c in candidates
        ],
    )


@bp.get("/reverse")
@login_required
def reverse():
    """The nearest address to a point (within `radius` metres), its grid cell and owners: for map clicks."""
    crs = _input_crs(request.args.get("crs"))
    lon, lat = check_point(request.args.get("lon"), request.args.get("lat"))
    radius = params.whole(request.args, "radius", 200, 1, 2000)
    wlon, wlat = gcrs.to_wgs84(lon, lat, crs)
    found = current_app.extensions["geocoder"].get(db.session()).reverse(wlon, wlat, max_distance_m=radius)
    address = None
    if found is not None:
        address = {"address": found.address, "name": found.name, "lon": found.lon, "lat": found.lat,
                   "distance_m": found.distance_m, "address_id": found.address_id}
    return jsonify(
        point={"lon": round(wlon, 7), "lat": round(wlat, 7), "srid": gcrs.STORAGE_EPSG},
        address=address,
        **_owners_of(wlon, wlat),
    )
