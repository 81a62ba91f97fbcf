"""File exchange over the API: GET /api/v1/exports and /api/v1/exports/<layer>.<gpkg|shp|geojson|csv|gpx>."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, Response, jsonify, request, url_for

from app.auth import current_user, login_required
from app.db import db
from app.services import exports, ogc
from app.services.errors import NotFound
from app.views.errors import json_errors

bp = Blueprint("exports", __name__, url_prefix="/api/v1")
json_errors(bp)

EXPORT_MAX = 1_000_000  # features per file unless `limit` asks for fewer


@bp.get("/exports")
@login_required
def index():
    """The layers and the formats each can be exported in."""
    listed = []
    for layer in exports.layers():
        geometry = ogc.get(layer).geometry
        formats = [f for f in exports.FORMATS if f not in exports.LINE_FORMATS or "LineString" in geometry]
        listed.append({"layer": layer, "geometry": geometry, "formats": {
            f: url_for("exports.export", layer=layer, fmt=f, _external=True) for f in formats}})
    return jsonify(layers=listed)


@bp.get("/exports/<layer>.<fmt>")
@login_required
def export(layer: str, fmt: str):
    """A layer as a file: the caller's view of the OGC collection, with its bbox, datetime and version filters."""
    collection = ogc.get(layer)
    if collection is None:
        raise NotFound("layer", layer)
    q = ogc.parse_items_query(request.args, current_user(), collection)
    if "limit" not in request.args:
        q = replace(q, limit=EXPORT_MAX)
    done = exports.export(db.session(), layer, fmt, q)
    response = Response(done.data, mimetype=done.mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{done.filename}"'
    response.headers["X-Feature-Count"] = str(done.count)
    return response
