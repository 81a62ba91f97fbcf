"""Sign-in and sign-out pages, and who the caller is (GET /api/v1/me)."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from app.accounts import users
from app.accounts.auth import current_user, login_required
from app.db import db

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after sign-in."""
    if not target:
        return url_for("consoles.dispatcher")
    if any(ord(c) < 32 or ord(c) == 127 or c == "\\" for c in target):  # CR/LF would split the redirect header
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
    asked = request.args.get("next")
    outcome = db.write(lambda s: users.sign_in(s, request.form.get("username", ""), request.form.get("password", ""),
                                                address, current_app.config["LOGIN_RATE_LIMIT"]))
    if outcome.user is None:
        error = _("Too many failed sign-ins from this address: wait ten minutes and try again.") \
            if outcome.throttled else _("Wrong user name or password, or the account is locked for a while.")
        return render_template("login.html", error=error), 429 if outcome.throttled else 401
    lang = session.get("lang")  # the language chosen on the sign-in page stays chosen
    session.clear()
    session["user_id"], session["session_version"] = outcome.user.id, outcome.user.session_version
    if lang:
        session["lang"] = lang
    if asked in (None, "", "/") and outcome.user.role in ("patrol", "handler"):  # field staff: the field app
        return redirect(url_for("fieldapp.page"))
    return redirect(_safe_next(asked))


@bp.post("/logout")
def logout():
    """Sign out: this user's sessions end on the server too, so a copied cookie no longer works."""
    user = current_user()
    if user is not None and not g.via_token:
        db.write(lambda s: users.sign_out(s, user.id))
    session.clear()
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
