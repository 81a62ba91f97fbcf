"""The duty office and emergency command over HTTP: the roster API and page, incidents and their area summary,
resources, roll-call and the inbox, the situation log and reports (page and PDF). Views parse, call the
services of app/command and render; nothing here writes SQL."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError

from app import inputs, params
from app.accounts.auth import current_user, login_required, roles_required
from app.cases.worktime import BEIJING
from app.command import duty, incidents, notify, reports, resources, summary
from app.db import db

bp = Blueprint("command", __name__)
COMMANDERS = incidents.COMMANDERS
RESOURCE_KEEPERS = ("commander", "admin")

STRINGS = {
    "emergency": _l("Emergency mode"), "back": _l("Back to daily dispatch"), "incidents": _l("Incidents"),
    "no_incidents": _l("No open incident"), "declare": _l("Declare an incident"),
    "declare_case": _l("Declare an incident from this case"), "title": _l("Title"), "type": _l("Type"),
    "level": _l("Level"), "commander": _l("Commander"), "buffer_m": _l("Buffer (m)"),
    "draw_area": _l("Draw the affected area"), "draw_help": _l("Click the corners of the area, double-click to finish"),
    "status": _l("Status"), "inside": _l("Inside the area"), "grid_cells": _l("Grid cells"),
    "communities": _l("Communities"), "workstations": _l("Workstations"), "compounds": _l("Residential compounds"),
    "population": _l("Residents (illustrative)"), "places": _l("Named places"), "open_cases": _l("Open cases"),
    "stations": _l("Stations"), "on_duty": _l("On duty inside"),
    "live_positions": _l("Field staff located inside (last hour)"),
    "stale_position": _l("position over 10 minutes old"), "resources": _l("Resources"),
    "nearest": _l("Nearest by road"), "dispatch": _l("Dispatch"), "quantity": _l("Quantity"),
    "minutes": _l("min"), "roll_call": _l("Roll-call"), "send": _l("Send"), "people": _l("People"),
    "on_duty_inside": _l("Everyone on duty inside the area"), "acknowledged": _l("Acknowledged"),
    "waiting": _l("Waiting"), "chase": _l("Chase the rest"), "log": _l("Situation log"), "note": _l("Note"),
    "add_note": _l("Add a note"), "reports": _l("Situation reports"), "file_first": _l("File the first report"),
    "file_followup": _l("File a follow-up report"), "file_final": _l("File the final report"),
    "suggestions": _l("Reports inside the area to link"), "link": _l("Link"), "linked": _l("Linked cases"),
    "area_km2": _l("Area (km²)"), "none": _l("None"), "saved": _l("Saved"), "submit": _l("Submit"),
    "cancel": _l("Cancel"), "open": _l("Open"), "instruction": _l("Instruction"),
    "st_declared": _l("Declared"), "st_responding": _l("Responding"), "st_stabilised": _l("Stabilised"),
    "st_closed": _l("Closed"), "to_responding": _l("Start the response"), "to_stabilised": _l("Mark stabilised"),
    "to_closed": _l("Close the incident"), "pdf": _l("PDF"), "printable": _l("Printable page"),
    "redraw": _l("Redraw the area"), "kind_first": _l("First report"), "kind_followup": _l("Follow-up report"),
    "kind_final": _l("Final report"),
}
LOG_LABELS = {
    "declared": _l("Incident declared"), "status": _l("Status changed"), "area": _l("Affected area changed"),
    "case_linked": _l("Case linked"), "case_handed_back": _l("Case handed back to the daily loop"),
    "note": _l("Commander's note"), "dispatch": _l("Resource dispatched"), "roll_call": _l("Roll-call sent"),
    "acknowledged": _l("Acknowledged"), "chased": _l("Chased"), "report": _l("Situation report filed"),
}
REPORT_KINDS = {"first": _l("First report"), "followup": _l("Follow-up report"), "final": _l("Final report")}
STATUS_LABELS = {"declared": _l("Declared"), "responding": _l("Responding"), "stabilised": _l("Stabilised"),
                 "closed": _l("Closed")}
CLASS_LABELS = {"natural": _l("Natural disaster"), "accident": _l("Accident"), "health": _l("Public health"),
                "social": _l("Social safety")}


def _channels() -> list[notify.Notifier]:
    url = current_app.config.get("NOTIFY_WEBHOOK_URL") or os.environ.get("NOTIFY_WEBHOOK_URL", "")
    return notify.notifiers(url)


def _at() -> datetime:
    raw = request.args.get("at")
    return params.instant("at", raw) if raw else datetime.now(UTC)


def _month() -> str:
    return request.args.get("month") or datetime.now(BEIJING).strftime("%Y-%m")


def _actor() -> str:
    return current_user().username


@bp.app_context_processor
def _header():
    """For the console header: the duty leader and shift leader now, and the user's unacknowledged instructions
    (functions, so that only the pages that show them ask)."""

    def board() -> dict | None:
        try:
            return duty.header(db.session())
        except SQLAlchemyError:  # the header must never break a page
            db.session().rollback()
            return None

    def inbox() -> list[dict]:
        user = current_user()
        if user is None:
            return []
        try:
            return notify.inbox(db.session(), user.username)
        except SQLAlchemyError:
            db.session().rollback()
            return []

    def context() -> dict:
        user = current_user()
        strings = {**STRINGS, **{f"log_{k}": v for k, v in LOG_LABELS.items()}}
        return {"strings": {k: str(v) for k, v in strings.items()},
                "may_command": user is not None and user.role in COMMANDERS}

    return {"duty_board": board, "duty_inbox": inbox, "command_context": context}


# --------------------------------------------------------------------------------------------
# Duty roster
# --------------------------------------------------------------------------------------------


@bp.get("/api/v1/duty/now")
@login_required
def duty_now():
    """Who is on duty at every position now, or `?at=` any ISO time (Beijing when it has no zone)."""
    return jsonify(duty.now(db.session(), _at()))


@bp.get("/api/v1/duty/positions")
@login_required
def duty_positions():
    """The duty positions with their shift patterns."""
    return jsonify(duty.positions_json(db.session()))


@bp.get("/api/v1/duty/roster")
@login_required
def duty_roster():
    """The roster of `?month=YYYY-MM` (default this month)."""
    return jsonify(duty.roster(db.session(), _month()))


@bp.get("/api/v1/duty/coverage")
@login_required
def duty_coverage():
    """Which position is short of people at which hours of `?month=`."""
    return jsonify(duty.coverage(db.session(), _month()))


@bp.post("/api/v1/duty/assignments")
@roles_required(*duty.ROSTER_EDITORS)
def duty_assign():
    """Put a person on a shift: {position, username, day, shift}."""
    p = inputs.json_body("DutyAssignmentInput")
    day = params.day("day", p["day"])
    row = db.write(lambda s: duty.assign(s, _actor(), p["position"], p["username"], day, p["shift"]))
    return jsonify(duty.assignment_json(row)), 201


@bp.delete("/api/v1/duty/assignments/<int:assignment_id>")
@roles_required(*duty.ROSTER_EDITORS)
def duty_unassign(assignment_id: int):
    """Take an assignment off the roster."""
    db.write(lambda s: duty.unassign(s, _actor(), assignment_id))
    return "", 204


@bp.post("/api/v1/duty/roster/plan")
@roles_required(*duty.ROSTER_EDITORS)
def duty_plan():
    """Fill a position's month in rotation: {position, month, usernames, replace}."""
    p = inputs.json_body("RosterPlanInput")
    made = db.write(lambda s: duty.plan_month(s, _actor(), p["position"], p["month"], p["usernames"],
                                              p.get("replace") is not False))
    return jsonify({"position": p["position"], "month": p["month"], "assignments": made}), 201


