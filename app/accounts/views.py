"""Sign-in and sign-out pages, and who the caller is (GET /api/v1/me)."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from app.accounts import users
from app.accounts.auth import current_user, login_required
from app.db import db

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after sign-in."""
    if not target:
        return url_for("consoles.dispatcher")
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("consoles.dispatcher")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Password sign-in."""
    if request.method == "GET":
        return render_template("login.html", error=None)
    address = request.remote_addr or "unknown"
    outcome = db.write(lambda s: users.sign_in(s, request.form.get("username", ""), request.form.get("password", ""),
                                                address, current_app.config["LOGIN_RATE_LIMIT"]))
    if outcome.user is None:
        error = _("Too many failed sign-ins from this address: wait ten minutes and try again.") \
            if outcome.throttled else _("Wrong user name or password, or the account is locked for a while.")
        return render_template("login.html", error=error), 429 if outcome.throttled else 401
    session.clear()
    session["user_id"] = outcome.user.id
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
def logout():
    """Sign out."""
    session.pop("user_id", None)
    return redirect(url_for("accounts.login"))


@bp.get("/api/v1/me")
@login_required
def me():
    """Who the caller is."""
    user = current_user()
    return jsonify(
        username=user.username, display_name=user.display_name, role=user.role,
        department=user.department_code, station=user.station_code,
    )
