"""Open311 GeoReport v2 under /open311/v2, in JSON and XML (the extension of the path chooses).

Discovery and services are public, as the spec has them. POST requests is form-encoded and
authenticated by `api_key` (an API token of a user who may file reports); it is exempt from CSRF
because no cookie can authenticate it (app/auth.py). Reading requests is public too (the spec's
fields only: no reporter's name, phone or e-mail), unless OPEN311_PUBLIC_READ is false, when it needs
an api_key; a key owner sees what their role may see. A key owner's reports arrive through channel
`app` unless OPEN311_CHANNELS ("user:channel,...") names another.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, request, url_for

from app.accounts import users
from app.accounts.models import User
from app.cases import intake
from app.cases.intake import REPORTERS
from app.db import db
from app.errorhandlers import render_with
from app.errors import DomainError
from app.interop import open311

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

DEFAULT_CHANNEL = "app"
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
CHANGESET = "2026-11-01T00:00:00+08:00"


# --------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------


def _answer(fmt: str, root: str, value, status: int = 200) -> Response:
    if fmt == "xml":
        body = open311.to_xml(root, value)
    else:
        body = json.dumps(value, ensure_ascii=False)
    return Response(body, status=status, content_type=FORMATS[fmt])


def _error(exc: DomainError) -> Response:
    """Every refusal under /open311/v2 in the spec's format, JSON or XML by the path's extension."""
    fmt = (request.view_args or {}).get("fmt") or request.path.rsplit(".", 1)[-1]
    status = 400 if exc.status == 422 else exc.status
    description = exc.message if isinstance(exc, open311.Open311Error) or not exc.field else \
        f"{exc.field}: {exc.message}"
    return _answer(fmt if fmt in FORMATS else "json", "errors", [{"code": status, "description": description}],
                   status)


render_with(bp, _error)


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise open311.Open311Error(404, f"format {fmt!r} is not served: use .json or .xml")
    jurisdiction = request.values.get("jurisdiction_id")
    if jurisdiction and jurisdiction != open311.JURISDICTION:
        raise open311.Open311Error(404, f"jurisdiction_id {jurisdiction!r} was not found; "
                                        f"this endpoint serves {open311.JURISDICTION}")
    return fmt


def _key_owner(required: bool) -> User | None:
    """The user whose API token is the api_key (403 when missing or wrong)."""
    key = request.values.get("api_key", "").strip()
    if not key:
        if required:
            raise open311.Open311Error(403, "api_key was not provided")
        return None
    user = users.user_for_token(db.session(), key)
    if user is None:
        raise open311.Open311Error(403, "api_key is invalid")
    return user


def _reader() -> User | None:
    return _key_owner(required=not current_app.config["OPEN311_PUBLIC_READ"])


# --------------------------------------------------------------------------------------------
# Endpoints
# --------------------------------------------------------------------------------------------


@bp.get("/discovery.<fmt>")
def discovery(fmt: str):
    """Where the endpoint is and what it speaks (public)."""
    fmt = _format(fmt)
    url = url_for("open311.discovery", fmt="json", _external=True).rsplit("/", 1)[0]
    return _answer(fmt, "discovery", open311.discovery(url, CHANGESET))


@bp.get("/services.<fmt>")
def services(fmt: str):
    """The categories as services (public)."""
    fmt = _format(fmt)
    return _answer(fmt, "services", open311.services(db.session()))


@bp.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str):
    """A service's attributes (public)."""
    fmt = _format(fmt)
    return _answer(fmt, "service_definition", open311.service_definition(db.session(), code))


@bp.post("/requests.<fmt>")
def post_request(fmt: str):
    """File a service request (form-encoded) through intake: 201 with its id and token."""
    fmt = _format(fmt)
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise open311.Open311Error(400, f"a GeoReport v2 POST is form-encoded (application/x-www-form-urlencoded), "
                                        f"not {request.mimetype or 'an empty body'}: send api_key, service_code, "
                                        "lat and long (or address_string) as form fields")
    user = _key_owner(required=True)
    if user.role not in REPORTERS:
        raise open311.Open311Error(403, f"the api_key's owner (role {user.role}) may not file requests")
    form = {k: v.strip() for k, v in request.form.items() if not k.startswith("attribute[")}
    attributes = {k[len("attribute["):-1]: v.strip() for k, v in request.form.items()
                  if k.startswith("attribute[") and k.endswith("]")}
    caller = open311.Caller(user, current_app.config["OPEN311_CHANNELS"].get(user.username, DEFAULT_CHANNEL))
    settings = intake.IntakeSettings.from_config(current_app.config)
    answer = db.write(lambda s: open311.submit(s, settings, caller, form, attributes))
    return _answer(fmt, "service_requests", [answer], 201)


@bp.get("/requests.<fmt>")
def get_requests(fmt: str):
    """Requests by ids, service codes, dates and status (default: the last 90 days), newest first, 1,000 a page
    (`page`, `page_size`: our extension)."""
    fmt = _format(fmt)
    user = _reader()
    found = open311.find(db.session(), user, open311.parse_query(request.args))
    return _answer(fmt, "service_requests", found)


@bp.get("/requests/<request_id>.<fmt>")
def get_request(request_id: str, fmt: str):
    """One request."""
    fmt = _format(fmt)
    return _answer(fmt, "service_requests", open311.one(db.session(), _reader(), request_id))


@bp.get("/tokens/<token_id>.<fmt>")
def get_token(token_id: str, fmt: str):
    """The request id a token (the report id of a POST) became."""
    fmt = _format(fmt)
    return _answer(fmt, "service_requests", open311.token(db.session(), _reader(), token_id))