@bp.get("/api/v1/duty/swaps")
@login_required
def duty_swaps():
    """Swap requests (`?status=requested` for the pending ones)."""
    return jsonify(duty.swaps(db.session(), request.args.get("status")))


@bp.post("/api/v1/duty/swaps")
@login_required
def duty_swap_request():
    """Ask to hand a shift to someone else: {assignment_id, to_username, reason}."""
    p = inputs.json_body("SwapInput")
    row = db.write(lambda s: duty.request_swap(s, current_user(), p["assignment_id"], p["to_username"],
                                               p.get("reason")))
    return jsonify(duty.swap_json(row)), 201


@bp.post("/api/v1/duty/swaps/<int:swap_id>/decision")
@roles_required(*duty.SWAP_DECIDERS)
def duty_swap_decide(swap_id: int):
    """Approve or deny a swap: {approve: true|false}."""
    p = inputs.json_body("SwapDecision")
    return jsonify(duty.swap_json(db.write(lambda s: duty.decide_swap(s, _actor(), swap_id, p["approve"]))))


@bp.get("/api/v1/duty/handovers")
@login_required
def duty_handovers():
    """The latest handover notes (`?position=`)."""
    return jsonify(duty.handovers(db.session(), request.args.get("position")))


@bp.post("/api/v1/duty/handovers")
@login_required
def duty_handover():
    """The outgoing person's handover note: {position, to_username, open_items, watch}."""
    p = inputs.json_body("HandoverInput")
    row = db.write(lambda s: duty.hand_over(s, current_user(), p["position"], p["to_username"], p["open_items"],
                                            p.get("watch")))
    return jsonify(duty.handover_json(row)), 201


