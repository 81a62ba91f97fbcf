"""OGC API - Features (Part 1: Core, GeoJSON, HTML, OpenAPI 3.0) under /ogc.

Metadata (landing page, conformance, API definition, the collections' descriptions and queryables) is
open to everyone; features follow the API's rule (a signed-in user, a bearer token, or HTTP Basic with
the user name and an API token, which is what QGIS, GDAL and OWSLib can send) unless the collection is
listed in PUBLIC_COLLECTIONS. Each view parses the request, asks app/interop/ogc.py, and renders
GeoJSON/JSON or HTML (?f=json|html or the Accept header). Every refusal under /ogc, unknown paths
included, is an OGC exception in JSON.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.accounts.auth import current_user
from app.db import db
from app.errorhandlers import render_with
from app.errors import DomainError, InputError, Unauthorized
from app.interop import ogc, openapi, tiles
from app.territory import boundaries

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
TITLES = {
    "Unit grid cells": _l("Unit grid cells"), "Communities": _l("Communities"),
    "Workstation territories": _l("Workstation territories"), "Town": _l("Town"), "Stations": _l("Stations"),
    "Station coverage": _l("Station coverage"), "Roads": _l("Roads"), "Addresses": _l("Addresses"),
    "Cases": _l("Cases"), "Hotspots": _l("Hotspots"),
    "Patrol routes": _l("Patrol routes"),
}


# --------------------------------------------------------------------------------------------
# Errors in the OGC exception format
# --------------------------------------------------------------------------------------------


def _exception(code: str, description: str, status: int) -> Response:
    body = json.dumps({"code": code, "description": description}, ensure_ascii=False)
    return Response(body, status=status, mimetype="application/json")


OGC_CODES = {400: "InvalidParameterValue", 401: "Unauthorized", 404: "NotFound", 405: "MethodNotAllowed",
             422: "InvalidParameterValue"}


def _answer(exc: DomainError) -> Response:
    """Every refusal under /ogc in the OGC exception format (app/errorhandlers.py calls this)."""
    if exc.status == 401 and _format() == "html":
        return redirect(url_for("accounts.login", next=request.full_path))
    status = 400 if exc.status == 422 else exc.status
    description = f"{exc.field}: {exc.message}" if exc.field else exc.message
    response = _exception(OGC_CODES.get(status, "ServerError" if status >= 500 else "InvalidParameterValue"),
                          description, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = CHALLENGE
    return response


CHALLENGE = 'Bearer, Basic realm="nanhui", charset="UTF-8"'
NEEDS_USER = "sign in, or send Authorization: Bearer TOKEN or Basic user:token"


render_with(bp, _answer)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _format() -> str:
    """json or html: ?f= first, then the Accept header (JSON when nothing says otherwise)."""
    f = request.args.get("f")
    if f is not None:
        return f if f in ("json", "html") else "json"
    best = request.accept_mimetypes.best_match([GEOJSON, "application/json", "text/html"], default=GEOJSON)
    return "html" if best == "text/html" else "json"


def _json(body: dict, mimetype: str = "application/json") -> Response:
    return Response(json.dumps(body, ensure_ascii=False), mimetype=mimetype)


def _link(endpoint: str, rel: str, mimetype: str, title: str, **values) -> dict:
    return {"href": url_for(endpoint, _external=True, **values), "rel": rel, "type": mimetype, "title": title}


def _self_links(endpoint: str, mimetype: str = "application/json", **values) -> list[dict]:
    """self and alternate links for the JSON and HTML forms of this resource."""
    here = _format()
    json_link = _link(endpoint, "self" if here == "json" else "alternate", mimetype, "JSON", f="json", **values)
    html_link = _link(endpoint, "self" if here == "html" else "alternate", "text/html", "HTML", f="html", **values)
    return [json_link, html_link]


@bp.before_request
def _check_format():
    if request.args.get("f") not in (None, "json", "html"):
        raise InputError("f", "f must be json or html", 400)


def _public() -> frozenset[str]:
    return current_app.config.get("PUBLIC_COLLECTIONS", frozenset())


def readable(collection_id: str) -> bool:
    """Whether the caller may read this collection."""
    return current_user() is not None or collection_id in _public()


def _collection(collection_id: str) -> ogc.Collection:
    found = ogc.get(collection_id)
    if found is None:
        raise DomainError(f"no collection {collection_id!r}", status=404, error="not_found")
    return found


def _features_of(collection_id: str) -> ogc.Collection:
    """The collection, if the caller may read its features (401 otherwise)."""
    found = _collection(collection_id)
    if not readable(collection_id):
        raise Unauthorized(f"{NEEDS_USER} to read the features of {collection_id}")
    return found


def _title(c: ogc.Collection) -> str:
    return str(TITLES.get(c.title, c.title))


def _describe(c: ogc.Collection, bbox: list[float]) -> dict:
    body = {
        "id": c.id, "title": _title(c), "description": c.description, "itemType": "feature",
        "crs": ogc.CRS_URIS, "storageCrs": ogc.CRS84,
        "extent": {"spatial": {"bbox": [bbox], "crs": ogc.CRS84}},
        "links": [
            _link("ogc.items", "items", GEOJSON, _("Items") + " (GeoJSON)", collection_id=c.id, f="json"),
            _link("ogc.items", "items", "text/html", _("Items") + " (HTML)", collection_id=c.id, f="html"),
            _link("ogc.queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables", "application/schema+json",
                  _("Queryables"), collection_id=c.id),
            *([_link("ogc.tilesets", "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "application/json",
                     _("Vector tiles"), collection_id=c.id)] if c.id in tiles.LAYERS else []),
            *_self_links("ogc.collection", collection_id=c.id),
        ],
        "geometryType": c.geometry,
    }
    if c.temporal:
        body["extent"]["temporal"] = {"interval": [[None, None]], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return body


def _render(template: str, body: dict, mimetype: str = "application/json", **extra):
    if _format() == "html":
        features = body.get("features") or []
        columns = list(dict.fromkeys(k for f in features for k in (f.get("properties") or {})))
        return render_template(template, body=body, columns=columns, **extra)
    return _json(body, mimetype)


# --------------------------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------------------------


@bp.get("")
@bp.get("/")
def landing():
    """The landing page: links to the API definition, conformance and the collections."""
    body = {
        "title": _("Nanhui New City Town grid management: OGC API - Features"),
        "description": _("Boundaries, stations, cases and hotspots of Nanhui New City Town as OGC API - Features."),
        "links": [
            *_self_links("ogc.landing"),
            _link("ogc.api", "service-desc", OPENAPI, _("API definition (OpenAPI 3.0)"), f="json"),
            _link("ogc.api", "service-doc", "text/html", _("API documentation"), f="html"),
            _link("ogc.conformance", "conformance", "application/json", _("Conformance classes"), f="json"),
            _link("ogc.collections", "data", "application/json", _("Collections"), f="json"),
        ],
    }
    return _render("ogc/landing.html", body)


@bp.get("/conformance")
def conformance():
    """The conformance classes this server implements."""
    return _render("ogc/landing.html", {"title": _("Conformance classes"), "conformsTo": ogc.CONFORMANCE,
                                        "links": _self_links("ogc.conformance")})


@bp.get("/api")
def api():
    """The OpenAPI 3.0 definition of this OGC API (JSON) or a page that shows it."""
    base = url_for("ogc.landing", _external=True).rstrip("/")
    document = openapi.ogc_document(base, list(ogc.COLLECTIONS.values()))
    if _format() == "html":
        return render_template("openapi.html", doc=document, title=_("OGC API - Features: API definition"))
    return _json(document, OPENAPI)


@bp.get("/collections")
def collections():
    """Every collection (metadata is open; reading the features of most needs a user)."""
    bbox = boundaries.town_bbox(db.session())
    listed = [_describe(c, bbox) for c in ogc.COLLECTIONS.values()]
    body = {"links": _self_links("ogc.collections"), "collections": listed}
    return _render("ogc/collections.html", body)


@bp.get("/collections/<collection_id>")
def collection(collection_id: str):
    """One collection's metadata: the collection object itself (its own links inside)."""
    c = _collection(collection_id)
    described = _describe(c, boundaries.town_bbox(db.session()))
    if _format() == "html":
        return _render("ogc/collections.html", {"collections": [described], "links": described["links"]})
    return _json(described)


