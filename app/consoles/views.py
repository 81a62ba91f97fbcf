"""The map consoles: dispatcher (`/` and `/map`), planner (`/planner`), patrol (`/patrol`), reports
(`/reports`), and the browser assets they load (`/vendor/...`, from the npm registry).

Pages are folium maps plus a console script from app/static; every string the scripts show comes
from here through Flask-Babel (JSON in the page), so no text is hard-coded in JS.
"""

from __future__ import annotations

import json
import posixpath
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, send_from_directory
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf

from app.accounts.auth import current_user, login_required
from app.cases import machine
from app.cases.worktime import BEIJING
from app.consoles import lists, live, queue, supervision
from app.db import db
from app.field.strings import CONSOLE_UI
from layers.town_map import town_map

ROOT = Path(__file__).resolve().parents[2]

bp = Blueprint("consoles", __name__)

STATE_LABELS = {
    "reported": _l("Reported"), "verified": _l("Verified"), "filed": _l("Filed"), "not_filed": _l("Not filed"),
    "dispatched": _l("Dispatched"), "in_progress": _l("In progress"), "handled": _l("Handled"),
    "checked": _l("Checked"), "closed": _l("Closed"), "archived": _l("Archived"), "suspended": _l("Suspended"),
    "void": _l("Void"),
}
ACTION_LABELS = {
    "verify": _l("Verify"), "file": _l("File"), "reject": _l("Reject"), "dispatch": _l("Dispatch"),
    "accept": _l("Accept"), "return": _l("Return to dispatcher"), "feedback": _l("Report the result"),
    "check": _l("Check passed"), "rework": _l("Rework"), "close": _l("Close"), "rate": _l("Record satisfaction"),
    "archive": _l("Archive"), "request_extension": _l("Request extension"),
    "approve_extension": _l("Approve extension"), "deny_extension": _l("Deny extension"),
    "request_suspension": _l("Request suspension"), "approve_suspension": _l("Approve suspension"),
    "deny_suspension": _l("Deny suspension"), "resume": _l("Resume"), "void": _l("Void"),
    "escalate": _l("Escalate"), "assign": _l("Assign to a team member"), "take_back": _l("Take back"),
    "hand_back": _l("Hand back to the station chief"), "self_handle": _l("Handled by ourselves"),
    "report_to_station": _l("Report to the station"), "report_to_center": _l("Report to the center"),
    "reopen": _l("Reopen"), "spot_check": _l("Spot check passed"),
}
LIGHT_LABELS = {
    "green": _l("Green: under 80 per cent of the limit"), "yellow": _l("Yellow: 80 to 100 per cent of the limit"),
    "red": _l("Red: overdue"),
}
UI = {
    "filters": _l("Filters"), "state": _l("State"), "category": _l("Category"), "channel": _l("Channel"),
    "station": _l("Station"), "light": _l("Light"), "from": _l("From"), "to": _l("To"), "any": _l("Any"),
    "apply": _l("Apply"), "open_only": _l("Open cases only"), "cases": _l("Cases"), "case": _l("Case"),
    "reports": _l("Reports"), "history": _l("History"), "owner": _l("Owner"), "deadline": _l("Deadline"),
    "elapsed": _l("Elapsed share of the limit"), "grid": _l("Grid cell"), "workstation": _l("Workstation"),
    "community": _l("Community"), "address": _l("Address"), "description": _l("Description"),
    "urgency": _l("Urgency"), "normal": _l("Normal"), "urgent": _l("Urgent"), "emergency": _l("Emergency"),
    "submit": _l("Submit"), "cancel": _l("Cancel"), "close": _l("Close"), "reason": _l("Reason"),
    "note": _l("Note"), "hours": _l("Hours"), "level": _l("Level"), "satisfaction": _l("Satisfaction (1-5)"),
    "photos": _l("Photo URLs (one per line)"), "helpers": _l("Helper departments"),
    "suggested": _l("Suggested by the rules"), "new_case": _l("New case here"),
    "near_boundary": _l("Near a territory edge: please confirm the owner"),
    "created": _l("Case filed"), "merged": _l("Joined an open case of the same problem"),
    "coords": _l("Coordinates"), "copy": _l("Copy"), "copied": _l("Copied"), "updated": _l("Updated"),
    "colour_by": _l("Colour by"), "by_light": _l("Deadline light"), "by_state": _l("State"),
    "error": _l("Something went wrong"), "paused": _l("Clock paused"), "version": _l("Version"),
    "no_address": _l("No address nearby"), "clusters": _l("cases here: zoom in"), "loading": _l("Loading…"),
    "department": _l("Department"), "station_kind": _l("Station"), "actions": _l("Actions"),
    "legend": _l("Legend"), "layers_hide": _l("Layers ▴"), "layers_show": _l("Layers ▾"),
    "escalation": _l("Escalation level"), "click_map": _l("Click the map to file a case there"),
    "camera": _l("Camera"), "show_camera": _l("Show the camera on the map"),
    "camera_online": _l("online"), "camera_offline": _l("offline"), "camera_fault": _l("out of order"),
    # planner
    "planning": _l("Station coverage planning"), "new_station": _l("Add an X station"), "code": _l("Code"),
    "name": _l("Name"), "next": _l("Next"), "place_point": _l("Click the map where the station is"),
    "draw_territory": _l("Draw its territory: click the corners, double-click to finish"),
    "territory_drawn": _l("Territory drawn: check the proposal"), "check": _l("Check the proposal"),
    "reset": _l("Start again"), "valid": _l("Valid: inside the town, no overlaps"),
    "invalid": _l("Not valid"), "gaps": _l("Gaps (cases there fall back to the town center)"),
    "impact": _l("Impact"), "open_cases": _l("Open cases"), "past_90": _l("Cases in 90 days"),
    "area_km2": _l("Area (km²)"), "move_open": _l("Move open cases to the new owners"),
    "keep_open": _l("Keep open cases with their owners"), "save_version": _l("Save as a new boundary version"),
    "saved": _l("Saved: boundary version"), "moved": _l("cases moved"), "versions": _l("Boundary versions"),
    "planner_help": _l("Edit a territory with the edit tool (only the station territories are editable; they snap "
                       "to their neighbours), paint territories by grid cells, or add a new station; then check and "
                       "save."),
    "drafts": _l("Drafts"), "open_draft": _l("Open draft"),
    "restore": _l("Restore this version"),
    "no_drafts": _l("No drafts"), "draft_opened": _l("Draft opened: edit, check and save it"),
    "paint_cells": _l("Paint by grid cells"), "assign_to": _l("Station for the selected cells"),
    "paint_help": _l("Click grid cells to select them (Shift-drag selects a box), choose a station and give them to "
                     "it; each territory becomes the union of its cells."),
    "assign": _l("Give the selected cells to this station"), "clear_selection": _l("Clear the selection"),
    "selected": _l("Cells selected"), "painted": _l("Cells given to another station"),
    "paint_new_station": _l("Station placed: select grid cells and give them to it"),
    "self_intersection": _l("A boundary may not cross itself: that vertex was not accepted"),
    "warnings": _l("Warnings (the proposal can still be saved)"),
    "compare": _l("Compare"), "compare_versions": _l("Compare two versions"),
    "diff_title": _l("Changes between versions"), "cells_moved": _l("grid cells change station"),
    "cases_moved": _l("open cases change station"), "no_changes": _l("No grid cell changes station"),
    "cells": _l("Grid cells"), "undo": _l("Undo"), "redo": _l("Redo"),
    "snap_cells": _l("Snap drawing and edits to grid cell edges"),
    "save_draft": _l("Save as a draft"), "draft_title": _l("Title of the draft"),
    "draft_saved": _l("Draft saved (not published)"), "changes_title": _l("Grid cells changing station"),
    # reports
    "reports_title": _l("Evaluation"), "trend": _l("Cases per month"), "digest": _l("Morning digest"),
    "ranking_department": _l("Departments"), "ranking_station": _l("Stations"),
    "kpi_cases": _l("Cases"), "kpi_filed": _l("Filed"), "kpi_on_time_dispatch_rate": _l("On-time dispatch"),
    "kpi_on_time_disposal_rate": _l("On-time disposal"), "kpi_closure_rate": _l("Closure rate"),
    "kpi_rework_rate": _l("Rework rate"), "kpi_satisfaction_mean": _l("Satisfaction"), "kpi_score": _l("Score"),
    "assignee": _l("Team member (user name)"), "kpi_grade": _l("Grade"), "kpi_self_handled": _l("Self-handled"),
    "kpi_self_handled_share": _l("Self-handled share"), "kpi_evaluator_rating_mean": _l("Evaluators' rating"),
    "ranking_workstation": _l("Workstations"), "sort": _l("Sort by this column"),
    "definition": _l("Definition"), "definitions": _l("Definitions, weights and grades"), "weights": _l("Weights"),
    "grades": _l("Grades"), "cases_word": _l("cases"), "counted": _l("Counted"),
    "hidden_cases": _l("%(n)s of these cases are outside your scope and not listed."),
    "trend_days": _l("Cases per day"), "cases_per_cell": _l("Cases per grid cell"), "no_cases": _l("No case"),
    "map_total": _l("%(n)s cases on the map; %(m)s without a grid cell"),
    "totals_note": _l("%(n)s cases in the period: %(g)s in grid cells (the map), %(m)s without a grid cell (outside "
                      "the town grid). Tables by department count only the cases a department owns."),
    "bulletins": _l("Monthly bulletins"), "reported_on": _l("First reported"), "chronic": _l("Chronic problems"),
    "plan": _l("Plan"), "review_on": _l("Review date"), "control": _l("Control"),
    "chronic_open": _l("Open"), "chronic_controlled": _l("Under control"), "chronic_resolved": _l("Resolved"),
    # patrol
    "route_today": _l("Today's route"), "no_route": _l("No route planned for today"), "stops": _l("Stops"),
    "visited": _l("Visited"), "report_here": _l("Report a problem here"), "my_location": _l("My location"),
    "photo": _l("Photo"), "sent": _l("Report sent"), "minutes": _l("min"), "km": _l("km"),
    "mark_visited": _l("Mark as visited"),
}