@bp.post("/api/v1/duty/handovers/<int:note_id>/sign")
@login_required
def duty_handover_sign(note_id: int):
    """The incoming person signs the handover note."""
    return jsonify(duty.handover_json(db.write(lambda s: duty.sign_handover(s, current_user(), note_id))))


def _roster_grid(data: dict) -> list[dict]:
    """Rows (position x shift) of the printable roster, each with the names per day."""
    cells: dict[tuple[str, str, str], list[str]] = {}
    for a in data["assignments"]:
        # the grid has room for a name, not its note in full-width brackets (（演示）...)
        cells.setdefault((a["position"], a["shift"], a["day"]), []).append(a["display_name"].split("（")[0])
    rows = []
    for p in data["positions"]:
        for s in p["shifts"]:
            rows.append({"position": p, "shift": s, "days": [cells.get((p["code"], s["code"], d), [])
                                                             for d in data["days"]]})
    return rows


@bp.get("/duty/roster")
@login_required
def roster_page():
    """Plan and print the month's roster, with the hours each position is short."""
    session = db.session()
    month = _month()
    data = duty.roster(session, month)
    people = duty.people(session)
    return render_template("command/roster.html", data=data, rows=_roster_grid(data),
                           coverage=duty.coverage(session, month), people=people,
                           may_edit=current_user().role in duty.ROSTER_EDITORS)


# --------------------------------------------------------------------------------------------
# Incidents
# --------------------------------------------------------------------------------------------


@bp.get("/api/v1/incident-types")
@login_required
def incident_types():
    """The incident types of the four national classes."""
    return jsonify(incidents.types(db.session()))


@bp.get("/api/v1/incidents")
@login_required
def list_incidents():
    """Open incidents (`?all=1` with the closed ones)."""
    return jsonify(incidents.listing(db.session(), params.flag(request.args, "all")))


@bp.post("/api/v1/incidents")
@roles_required(*COMMANDERS)
def declare_incident():
    """Declare an incident from a case (case_id), a hot spot (grid_code) or a point (lon, lat), with a drawn
    area or a buffer in metres around the origin or a given point or line."""
    p = inputs.json_body("IncidentInput")
    session = db.session()
    incident = db.write(lambda s: incidents.declare(s, _actor(), p))
    return jsonify(incidents.incident_json(session, incident)), 201


@bp.get("/api/v1/incidents/<int:incident_id>")
@login_required
def get_incident(incident_id: int):
    """One incident with its area, linked cases, reports and dispatches."""
    session = db.session()
    body = incidents.incident_json(session, incidents.get(session, incident_id))
    body["cases"] = incidents.linked(session, incident_id)
    body["reports"] = reports.listing(session, incident_id)
    body["dispatches"] = resources.dispatches(session, incident_id)
    return jsonify(body)


