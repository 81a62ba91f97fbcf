"""Pages: sign-in and sign-out (the consoles are in app/views/console.py)."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from app.db import db
from app.services import audit, users

bp = Blueprint("pages", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after sign-in."""
    if not target:
        return url_for("console.dispatcher")
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("console.dispatcher")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Password sign-in."""
    error = None
    if request.method == "POST":
        s = db.session()
        address = request.remote_addr or "unknown"
        if users.recent_failures(s, address) >= current_app.config["LOGIN_RATE_LIMIT"]:
            error = _("Too many failed sign-ins from this address: wait ten minutes and try again.")
            return render_template("login.html", error=error), 429
        user = users.authenticate(s, request.form.get("username", ""), request.form.get("password", ""))
        if user is None:
            error = _("Wrong user name or password, or the account is locked for a while.")
            audit.record(s, request.form.get("username", "")[:80] or "?", "user.login_failed", "address", address)
            s.commit()  # keep the failure count
        else:
            audit.record(s, user.username, "user.login", "user", user.id)
            s.commit()
            session.clear()
            session["user_id"] = user.id
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    """Sign out."""
    session.pop("user_id", None)
    return redirect(url_for("pages.login"))
