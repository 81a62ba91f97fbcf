"""Cases over the JSON API: the list (paged GeoJSON), one case, actions, dispatch suggestions."""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for

from app.auth import current_user, login_required
from app.db import db
from app.models import Case
from app.services import caselist, cases, workflow
from app.services.errors import InputError
from app.views.errors import json_errors
from app.workflow import machine

bp = Blueprint("cases", __name__, url_prefix="/api/v1")
json_errors(bp)


@bp.errorhandler(machine.ActionRefused)
def _refused(exc: machine.ActionRefused):
    status = 403 if exc.kind == "forbidden" else 422
    return jsonify(error=exc.kind, field=exc.field, message=exc.message), status


@bp.errorhandler(workflow.Forbidden)
def _out_of_scope(exc: workflow.Forbidden):
    return jsonify(error="forbidden", message=str(exc)), 403


@bp.get("/cases")
@login_required
def list_cases():
    """Cases as paged GeoJSON, filtered by state, station, department, category, light, channel, time, bbox."""
    query = caselist.parse_filters(request.args)
    page = caselist.find(db.session(), query, current_user())
    body = page.as_geojson()
    if page.next_offset is not None:
        args = dict(request.args, offset=page.next_offset)
        body["links"] = [{"rel": "next", "type": "application/geo+json",
                          "href": url_for("cases.list_cases", _external=True, **args)}]
    return jsonify(body)


@bp.get("/cases/<int:case_id>")
@login_required
def get_case(case_id: int):
    """A case with its reports, owners, state, version, deadline, light, history and the caller's actions."""
    session = db.session()
    case = session.get(Case, case_id)
    user = current_user()
    if case is not None:
        workflow.check_visible(user, case)
    body = cases.case_detail(session, case_id)
    body["actions"] = machine.allowed(workflow.view(case), user.role)
    if case.state == "filed":
        body["suggested_owner"] = workflow.suggest_owner(session, case, workflow.first_channel(session, case))
    return jsonify(body)


@bp.post("/cases/<int:case_id>/actions")
@login_required
def case_action(case_id: int):
    """Take an action: {"action": ..., "version": n, ...fields}; 200 with the case, 409 when stale."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise InputError("body", 'send a JSON object: {"action": ..., "version": n, ...}', 400, error="invalid_body")
    action = payload.get("action")
    if not isinstance(action, str):
        raise InputError("action", "action is missing", 400, error="missing_field")
    fields = {k: v for k, v in payload.items() if k not in ("action", "version")}
    db.commit(lambda s: workflow.act(s, current_user(), case_id, action, payload.get("version"), fields))
    session = db.session()
    body = cases.case_detail(session, case_id)
    case = session.get(Case, case_id)
    body["actions"] = machine.allowed(workflow.view(case), current_user().role)
    return jsonify(body)
