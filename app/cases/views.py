"""Reports and cases over the JSON API: intake, reading, lists and the map's viewport, actions,
splitting, attachments, supervision orders and lists, dispatch rules, workflow settings, channels and
categories."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from app import inputs, params, schemas
from app.accounts.auth import current_user, login_required, roles_required
from app.cases import intake, media, reading, reference, rules, supervision, workflow
from app.cases.intake import REPORTERS, SPLITTERS
from app.cases.supervision import SUPERVISORS
from app.db import db
from app.errors import InputError

bp = Blueprint("cases", __name__, url_prefix="/api/v1")

RULE_EDITORS = ("admin", "shift_leader")
PHOTO_FIELDS = ("photos", "photo", "attachments")


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------


def _report_body() -> tuple[dict, list[intake.Upload]]:
    """The report (JSON, or multipart with a `report` JSON field and photo files) and its uploads."""
    if request.mimetype == "multipart/form-data":
        raw = request.form.get("report")
        if raw is None:
            raise InputError("report", "a multipart report needs a `report` field holding the JSON", 400,
                             error="invalid_body")
        uploads = [
            intake.check_upload(f.filename, f.read(), current_app.config["MAX_ATTACHMENT_BYTES"])
            for name in PHOTO_FIELDS for f in request.files.getlist(name)
        ] + media.clips(request.files, current_app.config.get("MAX_CLIP_BYTES", media.MAX_CLIP_BYTES))
    else:
        if request.mimetype != "application/json":
            raise InputError("body", f"send JSON (Content-Type: application/json), not {request.mimetype or 'nothing'}",
                             400, error="invalid_body")
        raw, uploads = request.get_data(), []
    return schemas.body("ReportInput", schemas.parse_json(raw)), uploads


@bp.post("/reports")
@roles_required(*REPORTERS)
def create_report():
    """File a report: 201 with its case and owners; a replayed Idempotency-Key answers the same report."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key.strip()) <= 200:
        raise InputError("Idempotency-Key", "Idempotency-Key must be 1 to 200 characters", 400)
    if key is not None:
        schemas.clean_string("Idempotency-Key", key)
    payload, uploads = _report_body()
    settings = intake.IntakeSettings.from_config(current_app.config)
    inp = intake.parse_report(payload, max_age_days=settings.max_age_days)
    if len(uploads) + len(inp.attachment_urls) > intake.MAX_ATTACHMENTS:
        raise InputError("photos", f"at most {intake.MAX_ATTACHMENTS} attachments per report")
    done = db.write(lambda s: intake.submit_report(s, settings, current_user(), inp, uploads, key and key.strip()))
    response = jsonify(dict(done.answer, replayed=not done.created))
    response.status_code = 201 if done.created else 200
    response.headers["Location"] = url_for("cases.get_report", report_id=done.report.id)
    if not done.created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/reports/<int:report_id>")
@login_required
def get_report(report_id: int):
    """One report with its attachments."""
    return jsonify(reading.report_view(db.session(), current_user(), report_id))


@bp.post("/reports/<int:report_id>/split")
@roles_required(*SPLITTERS)
def split_report(report_id: int):
    """Take a report out of its case into a new one (it was merged by mistake)."""
    payload = inputs.json_body("Split", optional=True)
    expected, reason = payload.get("case_version"), payload.get("reason")
    settings = intake.IntakeSettings.from_config(current_app.config)
    new = db.write(lambda s: intake.split_report(s, settings, current_user(), report_id, expected, reason))
    return jsonify(case_id=new.id, report_id=report_id, split_from=new.split_from_id,
                   station=new.station_code, grid_code=new.grid_code), 201


@bp.get("/attachments/<int:attachment_id>")
@login_required
def get_attachment(attachment_id: int):
    """The bytes of an uploaded photo (URL attachments redirect nowhere: their URL is in the report)."""
    a = reading.attachment(db.session(), current_user(), attachment_id)
    response = Response(a.data, mimetype=a.content_type)
    response.make_conditional(request, accept_ranges=True, complete_length=len(a.data))  # a video seeks by ranges
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@bp.get("/channels")
@login_required
def channels():
    """The channels reports arrive through."""
    return jsonify(channels=reference.channels(db.session()))


@bp.get("/categories")
@login_required
def categories():
    """The case categories (部件 components and 事件 matters)."""
    return jsonify(categories=reference.categories(db.session()))


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------


@bp.get("/cases")
@login_required
def list_cases():
    """Cases as paged GeoJSON, filtered by state, station, department, category, light, channel, time, bbox,
    searched by ?q= (case number, address, phone, text), sorted by ?sort=, ?mine=1 for the caller's own; the
    next page by the cursor of links.next (or by ?offset= when the caller pages by offset)."""
    query = reading.parse_filters(request.args)
    page = reading.find(db.session(), query, current_user())
    body = page.as_geojson()
    args = {k: v for k, v in request.args.items() if k not in ("cursor", "offset")}
    if page.next_offset is not None and "offset" in request.args:
        args["offset"] = str(page.next_offset)
    elif page.next_cursor is not None:
        args["cursor"] = page.next_cursor
        body["next_cursor"] = page.next_cursor
    else:
        args = {}
    if args.get("offset") or args.get("cursor"):
        body["links"] = [{"rel": "next", "type": "application/geo+json",
                          "href": url_for("cases.list_cases", _external=True, **args)}]
    return jsonify(body)