@bp.get("/collections/<collection_id>/queryables")
def queryables(collection_id: str):
    """The properties a client may name in a filter, as a JSON Schema (OGC API - Features Part 3)."""
    c = _collection(collection_id)
    body = ogc.queryables(c, url_for("ogc.queryables", collection_id=c.id, _external=True), _title(c))
    return _json(body, "application/schema+json")



@bp.get("/collections/<collection_id>/tiles")
def tilesets(collection_id: str):
    """The tilesets of a collection: WebMercatorQuad vector tiles for the layers that have them."""
    c = _tiled(collection_id)
    base = url_for("ogc.tileset", collection_id=c.id, matrix_set=tiles.MATRIX_SET, _external=True)
    return _json({"tilesets": [{"title": _title(c), "dataType": "vector", "tileMatrixSetURI": tiles.MATRIX_SET_URI,
                                "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
                                "links": [{"rel": "self", "type": "application/json", "href": base}]}]})


@bp.get("/collections/<collection_id>/tiles/<matrix_set>")
def tileset(collection_id: str, matrix_set: str):
    """The tileset document: zoom levels and the tile URL template."""
    c = _tiled(collection_id, matrix_set)
    base = url_for("ogc.tileset", collection_id=c.id, matrix_set=matrix_set, _external=True)
    return _json(tiles.tileset(c.id, base, _title(c)))


