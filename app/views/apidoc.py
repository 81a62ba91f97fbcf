"""The OpenAPI 3.0 document of /api/v1 (GET /api/v1/openapi.json) and a page that shows it (GET /api/v1/docs)."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, jsonify, render_template, url_for
from flask_babel import gettext as _

from app.auth import login_required
from app.services import openapi

bp = Blueprint("apidoc", __name__, url_prefix="/api/v1")
PREFIX = "/api/v1"


def _routes() -> list[tuple[str, str, str]]:
    """(OpenAPI path, method, summary) of every /api/v1 route in the app, for the ones the document lacks."""
    found = []
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/") or rule.endpoint.startswith("apidoc."):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(PREFIX):])
        view = current_app.view_functions[rule.endpoint]
        summary = (view.__doc__ or "").strip().splitlines()[0] if view.__doc__ else ""
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((path, method, summary))
    return found


def document() -> dict:
    """The document for this app and host."""
    return openapi.api_document(url_for("apidoc.spec", _external=True).rsplit("/", 1)[0], _routes())


@bp.get("/openapi.json")
@login_required
def spec():
    """The OpenAPI 3.0 document of the JSON API (signed-in users and API tokens only)."""
    return jsonify(document())


@bp.get("/docs")
@login_required
def docs():
    """The same document as a page, Chinese by default (?lang=en for English)."""
    return render_template("openapi.html", doc=document(), title=_("API reference (/api/v1)"))