@bp.get("/cases/map")
@login_required
def cases_map():
    """Cases in the viewport (?bbox=&zoom= and the /cases filters): points, or counts per cell when many."""
    q = reading.parse_filters(request.args)
    if q.bbox is None:
        raise InputError("bbox", "bbox is required: minlon,minlat,maxlon,maxlat", 400)
    zoom = params.whole(request.args, "zoom", 14, 0, 30)
    return jsonify(reading.map_view(db.session(), q, current_user(), zoom))


@bp.get("/cases/<int:case_id>")
@login_required
def get_case(case_id: int):
    """A case with its reports, owners, state, version, deadline, light, history and the caller's actions."""
    return jsonify(reading.case_view(db.session(), current_user(), case_id))


@bp.post("/cases/<int:case_id>/actions")
@login_required
def case_action(case_id: int):
    """Take an action: {"action": ..., "version": n, ...fields}; 200 with the case, 409 when stale."""
    payload = inputs.json_body("Action")
    action = payload["action"]
    fields = {k: v for k, v in payload.items() if k not in ("action", "version")}
    db.write(lambda s: workflow.act(s, current_user(), case_id, action, payload.get("version"), fields))
    return jsonify(reading.case_view(db.session(), current_user(), case_id, check_scope=False))


@bp.post("/cases/actions")
@login_required
def bulk_action():
    """One action on many cases: {"items": [{"id", "version"}...] (at most 200), "action", ...fields}; 200 with a
    result per case (done with its new version, 409 stale, 422 not allowed from its state, 404 not in scope)."""
    payload = inputs.json_body("BulkAction")
    fields = {k: v for k, v in payload.items() if k not in ("action", "items") and v is not None}
    return jsonify(workflow.act_each(db.write, current_user(), payload["items"], payload["action"], fields))


# --------------------------------------------------------------------------------------------
# Supervision
# --------------------------------------------------------------------------------------------


@bp.get("/supervision/lists")
@login_required
def supervision_lists():
    """Near-due (yellow) and overdue (red) open cases, as GeoJSON."""
    return jsonify(supervision.lists(db.session(), current_user()))


@bp.get("/supervision")
@login_required
def list_orders():
    """Supervision orders, newest first (?state=open|answered|closed, ?case=ID)."""
    case_id = params.whole(request.args, "case", 0, 0, 2**63 - 1) if request.args.get("case") else None
    return jsonify(orders=supervision.listing(db.session(), current_user(), request.args.get("state"), case_id))


@bp.get("/supervision/<int:order_id>")
@login_required
def get_order(order_id: int):
    """One order with its history."""
    return jsonify(supervision.order_detail(db.session(), current_user(), order_id))


@bp.post("/cases/<int:case_id>/supervision")
@roles_required(*SUPERVISORS)
def create_order(case_id: int):
    """Open a supervision order: {"method": phone|written|on_site|meeting|interview, "reason": ..., "due_at"?}."""
    payload = inputs.json_body("OrderInput")
    due_at = params.instant("due_at", payload["due_at"]) if payload.get("due_at") else None
    order = db.write(lambda s: supervision.open_order(s, current_user(), case_id, payload.get("method"),
                                                     payload.get("reason"), due_at))
    return jsonify(supervision.order_detail(db.session(), current_user(), order.id)), 201


@bp.post("/supervision/<int:order_id>/actions")
@login_required
def order_action(order_id: int):
    """{"action": "answer"|"remind"|"close", "note": ...}: owners answer, supervisors remind and close."""
    payload = inputs.json_body("OrderAction")
    db.write(lambda s: supervision.order_action(s, current_user(), order_id, payload.get("action"),
                                                 payload.get("note")))
    return jsonify(supervision.order_detail(db.session(), current_user(), order_id))


# --------------------------------------------------------------------------------------------
# Dispatch rules and settings
# --------------------------------------------------------------------------------------------


@bp.get("/dispatch-rules")
@login_required
def list_rules():
    """The classified-dispatch rules, in the order they are tried."""
    return jsonify(rules=rules.listing(db.session()))


@bp.post("/dispatch-rules")
@roles_required(*RULE_EDITORS)
def create_rule():
    """Add a rule (audited)."""
    payload = inputs.json_body("RuleInput")
    rule = db.write(lambda s: rules.save(s, current_user().username, None, payload))
    return jsonify(rules.summary(rule)), 201


@bp.put("/dispatch-rules/<int:rule_id>")
@roles_required(*RULE_EDITORS)
def update_rule(rule_id: int):
    """Change a rule (audited, before and after)."""
    payload = inputs.json_body("RuleInput")
    rule = db.write(lambda s: rules.save(s, current_user().username, rule_id, payload))
    return jsonify(rules.summary(rule))


@bp.get("/settings")
@login_required
def list_settings():
    """The workflow settings."""
    return jsonify(settings=rules.settings(db.session()))


@bp.put("/settings/<key>")
@roles_required("admin")
def update_setting(key: str):
    """Change one setting: {"value": ...} (checked, audited)."""
    payload = inputs.json_body("SettingInput")
    db.write(lambda s: rules.set_setting(s, current_user().username, key, payload["value"]))
    return jsonify(key=key, value=payload["value"])
