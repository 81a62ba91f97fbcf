"""Reports and cases over the JSON API: intake, reading, splitting, attachments."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from sqlalchemy import select

from app.auth import current_user, login_required, roles_required
from app.db import db
from app.models import Attachment, Category, Channel, Report
from app.services import cases, intake, workflow
from app.services.errors import InputError, NotFound
from app.views.errors import json_errors

bp = Blueprint("reports", __name__, url_prefix="/api/v1")
json_errors(bp)


@bp.errorhandler(workflow.Forbidden)
def _out_of_scope(exc: workflow.Forbidden):
    return jsonify(error="forbidden", message=str(exc)), 403

REPORTERS = ("intake", "shift_leader", "dispatcher", "patrol", "supervisor", "admin")
SPLITTERS = ("dispatcher", "shift_leader", "admin")
PHOTO_FIELDS = ("photos", "photo", "attachments")


def _settings() -> intake.IntakeSettings:
    return intake.IntakeSettings(
        ownership=current_app.extensions["ownership"], geocoder=current_app.extensions["geocoder"],
        merge_m=current_app.config["MERGE_DISTANCE_M"], merge_hours=current_app.config["MERGE_HOURS"],
    )


def _body() -> tuple[dict, list[intake.Upload]]:
    """The report (JSON, or multipart with a `report` JSON field and photo files) and its uploads."""
    if request.mimetype == "multipart/form-data":
        raw = request.form.get("report")
        if raw is None:
            raise InputError("report", "a multipart report needs a `report` field holding the JSON", 400,
                             error="invalid_body")
        uploads = [
            intake.check_upload(f.filename, f.read(), current_app.config["MAX_ATTACHMENT_BYTES"])
            for name in PHOTO_FIELDS for f in request.files.getlist(name)
        ]
    else:
        if request.mimetype != "application/json":
            raise InputError("body", f"send JSON (Content-Type: application/json), not {request.mimetype or 'nothing'}",
                             400, error="invalid_body")
        raw, uploads = request.get_data(), []
    try:
        return json.loads(raw), uploads
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError("body", f"the body is not valid JSON: {exc}", 400, error="invalid_body") from None


@bp.post("/reports")
@roles_required(*REPORTERS)
def create_report():
    """File a report: 201 with its case and owners; a replayed Idempotency-Key answers the same report."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key.strip()) <= 200:
        raise InputError("Idempotency-Key", "Idempotency-Key must be 1 to 200 characters", 400)
    payload, uploads = _body()
    inp = intake.parse_report(payload)
    if len(uploads) + len(inp.attachment_urls) > intake.MAX_ATTACHMENTS:
        raise InputError("photos", f"at most {intake.MAX_ATTACHMENTS} attachments per report")
    done = db.commit(lambda s: intake.submit_report(s, _settings(), current_user(), inp, uploads, key and key.strip()))
    answer = dict(done.answer, replayed=not done.created)
    response = jsonify(answer)
    response.status_code = 201 if done.created else 200
    response.headers["Location"] = url_for("reports.get_report", report_id=done.report.id)
    if not done.created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/reports/<int:report_id>")
@login_required
def get_report(report_id: int):
    """One report with its attachments."""
    session = db.session()
    report = session.get(Report, report_id)
    if report is not None:
        workflow.check_visible(current_user(), report.case)
    return jsonify(cases.report_detail(session, report_id))


@bp.post("/reports/<int:report_id>/split")
@roles_required(*SPLITTERS)
def split_report(report_id: int):
    """Take a report out of its case into a new one (it was merged by mistake)."""
    payload = request.get_json(silent=True) or {}
    if not isinstance(payload, dict):
        raise InputError("body", "the body must be a JSON object", 400, error="invalid_body")
    expected = payload.get("case_version")
    if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool)):
        raise InputError("case_version", "case_version must be an integer", 400)
    reason = payload.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 1000):
        raise InputError("reason", "reason must be a string of at most 1000 characters", 400)
    new = db.commit(lambda s: intake.split_report(s, _settings(), current_user(), report_id, expected, reason))
    return jsonify(case_id=new.id, report_id=report_id, split_from=new.split_from_id,
                   station=new.station_code, grid_code=new.grid_code), 201


@bp.get("/attachments/<int:attachment_id>")
@login_required
def get_attachment(attachment_id: int):
    """The bytes of an uploaded photo (URL attachments redirect nowhere: their URL is in the report)."""
    session = db.session()
    a = session.get(Attachment, attachment_id)
    if a is None or a.kind != "upload":
        raise NotFound("uploaded attachment", attachment_id)
    workflow.check_visible(current_user(), session.get(Report, a.report_id).case)
    response = Response(a.data, mimetype=a.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@bp.get("/channels")
@login_required
def channels():
    """The channels reports arrive through."""
    rows = db.session().scalars(select(Channel).where(Channel.active.is_(True)).order_by(Channel.code)).all()
    return jsonify(channels=[
        {"code": c.code, "name": c.name, "name_en": c.name_en, "reference_label": c.reference_label} for c in rows
    ])


@bp.get("/categories")
@login_required
def categories():
    """The case categories (部件 components and 事件 matters)."""
    rows = db.session().scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code)).all()
    return jsonify(categories=[
        {"code": c.code, "kind": c.kind, "name": c.name, "name_en": c.name_en, "major": c.major_name,
         "major_en": c.major_name_en, "default_urgency": c.default_urgency, "time_limit": c.time_limit,
         "time_unit": c.time_unit, "department": c.department_code}
        for c in rows
    ])