def _script_data(extra: dict | None = None) -> dict:
    """What the console scripts need: strings, the user, the CSRF token and the code lists."""
    user = current_user()
    lang = "en" if str(_("Cases")) == "Cases" else "zh"
    return {
        "lang": lang,
        "user": {"username": user.username, "role": user.role, "station": user.station_code,
                 "department": user.department_code},
        "csrf": generate_csrf(),
        "strings": {k: str(v) for k, v in {**UI, **CONSOLE_UI}.items()},
        "states": {k: str(v) for k, v in STATE_LABELS.items()},
        "actions": {k: str(v) for k, v in ACTION_LABELS.items()},
        "lights": {k: str(v) for k, v in LIGHT_LABELS.items()},
        "final_states": sorted(machine.FINAL),
        "today": datetime.now(BEIJING).date().isoformat(),  # the town's day, whatever the browser's clock says
        **queue.script_data(user.role, lang, ACTION_LABELS),
        **lists.code_lists(db.session(), lang),
        **(extra or {}),
    }


def _labels() -> dict:
    return {
        "basemap": _("Basemap"), "town": _("Town"), "roads": _("Roads"), "grid_cells": _("Unit grid cells"),
        "workstations": _("Workstation territories"), "communities": _("Communities"),
        "station_coverage": _("Station coverage"), "stations": _("Stations"), "legend": _("Legend"),
        "water": _("Water"), "places": _("Named places"),
    }


