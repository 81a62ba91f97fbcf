"""Analyses over the JSON API and the printable digest: hot spots, emerging hot spots, alerts and their
modules, KPIs (JSON, CSV, XLSX), the morning digest, and the counts of the reports page."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, jsonify, render_template, request
from flask_babel import get_locale, gettext

from app import inputs, params
from app.accounts.auth import current_user, login_required, roles_required
from app.analysis import alerts, definitions, digest, hotspots, kpi
from app.cases.worktime import BEIJING
from app.db import db
from app.errorhandlers import page
from app.errors import InputError

bp = Blueprint("analysis", __name__)
MIME = {"csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _today_or(name: str = "date"):
    raw = request.args.get(name)
    return params.day(name, raw) if raw else datetime.now(BEIJING).date()


@bp.get("/api/v1/hotspots")
@login_required
def hotspot_cells():
    """Gi* hot and cold spots: ?from=&to=&category=&distance=&permutations=&bbox=&all=1."""
    a = request.args
    start, end = hotspots.period(a.get("from"), a.get("to"))
    body = hotspots.hotspots_geojson(
        db.session(), start, end, hotspots.categories(a.get("category")),
        params.number(a, "distance", hotspots.DEFAULT_DISTANCE_M, 50, 5000),
        params.number(a, "permutations", hotspots.DEFAULT_PERMUTATIONS, 0, hotspots.MAX_PERMUTATIONS, int),
        params.bbox(a.get("bbox")), params.flag(a, "all"),
    )
    return jsonify(body)


@bp.get("/api/v1/hotspots/emerging")
@login_required
def emerging_cells():
    """Emerging hot spots: ?weeks=&to=&category=&distance=&bbox=&all=1."""
    a = request.args
    _, end = hotspots.period(None, a.get("to"))
    body = hotspots.emerging_geojson(
        db.session(), end, params.number(a, "weeks", 12, 4, 52, int), hotspots.categories(a.get("category")),
        params.number(a, "distance", hotspots.DEFAULT_DISTANCE_M, 50, 5000), params.bbox(a.get("bbox")),
        params.flag(a, "all"),
    )
    return jsonify(body)


@bp.get("/api/v1/alerts")
@login_required
def alert_cells():
    """Early-warning alerts of the week ending on ?date= (today), as GeoJSON: &module=a,b&bbox=."""
    only = [m for m in request.args.get("module", "").split(",") if m] or None
    return jsonify(alerts.geojson(db.session(), _today_or(), params.bbox(request.args.get("bbox")), only))


@bp.get("/api/v1/alerts/modules")
@login_required
def alert_modules():
    """The early-warning modules and their rules."""
    return jsonify(alerts.listing(db.session()))


@bp.put("/api/v1/alerts/modules/<code>")
@roles_required("admin", "supervisor")
def alert_module_update(code: str):
    """Change a module's rule, thresholds, categories or active flag (audited)."""
    payload = inputs.json_body("AlertModuleInput")
    return jsonify(db.write(lambda s: alerts.update(s, current_user().username, code, payload)))


def _lang() -> str:
    return "en" if request.args.get("lang") == "en" or str(get_locale() or "zh") == "en" else "zh"


@bp.get("/api/v1/kpi")
@bp.get("/api/v1/kpi.<fmt>")
@login_required
def kpi_table(fmt: str = "json"):
    """Indicators, scores and grades: ?from=&to=&by=department|station|community|workstation|grid|person."""
    if fmt not in ("json", "csv", "xlsx"):
        raise InputError("format", "format must be json, csv or xlsx", 404)
    start, end = kpi.period(request.args.get("from"), request.args.get("to"))
    result = kpi.evaluate(db.session(), start, end, request.args.get("by", "department"), current_user(), _lang())
    if fmt == "json":
        return jsonify(result)
    lang = request.args.get("lang", "zh")
    body = kpi.to_csv(result, lang) if fmt == "csv" else kpi.to_xlsx(result, lang)
    name = f"kpi_{result['by']}_{result['from']}_{result['to']}.{fmt}"
    return Response(body, mimetype=MIME[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _digest() -> dict:
    return digest.build(db.session(), _today_or(), request.args.get("span", "day"), current_user(), lang=_lang())


@bp.get("/api/v1/digest")
@login_required
def digest_json():
    """Hot issues for the morning meeting: ?date=YYYY-MM-DD&span=day|week."""
    return jsonify(_digest())


@bp.get("/digest")
@login_required
@page("digest.html")
def digest_page():
    """The same digest as a printable page (a bad date or span is said on the page)."""
    from app.consoles.views import STATE_LABELS

    return render_template("digest.html", data=_digest(), error=None, states=STATE_LABELS)


@bp.get("/api/v1/kpi/cases")
@login_required
def kpi_cases():
    """The cases behind one number: ?from=&to=&by=&group=&indicator= (its count equals the number)."""
    a = request.args
    start, end = kpi.period(a.get("from"), a.get("to"))
    return jsonify(kpi.drill(db.session(), current_user(), start, end, a.get("by", "department"),
                             a.get("group", ""), a.get("indicator", "cases"), _lang()))


@bp.get("/api/v1/kpi/definitions")
@login_required
def kpi_definitions():
    """What each indicator means, the scoring rules in force and the definition of the cases of a period."""
    return jsonify({**definitions.translated(gettext), **kpi.rules(db.session())})


@bp.get("/api/v1/stats/grid-counts")
@login_required
def grid_counts():
    """The cases of the period [from, to) (default this month) per grid cell, for the choropleth."""
    start, end = kpi.period(request.args.get("from"), request.args.get("to"))
    return jsonify(kpi.grid_counts(db.session(), start, end))


@bp.get("/api/v1/stats/monthly")
@login_required
def monthly():
    """The cases of the period [from, to) (default this month) per month, or per day for two months or less,
    with how many were closed and closed on time: the trend chart."""
    start, end = kpi.period(request.args.get("from"), request.args.get("to"))
    return jsonify(kpi.trend(db.session(), start, end))


from app.analysis import leader_views  # noqa: E402,F401  (its routes are on this blueprint)
