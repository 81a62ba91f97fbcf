"""GET /api/v1/events: the live feed of case changes, as Server-Sent Events when the client asks for
`text/event-stream` (EventSource does), otherwise one JSON page (for polling and scripts)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from app.accounts.auth import current_user, login_required
from app.db import db
from app.errors import InputError
from app.live import services, stream

bp = Blueprint("live", __name__, url_prefix="/api/v1")
MAX_ID = 2**63 - 1


def _after() -> int | None:
    """Where the client stands: the Last-Event-ID header (EventSource resuming) or ?after=."""
    raw = request.headers.get("Last-Event-ID") or request.args.get("after")
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_ID:
        raise InputError("after", "Last-Event-ID (or after) must be the id of an event: a whole number", 400)
    return int(raw)


@bp.get("/events")
@login_required
def events():
    """Case changes the caller may see: an event stream (resumable with Last-Event-ID, a heartbeat every 15 s),
    or for other clients the events after `after` as JSON."""
    user, after = current_user(), _after()
    if request.accept_mimetypes.best_match(["application/json", "text/event-stream"]) != "text/event-stream":
        if after is None:  # where the feed stands: poll from there
            return jsonify({"events": [], "last_id": services.head(db.session()), "reset": False})
        rows, missing, newest = services.since(db.session(), user, after)
        return jsonify({"events": [services.message(r) for r in rows], "last_id": newest, "reset": missing})
    hub = current_app.extensions["live"]
    heartbeat = float(current_app.config.get("EVENTS_HEARTBEAT_S", stream.HEARTBEAT_S))
    opened = stream.open_stream(db.session(), hub, user, after, heartbeat_s=heartbeat)
    db.session().close()  # a stream holds no database connection
    return Response(opened, mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