def _map(extra: list[tuple] = ()) -> dict:
    figure = town_map(_labels(), current_app.config["BASEMAP_URL"], current_app.config["BASEMAP_ATTRIBUTION"],
                      extra).get_root()
    figure.render()
    return {"map_header": figure.header.render(), "map_html": figure.html.render(),
            "map_script": figure.script.render()}


HOTSPOT_COLOURS = {"hot_99": "#b2182b", "hot_95": "#ef8a62", "hot_90": "#fddbc7", "cold_99": "#2166ac",
                   "cold_95": "#67a9cf", "cold_90": "#d1e5f0"}


def _analysis_layers() -> list[tuple]:
    """Hotspot cells and today's patrol routes, off until switched on."""
    today = datetime.now(BEIJING).date().isoformat()
    return [
        ("hotspots", "/api/v1/hotspots", _("Hotspots"),
         {"color": "#b2182b", "weight": 0.5, "fillOpacity": 0.6, "styleBy": ["class", HOTSPOT_COLOURS]},
         ["grid_code", "class"], False),
        ("patrols", f"/api/v1/patrols?date={today}", _("Patrol routes"), {"color": "#c0392b", "weight": 4},
         ["station_code", "assignee"], False),
        ("cameras", "/api/v1/cameras", _("Cameras"), {"color": "#6a1b9a", "radius": 5, "weight": 2, "fillOpacity": 0.8},
         ["id", "name", "status"], False),
    ]


