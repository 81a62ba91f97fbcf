"""File exchange and the API's own description: GET /api/v1/exports (and /exports/<layer>.<format>),
GET /api/v1/openapi.json and the page that shows it, /api/v1/docs."""

from __future__ import annotations

import re
from dataclasses import replace

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _

from app.accounts.auth import current_user, login_required
from app.db import db
from app.errors import NotFound
from app.interop import exports, ogc, openapi

exports_bp = Blueprint("exports", __name__, url_prefix="/api/v1")
apidoc_bp = Blueprint("apidoc", __name__, url_prefix="/api/v1")
EXPORT_MAX = 1_000_000  # features per file unless `limit` asks for fewer
PREFIX = "/api/v1"


@exports_bp.get("/exports")
@login_required
def index():
    """The layers and the formats each can be exported in."""
    listed = [{"layer": layer, "geometry": ogc.get(layer).geometry, "formats": {
        f: url_for("exports.export", layer=layer, fmt=f, _external=True) for f in exports.formats_of(layer)}}
        for layer in exports.layers()]
    return jsonify(layers=listed)


@exports_bp.get("/exports/<layer>.<fmt>")
@login_required
def export(layer: str, fmt: str):
    """A layer as a file: the caller's view of the OGC collection, with its bbox, datetime and version filters."""
    collection = ogc.get(layer)
    if collection is None:
        raise NotFound("layer", layer)
    q = ogc.parse_items_query(request.args, current_user(), collection)
    if "limit" not in request.args:
        q = replace(q, limit=EXPORT_MAX)
    done = exports.export(db.session(), layer, fmt, q)
    response = Response(done.data, content_type=done.mimetype)  # the charset is in it already (CSV)
    response.headers["Content-Disposition"] = f'attachment; filename="{done.filename}"'
    response.headers["X-Feature-Count"] = str(done.count)
    return response


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


@apidoc_bp.get("/openapi.json")
@login_required
def spec():
    """The OpenAPI 3.0 document of the JSON API (signed-in users and API tokens only)."""
    return jsonify(document())


@apidoc_bp.get("/docs")
@login_required
def docs():
    """The same document as a page, Chinese by default (?lang=en for English)."""
    return render_template("openapi.html", doc=document(), title=_("API reference (/api/v1)"))
