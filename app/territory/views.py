"""The territory over the JSON API: boundary layers, who owns a point (locate, geocode, reverse),
coordinate conversion, the offline basemap, boundary versions, the planners' coverage proposals, and
siting new stations with their territories as drafts."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from app import inputs, params
from app.accounts.auth import current_user, login_required, roles_required
from app.db import db
from app.errors import InputError
from app.territory import boundaries, diff, features, locating, planning, siting

bp = Blueprint("territory", __name__, url_prefix="/api/v1")
PLANNERS = ("planner", "admin")
READERS = ("planner", "admin", "leader")


@bp.get("/layers/<name>")
@login_required
def layer(name: str):
    """A boundary layer as GeoJSON (?version=N for a past station coverage; ?precision=6..9 decimals, 6 by
    default: the planner edits coverage at 9, which keeps carving's centimetre vertices apart)."""
    version = None
    if request.args.get("version") is not None:
        if name != "station_coverage":
            raise InputError("version", "version applies to station_coverage and is a boundary version id", 400)
        version = params.whole(request.args, "version", 0, 1, boundaries.MAX_VERSION_ID)
    precision = params.whole(request.args, "precision", 6, 6, 9)
    return jsonify(features.layer(db.session(), name, version, precision))


@bp.get("/locate")
@login_required
def locate():
    """Owners of a point given in WGS84, CGCS2000, GCJ-02 or BD-09."""
    crs = locating.input_crs(request.args.get("crs"))
    return jsonify(locating.locate(db.session(), request.args.get("lon"), request.args.get("lat"), crs))


@bp.get("/geocode")
@login_required
def geocode():
    """Candidates for an address, compound or place, best first, each with its owners."""
    limit = params.whole(request.args, "limit", 5, 1, 20)
    return jsonify(locating.geocode(db.session(), request.args.get("q"), limit))


@bp.get("/reverse")
@login_required
def reverse():
    """The nearest address to a point (within `radius` metres), its grid cell and owners: for map clicks."""
    crs = locating.input_crs(request.args.get("crs"))
    radius = params.whole(request.args, "radius", 200, 1, 2000)
    return jsonify(locating.reverse(db.session(), request.args.get("lon"), request.args.get("lat"), crs, radius))


@bp.get("/convert")
@login_required
def convert():
    """A point from one CRS to another (wgs84, cgcs2000, gcj02, bd09), for copying coordinates."""
    src = locating.input_crs(request.args.get("from", "wgs84"))
    dst = locating.input_crs(request.args.get("to", "gcj02"))
    return jsonify(locating.convert(request.args.get("lon"), request.args.get("lat"), src, dst))


@bp.get("/basemap/<name>")
@login_required
def basemap(name: str):
    """Offline basemap layers drawn from our own data: water and named places."""
    if name == "water":
        return current_app.response_class(locating.water_geojson(), mimetype="application/geo+json")
    if name == "places":
        return jsonify(locating.places(db.session()))
    raise InputError("name", "basemap layers: water, places", 404, error="not_found")


@bp.get("/boundaries/versions")
@login_required
def versions():
    """Every boundary version, newest first."""
    return jsonify(versions=boundaries.versions(db.session()))


@bp.get("/boundaries/versions/<int:old>/diff/<int:new>")
@roles_required(*READERS)
def version_diff(old: int, new: int):
    """Grid cells and open cases that change station from version `old` to version `new`, per pair."""
    return jsonify(diff.diff(db.session(), old, new))


@bp.get("/planning/cells")
@roles_required(*READERS)
def planning_cells():
    """The current grid cells with the station holding each, for painting territories by cells."""
    return jsonify(diff.current_cells(db.session()))


@bp.post("/planning/coverage/preview")
@roles_required(*PLANNERS)
def coverage_preview():
    """Validation and impact of a coverage proposal; nothing is written."""
    return jsonify(planning.check(db.session(), inputs.json_body("Proposal")))


@bp.post("/planning/coverage")
@roles_required(*PLANNERS)
def coverage_save():
    """Save a proposal as a new boundary version (reason required; reassign move|keep)."""
    payload = inputs.json_body("Proposal")
    return jsonify(db.write(lambda s: planning.save(s, current_user().username, payload))), 201


@bp.post("/planning/versions/<int:version_id>/restore")
@roles_required(*PLANNERS)
def restore_version(version_id: int):
    """A new boundary version with the station coverage of version `version_id` (roll back a bad edit)."""
    payload = inputs.json_body("RestoreInput")
    return jsonify(db.write(lambda s: planning.restore(s, current_user().username, version_id, payload))), 201


@bp.post("/planning/sites")
@roles_required(*PLANNERS)
def sites():
    """k new station sites by MCLP or p-median, with coverage before and after (nothing is stored)."""
    return jsonify(siting.propose_sites(db.session(), inputs.json_body("SitesInput")))


@bp.post("/planning/territories")
@roles_required(*PLANNERS)
def territories():
    """Territories for the existing and new stations, stored as a draft boundary version (201)."""
    payload = inputs.json_body("TerritoriesInput")
    return _created(db.write(lambda s: siting.propose_territories(s, current_user().username, payload)))


@bp.post("/planning/drafts")
@roles_required(*PLANNERS)
def draft_create():
    """Keep the planner's proposal as a draft without publishing it (201): {title, proposal}."""
    payload = inputs.json_body("DraftCreate")
    return _created(db.write(lambda s: planning.create_draft(s, current_user().username, payload)))


def _created(draft):
    """201 with a new draft and the link to it."""
    return jsonify({**siting.draft_json(draft), "links": {"self": f"/api/v1/planning/drafts/{draft.id}"}}), 201


@bp.get("/planning/drafts")
@roles_required(*READERS)
def drafts():
    """The drafts, newest first (without their proposals): ?status=draft|saved|discarded."""
    return jsonify(drafts=siting.list_drafts(db.session(), request.args.get("status")))


@bp.get("/planning/drafts/<int:draft_id>")
@roles_required(*READERS)
def draft(draft_id: int):
    """One draft with its proposal, for the planner console to open."""
    return jsonify(siting.draft_json(siting.get_draft(db.session(), draft_id)))


@bp.put("/planning/drafts/<int:draft_id>")
@roles_required(*PLANNERS)
def draft_update(draft_id: int):
    """The planner's edits: {proposal?, title?, status?, saved_version_id?} (audited)."""
    payload = inputs.json_body("DraftInput")
    d = db.write(lambda s: siting.update_draft(s, current_user().username, draft_id, payload))
    return jsonify(siting.draft_json(d))
