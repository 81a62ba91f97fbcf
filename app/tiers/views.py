"""The tiers' pages and API: the station chief's queue (`/station`, assign, take back, return to the center),
the workstation's page (`/workstation`, file a self-handled case with photos of the result; both pages' forms
are sent by app/static/tiers.js to the JSON API) and evaluators'
reviews of closed cases (`/api/v1/cases/<id>/reviews`)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf

from app import inputs, schemas
from app.accounts.auth import current_user, login_required, roles_required
from app.cases import intake, media, reading, reference
from app.db import db
from app.errors import InputError
from app.tiers import people, services

bp = Blueprint("tiers", __name__)


def _page_context() -> dict:
    """What tiers.js needs: the language, the CSRF token and the fallback error text."""
    return {"lang": "en" if str(_("Cases")) == "Cases" else "zh", "csrf": generate_csrf(),
            "strings": {"error": str(_("Something went wrong"))}}


@bp.get("/station")
@roles_required("station_chief")
def station_page():
    """The station chief's queue: the station's cases, who has each, the deadline, assign / take back / return."""
    data = services.station_queue(db.session(), current_user())
    return render_template("station.html", data=data, notice=request.args.get("done"), context=_page_context())


@bp.get("/api/v1/station/queue")
@roles_required("station_chief")
def station_queue():
    """The station chief's queue as JSON: cases with assignee, deadline, light and actions, and the team."""
    return jsonify(services.station_queue(db.session(), current_user()))


@bp.get("/workstation")
@roles_required("workstation")
def workstation_page():
    """The workstation's page: its cases (?self_handled=1 for its own fixes) and the self-handled filing form."""
    only = {"1": True, "0": False}.get(request.args.get("self_handled", ""))
    data = services.workstation_cases(db.session(), current_user(), only)
    return render_template("workstation.html", data=data, only=only, categories=reference.categories(db.session()),
                           notice=request.args.get("done"), context=_page_context())


def _self_handled_input() -> tuple[intake.ReportInput, list[intake.Upload], list[intake.Upload], str]:
    """The report (a `report` JSON field or the page's fields), before and after photos and the note."""
    form = request.form
    schemas.check_pairs("form", form)
    raw = form.get("report")
    if raw is not None:
        payload = schemas.body("ReportInput", schemas.parse_json(raw))
    else:
        payload = {"channel": "workstation", "category": form.get("category", ""),
                   "description": form.get("description", ""), "address": form.get("address") or None}
        for key in ("lon", "lat"):
            if form.get(key):
                try:
                    payload[key] = float(form[key])
                except ValueError:
                    raise InputError(key, f"{key} must be a number", 400) from None
        payload = {k: v for k, v in payload.items() if v is not None}
    settings = intake.IntakeSettings.from_config(current_app.config)
    inp = intake.parse_report(payload, max_age_days=settings.max_age_days)
    limit = current_app.config["MAX_ATTACHMENT_BYTES"]
    before = [intake.check_upload(f.filename, f.read(), limit) for f in request.files.getlist("photos") if f.filename]
    after = [intake.check_upload(f.filename, f.read(), limit) for f in request.files.getlist("after") if f.filename]
    before += media.clips(request.files, current_app.config.get("MAX_CLIP_BYTES", media.MAX_CLIP_BYTES))
    return inp, before, after, form.get("note", "")


def _file_self_handled() -> int:
    if request.mimetype != "multipart/form-data":
        raise InputError("body", "send multipart/form-data: the report, a note and the photos of the result "
                         "(after)", 400, error="invalid_body")
    inp, before, after, note = _self_handled_input()
    settings = intake.IntakeSettings.from_config(current_app.config)
    case = db.write(lambda s: services.file_self_handled(s, settings, current_user(), inp, before, after, note))
    return case.id


@bp.post("/api/v1/workstation/self-handled")
@roles_required("workstation")
def self_handled():
    """File a self-handled case (multipart: `report` JSON, `note`, `after` photo files, optional `photos` of the
    problem): 201 with the case, closed at the workstation."""
    case_id = _file_self_handled()
    return jsonify(reading.case_view(db.session(), current_user(), case_id)), 201


@bp.get("/api/v1/workstation/cases")
@roles_required("workstation")
def workstation_cases():
    """The workstation's cases as JSON (?self_handled=1|0)."""
    only = {"1": True, "0": False}.get(request.args.get("self_handled", ""))
    return jsonify(services.workstation_cases(db.session(), current_user(), only))


@bp.get("/evaluator")
@roles_required("evaluator")
def evaluator_page():
    """The outside evaluator's page: recently closed cases, each with a rating (1-5) and review form."""
    return render_template("evaluator.html", cases=services.closed_for_review(db.session(), current_user()),
                           notice=request.args.get("done"), context=_page_context())


@bp.post("/api/v1/cases/<int:case_id>/reviews")
@roles_required("evaluator")
def add_review(case_id: int):
    """An evaluator's rating (1-5) and review of a closed case: {"rating": n, "review": "..."}."""
    payload = inputs.json_body("ReviewInput")
    body = db.write(lambda s: services.review(s, current_user(), case_id, payload.get("rating"),
                                              payload.get("review")))
    return jsonify(body), 201


@bp.get("/api/v1/cases/<int:case_id>/reviews")
@login_required
def list_reviews(case_id: int):
    """The evaluators' reviews of a case the caller may see, with their mean."""
    return jsonify(services.reviews_for(db.session(), current_user(), case_id))


PEOPLE_READERS = ("admin", "shift_leader", "dispatcher", "supervisor", "leader", "station_chief")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/api/v1/people")
@roles_required(*PEOPLE_READERS)
def list_people():
    """The staff registry of the station teams (?station=CODE: one team)."""
    return jsonify(people=people.listing(db.session(), request.args.get("station")))


@bp.get("/api/v1/people.xlsx")
@roles_required(*PEOPLE_READERS)
def export_people():
    """The staff registry as XLSX (Chinese headers; the sheet an import takes back)."""
    body = people.to_xlsx(people.listing(db.session(), request.args.get("station")))
    return Response(body, mimetype=XLSX, headers={"Content-Disposition": "attachment; filename=people.xlsx"})


@bp.post("/api/v1/people.xlsx")
@roles_required("admin")
def import_people():
    """Import the registry from XLSX (the body, or a multipart `file`): all rows or none; 422 lists the bad cells
    by row and column."""
    upload = request.files.get("file")
    data = upload.read() if upload is not None else request.get_data()
    return jsonify(db.write(lambda s: people.import_xlsx(s, data, current_user().username)))