@bp.get("/map")
@bp.get("/")  # the decorator nearest the function registers first: url_for gives "/"
@login_required
def dispatcher():
    """The dispatcher console: boundaries, cases of the viewport, filters, the case panel, new cases by click."""
    return render_template("console.html", console="dispatcher", script="console.js",
                           context=_script_data(live.script_data()), **_map(_analysis_layers()))


@bp.get("/planner")
@login_required
def planner():
    """The planner console: edit station coverage, add X stations, see validation and impact, save a version."""
    return render_template("console.html", console="planner", script="planner.js", context=_script_data(), **_map())


@bp.get("/patrol")
@login_required
def patrol():
    """The patrol view (phone width): today's route, stops, own location, report a problem here."""
    return render_template("console.html", console="patrol", script="patrol.js", context=_script_data(), **_map())


@bp.get("/reports")
@login_required
def reports():
    """KPI tables and charts, the case choropleth and the morning digest, with export buttons."""
    return render_template("console.html", console="reports", script="reports.js", context=_script_data(), **_map())


@bp.get("/supervision")
@login_required
def supervision_page():
    """The supervisor page: near-due and overdue cases (list and map), supervision orders with their history,
    open, answer, remind and close."""
    extra = supervision.script_data(current_user().role, "en" if str(_("Cases")) == "Cases" else "zh")
    return render_template("console.html", console="supervision", script="supervision.js",
                           context=_script_data(extra), **_map())


@lru_cache(maxsize=1)
def allowed_packages() -> frozenset[str]:
    """Only the packages package.json names (not their whole dependency tree) are served."""
    manifest = json.loads((ROOT / "package.json").read_bytes())
    return frozenset(manifest.get("dependencies", {}))


@bp.get("/vendor/<path:path>")
def asset(path: str):
    """Serve node_modules/<package>/<file> for an allowed package (the path normalised first: no `..`)."""
    clean = posixpath.normpath(path)
    if clean.startswith(("/", "..")) or "\\" in path:
        abort(404)
    parts = clean.split("/")
    package = "/".join(parts[:2]) if parts[0].startswith("@") else parts[0]
    if package not in allowed_packages() or len(parts) < (3 if parts[0].startswith("@") else 2):
        abort(404)
    return send_from_directory(ROOT / "node_modules", clean, max_age=86400)


def vendor_url(path: str) -> str:
    """The URL of an asset under /vendor/ (for folium's asset lists)."""
    return f"/vendor/{path}"
