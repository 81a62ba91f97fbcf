"""Siting the X stations over the JSON API: proposed sites, proposed territories as drafts, the drafts."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from app.auth import current_user, roles_required
from app.db import db
from app.services import siting
from app.views.errors import json_errors
from app.views.routing import _unreachable
from routing.network import Unreachable

bp = Blueprint("siting", __name__, url_prefix="/api/v1/planning")
json_errors(bp)
bp.register_error_handler(Unreachable, _unreachable)
PLANNERS = ("planner", "admin")
READERS = ("planner", "admin", "leader")


@bp.post("/sites")
@roles_required(*PLANNERS)
def sites():
    """k new station sites by MCLP or p-median, with coverage before and after (nothing is stored)."""
    return jsonify(siting.propose_sites(db.session(), request.get_json(silent=True)))


@bp.post("/territories")
@roles_required(*PLANNERS)
def territories():
    """Territories for the existing and new stations, stored as a draft boundary version (201)."""
    draft = db.commit(lambda s: siting.propose_territories(s, current_user().username, request.get_json(silent=True)))
    body = siting.draft_json(draft)
    body["links"] = {"self": f"/api/v1/planning/drafts/{draft.id}"}
    return jsonify(body), 201


@bp.get("/drafts")
@roles_required(*READERS)
def drafts():
    """The drafts, newest first (without their proposals): ?status=draft|saved|discarded."""
    return jsonify(drafts=siting.list_drafts(db.session(), request.args.get("status")))


@bp.get("/drafts/<int:draft_id>")
@roles_required(*READERS)
def draft(draft_id: int):
    """One draft with its proposal, for the planner console to open."""
    return jsonify(siting.draft_json(siting.get_draft(db.session(), draft_id)))


@bp.put("/drafts/<int:draft_id>")
@roles_required(*PLANNERS)
def draft_update(draft_id: int):
    """The planner's edits: {proposal?, title?, status?, saved_version_id?} (audited)."""
    d = db.commit(lambda s: siting.update_draft(s, current_user().username, draft_id, request.get_json(silent=True)))
    return jsonify(siting.draft_json(d))