@bp.post("/api/v1/incidents/<int:incident_id>/status")
@roles_required(*COMMANDERS)
def incident_status(incident_id: int):
    """Move the incident on: {status, version, note}; closing hands its open cases back."""
    p = inputs.json_body("IncidentStatusInput")
    incident = db.write(lambda s: incidents.set_status(s, _actor(), incident_id, p["status"], p.get("version"),
                                                       p.get("note")))
    return jsonify(incidents.incident_json(db.session(), incident))


@bp.post("/api/v1/incidents/<int:incident_id>/area")
@roles_required(*COMMANDERS)
def incident_area(incident_id: int):
    """Redraw the area: {area} or {buffer_m, geometry}."""
    p = inputs.json_body("IncidentAreaInput")
    incident = db.write(lambda s: incidents.set_area(s, _actor(), incident_id, p))
    return jsonify(incidents.incident_json(db.session(), incident))


@bp.get("/api/v1/incidents/<int:incident_id>/summary")
@login_required
def incident_summary(incident_id: int):
    """What lies inside the area (computed in PostGIS)."""
    session = db.session()
    return jsonify(summary.inside(session, incidents.get(session, incident_id).area))


@bp.get("/api/v1/incidents/<int:incident_id>/suggestions")
@login_required
def incident_suggestions(incident_id: int):
    """Open cases reported inside the area since shortly before the declaration, not yet linked."""
    return jsonify(incidents.suggestions(db.session(), incident_id))


@bp.post("/api/v1/incidents/<int:incident_id>/cases")
@roles_required(*COMMANDERS)
def incident_link(incident_id: int):
    """Link cases: {case_ids: [...]}."""
    p = inputs.json_body("LinkCasesInput")
    db.write(lambda s: incidents.link_cases(s, _actor(), incident_id, p["case_ids"]))
    return jsonify(incidents.linked(db.session(), incident_id))


@bp.get("/api/v1/incidents/<int:incident_id>/log")
@login_required
def incident_log(incident_id: int):
    """The situation log."""
    return jsonify(incidents.log_entries(db.session(), incident_id))


@bp.post("/api/v1/incidents/<int:incident_id>/notes")
@roles_required(*COMMANDERS)
def incident_note(incident_id: int):
    """A commander's note: {text}."""
    p = inputs.json_body("NoteInput")
    db.write(lambda s: incidents.add_note(s, _actor(), incident_id, p["text"]))
    return jsonify(incidents.log_entries(db.session(), incident_id)), 201


@bp.get("/api/v1/resources")
@login_required
def list_resources():
    """The resources registry (`?kind=`)."""
    return jsonify(resources.listing(db.session(), request.args.get("kind")))


@bp.post("/api/v1/resources")
@roles_required(*RESOURCE_KEEPERS)
def add_resource():
    """Register a resource: {code, kind, name, quantity, unit, station_code | lon, lat, depot}."""
    p = inputs.json_body("ResourceInput")
    row = db.write(lambda s: resources.add(s, _actor(), p))
    return jsonify(resources.resource_json(row)), 201


@bp.get("/api/v1/incidents/<int:incident_id>/resources/nearest")
@login_required
def nearest_resources(incident_id: int):
    """Available resources nearest to the incident by road: `?kind=&limit=`."""
    limit = params.whole(request.args, "limit", 5, 1, 50)
    return jsonify(resources.nearest(db.session(), incident_id, request.args.get("kind"), limit))


@bp.post("/api/v1/incidents/<int:incident_id>/dispatches")
@roles_required(*COMMANDERS)
def dispatch_resource(incident_id: int):
    """Send a resource: {resource_id, quantity, note}."""
    p = inputs.json_body("DispatchInput")
    db.write(lambda s: resources.dispatch(s, _actor(), incident_id, p["resource_id"], p["quantity"], p.get("note")))
    return jsonify(resources.dispatches(db.session(), incident_id)), 201


@bp.get("/api/v1/incidents/<int:incident_id>/roll-calls")
@login_required
def roll_calls(incident_id: int):
    """Every roll-call of the incident with who has acknowledged."""
    incidents.get(db.session(), incident_id)
    return jsonify(notify.status(db.session(), incident_id))


