"""Who is asking: a signed-in session for pages, `Authorization: Bearer TOKEN` for the API, and for
reading clients that speak only HTTP Basic (QGIS, GDAL, OWSLib) `Authorization: Basic` with the user
name and an API token as the password, as GitHub and GitLab accept. Basic is for reading only: a
browser that once answered a Basic challenge sends it again by itself, so a write with it could be
forged by another site; writes need Bearer (or a session and its CSRF token)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from functools import wraps

from flask import Flask, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import SQLAlchemyError

from app.accounts import users
from app.accounts.models import User
from app.db import db
from app.errorhandlers import wants_json
from app.errors import Forbidden, Unauthorized

csrf = CSRFProtect()
CSRF_EXEMPT_BLUEPRINTS = ("open311",)  # authenticated by an api_key in the form, never by a cookie
CSRF_EXEMPT_ENDPOINTS = ("ops.healthz",)


def init_app(app: Flask) -> None:
    """Resolve the user before each request; CSRF on forms (bearer-token API calls are exempt)."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked below, after we know who is calling
    csrf.init_app(app)

    @app.before_request
    def _load_user():
        g.user = None
        g.via_token = False
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            g.user = users.user_for_token(db.session(), header[len("Bearer ") :].strip())
            g.via_token = g.user is not None
        elif header[:6].lower() == "basic ":
            g.user = _basic_user(header[6:].strip())
            g.via_token = g.user is not None
        elif session.get("user_id"):
            g.user = users.active_user(db.session(), session["user_id"], session.get("session_version"))
            if g.user is None:
                session.clear()  # ended elsewhere (sign-out, password, role): this cookie is done
        # A bearer token cannot be forged by another site; a cookie can, so cookie writes need CSRF.
        # An anonymous API call is refused with 401 by the view; forms (login) always need the token.
        if request.method not in READ_METHODS and not header.startswith("Bearer "):
            exempt = request.endpoint in CSRF_EXEMPT_ENDPOINTS or request.blueprint in CSRF_EXEMPT_BLUEPRINTS
            if not exempt and not (g.user is None and wants_json()):
                csrf.protect()

    @app.context_processor
    def _who():
        return {"current_user": g.get("user"), "demo_mode": demo_mode()}


READ_METHODS = ("GET", "HEAD", "OPTIONS")


def _basic_user(credentials: str) -> User | None:
    """The user of `Basic base64(name:token)`: the token must be live and belong to that name. Refused
    (Unauthorized, which names the reason) when malformed or sent with a write."""
    if request.method not in READ_METHODS:
        raise Unauthorized("HTTP Basic is accepted for reading only; send Authorization: Bearer TOKEN to write")
    try:
        name, sep, token = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("Authorization: Basic must be base64 of user:token") from None
    if not sep or not token:
        raise Unauthorized("Authorization: Basic must be base64 of user:token")
    user = users.user_for_token(db.session(), token)
    return user if user is not None and user.username == name else None


def demo_mode() -> bool:
    """True when the demo users are loaded: every page then says it is a demo."""
    if "demo_mode" not in g:
        try:
            g.demo_mode = users.demo_loaded(db.session())
        except SQLAlchemyError:  # the banner must never break a page (the page says why it failed)
            g.demo_mode = False
    return g.demo_mode


def current_user() -> User | None:
    """The user of this request, if any."""
    return g.get("user")


def login_required(view: Callable) -> Callable:
    """Refuse anonymous callers: 401 for the API, a redirect to the login page otherwise."""

    @wraps(view)
    def wrapper(*args: object, **kwargs: object) -> object:
        if current_user() is None:
            if wants_json():
                raise Unauthorized("sign in or send Authorization: Bearer TOKEN (or Basic user:token to read)")
            return redirect(url_for("accounts.login", next=request.full_path if request.query_string else request.path))
        return view(*args, **kwargs)

    return wrapper


def roles_required(*roles: str) -> Callable[[Callable], Callable]:
    """Refuse users whose role is not listed (403)."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapper(*args: object, **kwargs: object) -> object:
            if current_user().role not in roles:
                raise Forbidden(f"role {current_user().role} may not do this")
            return view(*args, **kwargs)

        return wrapper

    return decorate
