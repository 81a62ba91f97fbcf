"""Hot spots and early warning over the JSON API: GET /api/v1/hotspots, /hotspots/emerging, /alerts."""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, jsonify, request

from app.auth import current_user, login_required, roles_required
from app.db import db
from app.services import alerts, hotspots
from app.services.errors import InputError
from app.views.errors import json_errors
from app.workflow.worktime import BEIJING

bp = Blueprint("analysis", __name__, url_prefix="/api/v1")
json_errors(bp)


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "yes")


def _day(name: str = "date") -> date:
    raw = request.args.get(name)
    if not raw:
        return datetime.now(BEIJING).date()
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise InputError(name, f"{name} must be YYYY-MM-DD, got {raw!r}", 400) from None


@bp.get("/hotspots")
@login_required
def hotspot_cells():
    """Gi* hot and cold spots: ?from=&to=&category=&distance=&permutations=&bbox=&all=1."""
    start, end = hotspots.period(request.args.get("from"), request.args.get("to"))
    body = hotspots.hotspots_geojson(
        db.session(), start, end, hotspots.categories(request.args.get("category")),
        hotspots.number(request.args, "distance", hotspots.DEFAULT_DISTANCE_M, 50, 5000),
        hotspots.number(request.args, "permutations", hotspots.DEFAULT_PERMUTATIONS, 0,
                        hotspots.MAX_PERMUTATIONS, int),
        hotspots.bbox(request.args.get("bbox")), _flag("all"),
    )
    return jsonify(body)


@bp.get("/hotspots/emerging")
@login_required
def emerging_cells():
    """Emerging hot spots: ?weeks=&to=&category=&distance=&bbox=&all=1."""
    _, end = hotspots.period(None, request.args.get("to"))
    body = hotspots.emerging_geojson(
        db.session(), end, hotspots.number(request.args, "weeks", 12, 4, 52, int),
        hotspots.categories(request.args.get("category")),
        hotspots.number(request.args, "distance", hotspots.DEFAULT_DISTANCE_M, 50, 5000),
        hotspots.bbox(request.args.get("bbox")), _flag("all"),
    )
    return jsonify(body)


@bp.get("/alerts")
@login_required
def alert_cells():
    """Early-warning alerts of the week ending on ?date= (today), as GeoJSON: &module=a,b&bbox=."""
    only = [m for m in request.args.get("module", "").split(",") if m] or None
    return jsonify(alerts.geojson(db.session(), _day(), hotspots.bbox(request.args.get("bbox")), only))


@bp.get("/alerts/modules")
@login_required
def alert_modules():
    """The early-warning modules and their rules."""
    return jsonify(modules=[alerts.as_dict(m) for m in alerts.modules(db.session())],
                   rules={k: {n: {"low": v[1], "high": v[2], "default": v[3]} for n, v in spec.items()}
                          for k, spec in alerts.PARAMS.items()})


@bp.put("/alerts/modules/<code>")
@roles_required("admin", "supervisor")
def alert_module_update(code: str):
    """Change a module's rule, thresholds, categories or active flag (audited)."""
    session = db.session()
    try:
        body = alerts.update(session, current_user().username, code, request.get_json(silent=True))
        session.commit()
    except Exception:
        session.rollback()
        raise
    return jsonify(body)
