"""JSON API, version 1 (bearer token or a signed-in session)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from app.auth import current_user, login_required
from app.db import db
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