@bp.get("/collections/<collection_id>/tiles/<matrix_set>/<int:z>/<int:y>/<int:x>")
def tile(collection_id: str, matrix_set: str, z: int, y: int, x: int):
    """One Mapbox Vector Tile (the caller's cases; boundaries, roads and addresses as they are)."""
    if not readable(_collection(collection_id).id):
        raise Unauthorized(f"{NEEDS_USER} to read the tiles of {collection_id}")
    c = _tiled(collection_id, matrix_set)
    data = tiles.tile(db.session(), c.id, z, x, y, current_user())
    response = Response(data, mimetype=tiles.MVT)
    response.headers["Cache-Control"] = "private, max-age=60" if c.id == "cases" else "public, max-age=300"
    return response


def _tiled(collection_id: str, matrix_set: str = tiles.MATRIX_SET) -> ogc.Collection:
    c = _collection(collection_id)
    if c.id not in tiles.LAYERS:
        raise DomainError(f"collection {c.id} has no tiles; tiles: {', '.join(tiles.LAYERS)}", status=404,
                          error="not_found")
    if matrix_set != tiles.MATRIX_SET:
        raise DomainError(f"tile matrix set {matrix_set!r} is not served; use {tiles.MATRIX_SET}", status=404,
                          error="not_found")
    return c


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str):
    """A page of features: bbox, limit (up to 10,000), offset, datetime, version; next link while more match."""
    c = _features_of(collection_id)
    q = ogc.parse_items_query(request.args, current_user(), c)
    page = c.items(db.session(), q)
    args = {k: v for k, v in request.args.items() if k not in ("offset", "f")}
    links = _self_links("ogc.items", GEOJSON, collection_id=c.id, offset=q.offset, **args)
    if q.offset + len(page.features) < page.matched:
        links.append(_link("ogc.items", "next", GEOJSON, _("Next page"), collection_id=c.id, f=_format(),
                           offset=q.offset + len(page.features), **args))
    if q.offset > 0:
        links.append(_link("ogc.items", "prev", GEOJSON, _("Previous page"), collection_id=c.id, f=_format(),
                           offset=max(q.offset - q.limit, 0), **args))
    links.append(_link("ogc.collection", "collection", "application/json", _title(c), collection_id=c.id))
    body = {
        "type": "FeatureCollection", "features": [ogc.shape(f, q) for f in page.features],
        "numberMatched": page.matched, "numberReturned": len(page.features),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "links": links,
    }
    response = make_response(_render("ogc/items.html", body, GEOJSON, collection=c, title=_title(c)))
    response.headers["Content-Crs"] = f"<{q.crs}>"
    return response


@bp.get("/collections/<collection_id>/items/<feature_id>")
def item(collection_id: str, feature_id: str):
    """One feature by id."""
    c = _features_of(collection_id)
    kept = ("version", "datetime", "f", "lang", "properties", "skipGeometry", "crs")
    q = ogc.parse_items_query({k: v for k, v in request.args.items() if k in kept}, current_user(), c)
    found = c.item(db.session(), q, feature_id)
    if found is None:
        raise DomainError(f"no feature {feature_id!r} in {c.id}", status=404, error="not_found")
    found = ogc.shape(found, q)
    found["links"] = [
        *_self_links("ogc.item", GEOJSON, collection_id=c.id, feature_id=feature_id),
        _link("ogc.collection", "collection", "application/json", _title(c), collection_id=c.id),
    ]
    body = {"type": "FeatureCollection", "features": [found], "numberMatched": 1, "numberReturned": 1,
            "links": found["links"]}
    if _format() == "html":
        return _render("ogc/items.html", body, collection=c, title=_title(c), single=True)
    response = _json(found, GEOJSON)
    response.headers["Content-Crs"] = f"<{q.crs}>"
    return response
