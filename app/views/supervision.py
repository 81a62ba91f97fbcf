"""Supervision (督办) lists and orders, dispatch rules and workflow settings over the JSON API."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from app.auth import current_user, login_required, roles_required
from app.db import db
from app.models import DispatchRule, Setting, SupervisionOrder
from app.services import rules, supervision
from app.services.errors import InputError
from app.views.errors import json_errors

bp = Blueprint("supervision", __name__, url_prefix="/api/v1")
json_errors(bp)

SUPERVISORS = ("supervisor", "leader", "shift_leader")
RULE_EDITORS = ("admin", "shift_leader")


def _json() -> dict:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise InputError("body", "send a JSON object", 400, error="invalid_body")
    return payload


@bp.get("/supervision/lists")
@login_required
def supervision_lists():
    """Near-due (yellow) and overdue (red) open cases, as GeoJSON."""
    return jsonify(supervision.lists(db.session(), current_user()))


@bp.get("/supervision")
@login_required
def list_orders():
    """Supervision orders, newest first (?state=open|answered|closed, ?case=ID)."""
    query = select(SupervisionOrder).order_by(SupervisionOrder.id.desc()).limit(500)
    if request.args.get("state"):
        query = query.where(SupervisionOrder.state == request.args["state"])
    if request.args.get("case"):
        if not request.args["case"].isdigit():
            raise InputError("case", "case must be a case id", 400)
        query = query.where(SupervisionOrder.case_id == int(request.args["case"]))
    return jsonify(orders=[supervision.order_summary(o) for o in db.session().scalars(query)])


@bp.get("/supervision/<int:order_id>")
@login_required
def get_order(order_id: int):
    """One order with its history."""
    return jsonify(supervision.order_detail(db.session(), order_id))


@bp.post("/cases/<int:case_id>/supervision")
@roles_required(*SUPERVISORS)
def create_order(case_id: int):
    """Open a supervision order: {"method": phone|written|on_site|meeting|interview, "reason": ..., "due_at"?}."""
    payload = _json()
    due = payload.get("due_at")
    try:
        due_at = datetime.fromisoformat(due) if due else None
    except (TypeError, ValueError):
        raise InputError("due_at", "due_at must be an ISO 8601 time", 400) from None
    order = db.commit(lambda s: supervision.open_order(s, current_user(), case_id, payload.get("method"),
                                                     payload.get("reason"), due_at))
    return jsonify(supervision.order_detail(db.session(), order.id)), 201


@bp.post("/supervision/<int:order_id>/actions")
@login_required
def order_action(order_id: int):
    """{"action": "answer"|"remind"|"close", "note": ...}: owners answer, supervisors remind and close."""
    payload = _json()
    action = payload.get("action")
    if action in ("remind", "close") and current_user().role not in SUPERVISORS:
        return jsonify(error="forbidden", message=f"role {current_user().role} may not {action} an order"), 403
    if action == "answer" and current_user().role not in ("handler", "patrol", "dispatcher", *SUPERVISORS):
        return jsonify(error="forbidden", message=f"role {current_user().role} may not answer an order"), 403
    db.commit(lambda s: supervision.order_action(s, current_user(), order_id, action, payload.get("note")))
    return jsonify(supervision.order_detail(db.session(), order_id))


@bp.get("/dispatch-rules")
@login_required
def list_rules():
    """The classified-dispatch rules, in the order they are tried."""
    found = db.session().scalars(select(DispatchRule).order_by(DispatchRule.priority, DispatchRule.id))
    return jsonify(rules=[rules.summary(r) for r in found])


@bp.post("/dispatch-rules")
@roles_required(*RULE_EDITORS)
def create_rule():
    """Add a rule (audited)."""
    rule = db.commit(lambda s: rules.save(s, current_user().username, None, _json()))
    return jsonify(rules.summary(rule)), 201


@bp.put("/dispatch-rules/<int:rule_id>")
@roles_required(*RULE_EDITORS)
def update_rule(rule_id: int):
    """Change a rule (audited, before and after)."""
    rule = db.commit(lambda s: rules.save(s, current_user().username, rule_id, _json()))
    return jsonify(rules.summary(rule))


@bp.get("/settings")
@login_required
def list_settings():
    """The workflow settings."""
    return jsonify(settings={s.key: s.value for s in db.session().scalars(select(Setting).order_by(Setting.key))})


@bp.put("/settings/<key>")
@roles_required("admin")
def update_setting(key: str):
    """Change one setting: {"value": ...} (checked, audited)."""
    payload = _json()
    if "value" not in payload:
        raise InputError("value", "value is missing", 400)
    db.commit(lambda s: rules.set_setting(s, current_user().username, key, payload["value"]))
    return jsonify(key=key, value=payload["value"])
