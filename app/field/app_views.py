"""The field app (`/field`): a phone-first page for patrol staff and department handlers, installable (web app
manifest, service worker of scope /field) and working offline; and its API: the day's route and tasks, field
actions with evidence photos, feedback photos, the evidence of a case side by side, and staff positions (POST
batches, the latest per officer, a day's track as GeoJSON or GPX)."""

from __future__ import annotations

import json
from datetime import date, datetime

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from sqlalchemy.orm import Session

from app import inputs, params, schemas
from app.accounts.auth import current_user, login_required, roles_required
from app.cases import intake, reading
from app.cases.worktime import BEIJING
from app.consoles.views import ACTION_LABELS, STATE_LABELS
from app.consoles.views import _labels as layer_labels
from app.db import db
from app.errors import InputError
from app.field import evidence, idempotency, positions, today
from app.field.strings import FIELD_UI

bp = Blueprint("fieldapp", __name__)
FIELD_ROLES = ("patrol", "handler")  # they land on /field after signing in
BASEMAP = ("town", "water", "roads", "communities", "workstations", "stations", "places")
PHOTO_STAGES = {"before": "before", "after": "after", "photos": "after"}


def _lang() -> str:
    return "en" if str(_("Cases")) == "Cases" else "zh"


def _layers() -> list[dict]:
    names = layer_labels()
    return [{"key": k, "name": names[k], "url": f"/api/v1/basemap/{k}" if k in ("water", "places")
             else f"/api/v1/layers/{k}"} for k in BASEMAP]


@bp.get("/field")
@login_required
def page() -> ResponseReturnValue:
    """The field app: my route of the day, my tasks, the map, reports with photos, the outbox."""
    user = current_user()
    context = {
        "lang": _lang(), "csrf": generate_csrf(), "today": datetime.now(BEIJING).date().isoformat(),
        "user": {"username": user.username, "name": user.display_name, "role": user.role,
                 "station": user.station_code, "department": user.department_code},
        "strings": {k: str(v) for k, v in FIELD_UI.items()},
        "states": {k: str(v) for k, v in STATE_LABELS.items()},
        "actions": {k: str(v) for k, v in ACTION_LABELS.items()},
        "layers": _layers(), "stale_minutes": positions.STALE_MINUTES,
    }
    return render_template("field.html", context=context)


@bp.get("/field/manifest.webmanifest")
def manifest() -> ResponseReturnValue:
    """The web app manifest: the field app installs as 南汇巡查 with scope /field."""
    body = {"name": _("Nanhui field app"), "short_name": _("Field"), "start_url": "/field", "scope": "/field",
            "display": "standalone", "orientation": "portrait", "background_color": "#ffffff",
            "theme_color": "#1f3a93", "lang": "zh-CN" if _lang() == "zh" else "en",
            "icons": [{"src": url_for("static", filename="favicon.svg"), "sizes": "any", "type": "image/svg+xml"}]}
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")


@bp.get("/field/sw.js")
def service_worker() -> ResponseReturnValue:
    """The service worker (its scope is /field: the header allows it above its own folder)."""
    response = current_app.send_static_file("field-sw.js")
    response.headers["Service-Worker-Allowed"] = "/field"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/api/v1/field/day")
@login_required
def day() -> ResponseReturnValue:
    """What the phone keeps for the day: a fresh CSRF token, the route with its stops (next first), my tasks, the
    basemap layers to cache and the categories."""
    user = current_user()
    on = params.day("date", request.args["date"]) if request.args.get("date") else datetime.now(BEIJING).date()
    session = db.session()
    return jsonify(csrf=generate_csrf(), day=on.isoformat(), user=user.username,
                   route=today.route_of_day(session, user, on), tasks=today.tasks(session, user),
                   layers=_layers(), fetched_at=datetime.now(BEIJING).isoformat())


