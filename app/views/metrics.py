"""GET /metrics: Prometheus text format, for the scrape secret, an administrator, or (if allowed) loopback.

Who may read it (README "Monitoring"):
- `Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set (a scrape secret that is not a user);
- an administrator's API token or session;
- with METRICS_LOOPBACK=true, a request made on this host straight to gunicorn: from 127.0.0.1 or ::1
  and without the forwarding headers a proxy adds (nginx on the same host connects from loopback too).
Everyone else gets 401 (nobody) or 403 (another role).
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from flask import Blueprint, Response, current_app, jsonify, request

from app.auth import current_user
from app.config import ConfigError, _bool
from app.db import db
from app.services import metrics

bp = Blueprint("metrics", __name__)
PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@bp.record_once
def _configure(state) -> None:
    """METRICS_TOKEN and METRICS_LOOPBACK from the environment unless the app config sets them; checked here."""
    config = state.app.config
    config.setdefault("METRICS_TOKEN", os.environ.get("METRICS_TOKEN", ""))
    config.setdefault("METRICS_LOOPBACK", _bool("METRICS_LOOPBACK", False))
    if config["METRICS_TOKEN"] and len(config["METRICS_TOKEN"]) < 16:
        raise ConfigError("METRICS_TOKEN must be at least 16 characters (or empty to turn it off)")


@bp.get("/metrics")
def prometheus():
    """The platform's figures in Prometheus text format."""
    refusal = _refusal()
    if refusal is not None:
        return refusal
    body = metrics.render(metrics.collect(db.session()))
    return Response(body, content_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


def _refusal():
    if _scrape_secret() or _local():
        return None
    user = current_user()
    if user is None:
        return jsonify(error="unauthorized",
                       message="send Authorization: Bearer with METRICS_TOKEN or an administrator's token"), 401
    if user.role != "admin":
        return jsonify(error="forbidden", message=f"role {user.role} may not read the metrics"), 403
    return None


def _scrape_secret() -> bool:
    token = current_app.config["METRICS_TOKEN"]
    header = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(header.encode(), f"Bearer {token}".encode())


def _local() -> bool:
    if not current_app.config["METRICS_LOOPBACK"] or any(h in request.headers for h in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
