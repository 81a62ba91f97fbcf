"""Operations: GET /healthz (the database and the boundary version; 503 when the database is down) and
GET /metrics (Prometheus text format, for the scrape secret, an administrator, or, if allowed, loopback).

Who may read the metrics (README "Monitoring"):
- `Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set (a scrape secret that is not a user);
- an administrator's API token or session;
- with METRICS_LOOPBACK=true, a request made on this host straight to gunicorn: from 127.0.0.1 or ::1
  and without the forwarding headers a proxy adds (nginx on the same host connects from loopback too).
Everyone else gets 401 (nobody) or 403 (another role).
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, jsonify, request

from app.accounts.auth import current_user
from app.db import db
from app.errorhandlers import as_json, render_with
from app.errors import Forbidden, Unauthorized
from app.interop import metrics

bp = Blueprint("ops", __name__)
render_with(bp, as_json)  # scrapers and probes read JSON, whoever they are
PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@bp.get("/healthz")
def healthz():
    """200 with the database, the boundary version and the indexes (degraded when one is stale); 503 when the
    database is away."""
    body = metrics.health(db.session())
    if body["status"] != "unavailable":  # degraded: older indexes still serve, so the host stays in rotation
        return jsonify(body)
    return jsonify(body), 503, {"Retry-After": "5"}


@bp.get("/metrics")
def prometheus():
    """The platform's figures in Prometheus text format."""
    _check_access()
    body = metrics.render(metrics.collect(db.session()))
    return Response(body, content_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


def _check_access() -> None:
    if _scrape_secret() or _local():
        return
    user = current_user()
    if user is None:
        raise Unauthorized("send Authorization: Bearer with METRICS_TOKEN or an administrator's token")
    if user.role != "admin":
        raise Forbidden(f"role {user.role} may not read the metrics")


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