def _action_body() -> tuple[dict, dict[str, list[intake.Upload]], bytes]:
    """The action (JSON, or multipart: `action` holds the JSON, files under `before` and `after`) and its photos."""
    limit = current_app.config["MAX_ATTACHMENT_BYTES"]
    if request.mimetype == "multipart/form-data":
        raw = request.form.get("action")
        if raw is None:
            raise InputError("action", "a multipart action needs an `action` field holding the JSON", 400,
                             error="invalid_body")
        uploads: dict[str, list[intake.Upload]] = {"before": [], "after": []}
        for name, stage in PHOTO_STAGES.items():
            for f in request.files.getlist(name):
                uploads[stage].append(intake.check_upload(f.filename, f.read(), limit))
        payload = schemas.body("FieldAction", schemas.parse_json(raw))
        return payload, uploads, raw.encode()
    return inputs.json_body("FieldAction"), {}, request.get_data()


@bp.post("/api/v1/field/cases/<int:case_id>/actions")
@login_required
def field_action(case_id: int) -> ResponseReturnValue:
    """Accept, feed back (with photos before/after as files), check, rework or return a case from the phone; an
    Idempotency-Key makes the outbox's retries safe; 409 when the case changed meanwhile."""
    key = idempotency.check_key(request.headers.get("Idempotency-Key"))
    payload, uploads, raw = _action_body()
    user = current_user()
    fields = {k: v for k, v in payload.items() if k not in ("action", "version") and v is not None}
    digest = idempotency.digest(case_id, raw, *[u.sha256 for stage in ("before", "after")
                                                for u in uploads.get(stage, [])])

    def work(session: Session) -> tuple[int, dict]:
        case = evidence.act(session, user, case_id, payload["action"], payload["version"], fields, uploads)
        return 200, {"id": case.id, "state": case.state, "version": case.version, "action": payload["action"]}

    answer = db.write(lambda s: idempotency.once(s, user, key, "field_action", digest, work))
    body = {**answer.body, "replayed": answer.replayed,
            "case": reading.case_view(db.session(), user, case_id, check_scope=False)}
    return jsonify(body), answer.status


@bp.get("/api/v1/case-photos/<int:photo_id>")
@login_required
def case_photo(photo_id: int) -> ResponseReturnValue:
    """The bytes of a feedback photo."""
    found = evidence.photo(db.session(), current_user(), photo_id)
    response = Response(found.data, mimetype=found.content_type)
    response.headers["Content-Disposition"] = "inline"
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@bp.get("/api/v1/cases/<int:case_id>/evidence")
@login_required
def case_evidence(case_id: int) -> ResponseReturnValue:
    """The photos of a case side by side: before (reports, handler) and after (the handler's feedback)."""
    return jsonify(evidence.evidence(db.session(), current_user(), case_id))


@bp.post("/api/v1/positions")
@roles_required(*positions.SENDERS)
def post_positions() -> ResponseReturnValue:
    """A batch of the caller's positions: {"positions": [{lon, lat, recorded_at, accuracy_m?}...]} (at most 500);
    refused whole, naming the item, when one lies outside the town or is too old or in the future."""
    payload = inputs.json_body("PositionsInput")
    settings = positions.PositionSettings.from_config(current_app.config)
    user = current_user()
    return jsonify(db.write(lambda s: positions.record(s, user, payload["positions"], settings))), 201


@bp.get("/api/v1/positions/latest")
@login_required
def latest_positions() -> ResponseReturnValue:
    """Each officer's newest position (GeoJSON), `stale` after 10 minutes; field staff see their own."""
    return jsonify(positions.latest(db.session(), current_user()))


def _track_args() -> tuple[str | None, date]:
    on = params.day("date", request.args["date"]) if request.args.get("date") else datetime.now(BEIJING).date()
    return request.args.get("user"), on


@bp.get("/api/v1/positions/track")
@login_required
def track() -> ResponseReturnValue:
    """An officer's track of a day (?user=&date=): the line and its points as GeoJSON."""
    username, on = _track_args()
    _officer, body = positions.track(db.session(), current_user(), username, on)
    body["links"] = {"gpx": url_for("fieldapp.track_gpx", user=body["username"], date=on.isoformat())}
    return jsonify(body)


@bp.get("/api/v1/positions/track.gpx")
@login_required
def track_gpx() -> ResponseReturnValue:
    """An officer's track of a day as GPX 1.1."""
    username, on = _track_args()
    session = db.session()
    officer, _body = positions.track(session, current_user(), username, on)
    text = positions.gpx(officer, on, positions.track_points(session, officer.id, on))
    name = f"track_{officer.username}_{on.isoformat()}.gpx"
    return Response(text, mimetype="application/gpx+xml",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