@bp.post("/api/v1/incidents/<int:incident_id>/roll-calls")
@roles_required(*COMMANDERS)
def send_roll_call(incident_id: int):
    """Roll-call: {text, usernames, on_duty_inside}."""
    p = inputs.json_body("RollCallInput")
    channels = _channels()
    db.write(lambda s: notify.roll_call(s, _actor(), incident_id, p["text"], p.get("usernames") or [],
                                        bool(p.get("on_duty_inside")), channels))
    return jsonify(notify.status(db.session(), incident_id)), 201


@bp.post("/api/v1/instructions/<int:instruction_id>/chase")
@roles_required(*COMMANDERS)
def chase_instruction(instruction_id: int):
    """Send the instruction again to those who have not acknowledged."""
    channels = _channels()
    return jsonify({"chased": db.write(lambda s: notify.chase(s, _actor(), instruction_id, channels))})


@bp.get("/api/v1/inbox")
@login_required
def inbox():
    """The caller's instructions not yet acknowledged (the console header and the field app)."""
    return jsonify(notify.inbox(db.session(), _actor()))


@bp.post("/api/v1/inbox/<int:recipient_id>/ack")
@login_required
def acknowledge(recipient_id: int):
    """The caller acknowledges an instruction: JSON for the field app, or the console header's form (which
    carries its CSRF token and goes back to the page it was on)."""
    row = db.write(lambda s: notify.acknowledge(s, current_user(), recipient_id))
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        target = request.form.get("next") or ""
        same_site = target.startswith("/") and not target.startswith("//") and "\\" not in target
        return redirect(target if same_site else url_for("consoles.dispatcher"))
    return jsonify({"id": row.id, "acknowledged_at": row.acknowledged_at.isoformat()})


@bp.post("/api/v1/incidents/<int:incident_id>/reports")
@roles_required(*COMMANDERS)
def file_report(incident_id: int):
    """File a situation report: {kind: first|followup|final, note}."""
    p = inputs.json_body("ReportFileInput")
    row = db.write(lambda s: reports.file_report(s, _actor(), incident_id, p["kind"], p.get("note")))
    return jsonify(reports.report_json(row)), 201


@bp.get("/api/v1/incidents/<int:incident_id>/reports")
@login_required
def list_reports(incident_id: int):
    """The incident's situation reports."""
    incidents.get(db.session(), incident_id)
    return jsonify(reports.listing(db.session(), incident_id))


def _report_html(incident_id: int, report_id: int, for_pdf: bool) -> str:
    row = reports.get(db.session(), incident_id, report_id)
    content = row.content
    lines = [{"at": datetime.fromisoformat(e["at"]).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M"),
              "actor": e["actor"], "what": str(LOG_LABELS.get(e["kind"], e["kind"])), "text": _log_text(e)}
             for e in content["log"]]
    return render_template("command/report.html", report=row, c=content, lines=lines, for_pdf=for_pdf,
                           kind=str(REPORT_KINDS[row.kind]), status=STATUS_LABELS, classes=CLASS_LABELS,
                           at=row.at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M"))


def _log_text(entry: dict) -> str:
    if entry["kind"] == "status":
        return f"{STATUS_LABELS[entry['data']['from']]} → {STATUS_LABELS[entry['data']['to']]} {entry['text']}".strip()
    if entry["kind"] == "report":
        return str(REPORT_KINDS.get(entry["text"], entry["text"]))
    if entry["kind"] == "roll_call":
        return f"{entry['text']} ({', '.join(entry['data'].get('to', []))})"
    return entry["text"]


@bp.get("/command/incidents/<int:incident_id>/reports/<int:report_id>")
@login_required
def report_page(incident_id: int, report_id: int):
    """The situation report as a printable page."""
    return _report_html(incident_id, report_id, False)


@bp.get("/command/incidents/<int:incident_id>/reports/<int:report_id>.pdf")
@login_required
def report_pdf(incident_id: int, report_id: int):
    """The situation report as a PDF (A4, the CJK fonts)."""
    from app.pdf import render_pdf

    pdf = render_pdf(_report_html(incident_id, report_id, True))
    name = f"incident_{incident_id}_report_{report_id}.pdf"
    return Response(pdf, mimetype="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})
