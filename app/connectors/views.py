"""Connectors over HTTP: cameras as a map layer, sensors (JSON and a page), district orders in, the outbox."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, g, jsonify, render_template, request
from flask_babel import get_locale
from markupsafe import Markup

from app import inputs, params
from app.accounts.auth import current_user, login_required, roles_required
from app.cases import intake
from app.cases.worktime import BEIJING
from app.connectors import cameras, charts, district, outbox, sensors
from app.db import db
from app.errorhandlers import page
from app.errors import InputError, Unauthorized

bp = Blueprint("connectors", __name__)
ORDER_SENDERS = ("intake", "admin")  # the district link's account is an intake account with an API token


@bp.get("/api/v1/cameras")
@login_required
def camera_layer():
    """Cameras as GeoJSON (?bbox=minlon,minlat,maxlon,maxlat), each with its view polygon in `view`."""
    return jsonify(cameras.collection(db.session(), params.bbox(request.args.get("bbox"))))


@bp.get("/api/v1/cameras/<camera_id>")
@login_required
def camera(camera_id: str):
    """One camera as a GeoJSON feature."""
    return jsonify(cameras.get(db.session(), camera_id))


@bp.get("/api/v1/sensors")
@login_required
def sensor_list():
    """Every sensor with its type, threshold, latest reading, open episode and recent readings."""
    points = params.whole(request.args, "points", 60, 1, 1000)
    return jsonify({"sensors": sensors.overview(db.session(), points),
                    "rejected_messages": sensors.rejected_count(db.session())})


@bp.get("/sensors")
@login_required
@page("sensors.html")
def sensor_page():
    """The sensor page: latest readings and a chart per sensor."""
    rows = sensors.overview(db.session())
    zh = str(get_locale()) != "en"
    for row in rows:
        row["label"] = row["type_name"] if zh else row["type_name_en"]
        row["last_at_local"] = _local(row["last_at"])
        row["episode_local"] = _local(row["episode"]["opened_at"]) if row["episode"] else ""
        row["chart"] = Markup(charts.line_chart([r["value"] for r in row["readings"]], row["threshold"],
                                                f"{row['name']} {row['label']}"))
    return render_template("sensors.html", sensors=rows, rejected=sensors.rejected_count(db.session()), error=None)


def _local(iso: str | None) -> str:
    """An ISO time as the town's clock shows it (Beijing), to the second."""
    return datetime.fromisoformat(iso).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") if iso else ""


@bp.post("/api/v1/district/orders")
@roles_required(*ORDER_SENDERS)
def district_order():
    """A work order of the district center: 201 with its case, 200 when the same order came before."""
    if not g.get("via_token"):
        raise Unauthorized("district orders come with Authorization: Bearer TOKEN (the district link's API token)")
    body = inputs.json_body("DistrictOrder")
    if not body["order_no"].strip():
        raise InputError("order_no", "order_no is empty")
    settings = intake.IntakeSettings.from_config(current_app.config)
    done = db.write(lambda s: district.receive(s, settings, current_user(), body))
    return jsonify(done.answer()), 201 if done.created else 200


@bp.get("/api/v1/district/outbox")
@roles_required("admin")
def outbox_list():
    """The outbox, newest first (?state=pending|delivered|dead: dead is the dead-letter list), with counts."""
    state = request.args.get("state")
    if state not in (None, "pending", "delivered", "dead"):
        raise InputError("state", "state is pending, delivered or dead")
    limit = params.whole(request.args, "limit", 200, 1, 1000)
    return jsonify({"counts": outbox.counts(db.session()), "events": outbox.listing(db.session(), state, limit)})


@bp.post("/api/v1/district/outbox/<int:event_id>/replay")
@roles_required("admin")
def outbox_replay(event_id: int):
    """Put a dead event back in line for the sender."""
    return jsonify(db.write(lambda s: outbox.replay(s, event_id, current_user().username)))
