"""Evaluation and digest: GET /api/v1/kpi (JSON, .csv, .xlsx), GET /api/v1/digest, the printable /digest page."""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, Response, jsonify, render_template, request

from app.auth import login_required
from app.db import db
from app.services import digest, kpi
from app.services.errors import InputError
from app.views.errors import json_errors
from app.workflow.worktime import BEIJING

bp = Blueprint("evaluation", __name__)
json_errors(bp)

MIME = {"csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@bp.get("/api/v1/kpi")
@bp.get("/api/v1/kpi.<fmt>")
@login_required
def kpi_table(fmt: str = "json"):
    """Indicators, scores and grades: ?from=&to=&by=department|station|community|workstation|grid|person."""
    if fmt not in ("json", "csv", "xlsx"):
        raise InputError("format", "format must be json, csv or xlsx", 404)
    start, end = kpi.period(request.args.get("from"), request.args.get("to"))
    result = kpi.evaluate(db.session(), start, end, request.args.get("by", "department"))
    if fmt == "json":
        return jsonify(result)
    lang = request.args.get("lang", "zh")
    body = kpi.to_csv(result, lang) if fmt == "csv" else kpi.to_xlsx(result, lang)
    name = f"kpi_{result['by']}_{result['from']}_{result['to']}.{fmt}"
    return Response(body, mimetype=MIME[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _digest() -> dict:
    raw = request.args.get("date")
    try:
        day = date.fromisoformat(raw) if raw else datetime.now(BEIJING).date()
    except ValueError:
        raise InputError("date", f"date must be YYYY-MM-DD, got {raw!r}", 400) from None
    return digest.build(db.session(), day, request.args.get("span", "day"))


@bp.get("/api/v1/digest")
@login_required
def digest_json():
    """Hot issues for the morning meeting: ?date=YYYY-MM-DD&span=day|week."""
    return jsonify(_digest())


@bp.get("/digest")
@login_required
def digest_page():
    """The same digest as a printable page."""
    try:
        data = _digest()
    except InputError as exc:
        return render_template("digest.html", error=exc.message, data=None), exc.status
    return render_template("digest.html", data=data, error=None)
