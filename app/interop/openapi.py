"""OpenAPI 3.0 documents: the OGC API - Features definition (from the collection registry) and /api/v1."""

from __future__ import annotations

import re

from app import schemas
from app.interop import tiles
from app.interop.ogc import CRS_URIS, DEFAULT_LIMIT, MAX_LIMIT, Collection
from app.territory import features


def _json_response(description: str, schema: dict | None = None, mimetype: str = "application/json") -> dict:
    content = {mimetype: {"schema": schema or {"type": "object"}}, "text/html": {"schema": {"type": "string"}}}
    return {"description": description, "content": content}


_EXCEPTION = {"$ref": "#/components/schemas/exception"}
_COLLECTION = {"$ref": "#/components/schemas/featureCollection"}
_ERRORS = {
    "400": {"description": "a query parameter has an invalid value",
            "content": {"application/json": {"schema": _EXCEPTION}}},
    "401": {"description": "sign in or send Authorization: Bearer TOKEN",
            "content": {"application/json": {"schema": _EXCEPTION}}},
    "404": {"description": "no such collection or feature", "content": {"application/json": {"schema": _EXCEPTION}}},
}
_F = {"name": "f", "in": "query", "required": False, "description": "json (default) or html",
      "schema": {"type": "string", "enum": ["json", "html"]}}


def _items_parameters(c: Collection) -> list[dict]:
    params = [
        {"name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
         "description": "minlon,minlat,maxlon,maxlat in CRS84",
         "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}},
        {"name": "limit", "in": "query", "required": False, "style": "form", "explode": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
        {"name": "offset", "in": "query", "required": False, "description": "features to skip (next links use it)",
         "schema": {"type": "integer", "minimum": 0, "default": 0}},
        {"name": "crs", "in": "query", "required": False, "description": "the CRS of the geometries (Part 2)",
         "schema": {"type": "string", "format": "uri", "enum": CRS_URIS, "default": CRS_URIS[0]}},
        {"name": "bbox-crs", "in": "query", "required": False, "description": "the CRS of bbox, in its axis order",
         "schema": {"type": "string", "format": "uri", "enum": CRS_URIS, "default": CRS_URIS[0]}},
        {"name": "properties", "in": "query", "required": False, "description": "properties to return, comma-separated",
         "schema": {"type": "string"}},
        {"name": "skipGeometry", "in": "query", "required": False, "schema": {"type": "boolean", "default": False}},
        _F,
    ]
    if c.queryables:
        params.append({"name": "sortby", "in": "query", "required": False,
                       "description": f"+/-property, comma-separated; one of {', '.join(c.queryables)}",
                       "schema": {"type": "string"}})
        params += [{"name": name, "in": "query", "required": False, "description": f"{name} equals this",
                    "style": "form", "explode": False,  # how QGIS recognises a simple queryable
                    "schema": {"type": kind}} for name, kind in c.queryables.items()]
    if c.id in features.SOURCES or c.id == "cases":
        params += [
            {"name": "filter", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "a CQL2 filter on the queryables and `geometry` (Part 3)"},
            {"name": "filter-lang", "in": "query", "required": False,
             "schema": {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"}},
        ]
    if c.temporal:
        params.append({"name": "datetime", "in": "query", "required": False, "style": "form", "explode": False,
                       "description": f"an instant or interval (RFC 3339, `..` for open ends) on {c.temporal}",
                       "schema": {"type": "string"}})
    if c.versioned:
        params.append({"name": "version", "in": "query", "required": False,
                       "description": "boundary version id (default: the current version)",
                       "schema": {"type": "integer", "minimum": 1}})
    return params


def _tile_paths(c: Collection) -> dict:
    if c.id not in tiles.LAYERS:
        return {}
    whole = {"type": "integer", "minimum": 0}
    level = [{"name": n, "in": "path", "required": True, "schema": whole} for n in ("tileMatrix", "tileRow", "tileCol")]
    return {
        f"/collections/{c.id}/tiles": {"get": {
            "summary": f"{c.title}: vector tilesets", "operationId": f"get_{c.id}_tilesets", "tags": [c.id],
            "responses": {"200": _json_response("the tilesets"), **_ERRORS}}},
        f"/collections/{c.id}/tiles/WebMercatorQuad": {"get": {
            "summary": f"{c.title}: the WebMercatorQuad tileset", "operationId": f"get_{c.id}_tileset",
            "tags": [c.id], "responses": {"200": _json_response("the tileset document"), **_ERRORS}}},
        f"/collections/{c.id}/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}": {"get": {
            "summary": f"{c.title}: one Mapbox Vector Tile", "operationId": f"get_{c.id}_tile", "tags": [c.id],
            "parameters": level,
            "responses": {"200": {"description": "the tile", "content": {tiles.MVT: {
                "schema": {"type": "string", "format": "binary"}}}}, **_ERRORS}}},
    }


def _collection_paths(c: Collection) -> dict:
    feature_id = {"name": "featureId", "in": "path", "required": True,
                  "schema": {"type": "integer" if c.id_type == "integer" else "string"}}
    tag = [c.id]
    return {
        f"/collections/{c.id}": {"get": {
            "summary": f"{c.title}: metadata", "operationId": f"describe_{c.id}", "tags": tag, "parameters": [_F],
            "responses": {"200": _json_response(c.description), **_ERRORS},
        }},
        f"/collections/{c.id}/queryables": {"get": {
            "summary": f"{c.title}: queryables", "operationId": f"get_{c.id}_queryables", "tags": tag,
            "responses": {"200": {"description": "the JSON Schema of the queryables",
                                  "content": {"application/schema+json": {"schema": {"type": "object"}}}},
                          **_ERRORS},
        }},
        f"/collections/{c.id}/items": {"get": {
            "summary": f"{c.title}: features", "description": c.description, "operationId": f"get_{c.id}_items",
            "tags": tag, "parameters": _items_parameters(c),
            "responses": {"200": _json_response("a page of features", _COLLECTION, "application/geo+json"),
                          **_ERRORS},
        }},
        f"/collections/{c.id}/items/{{featureId}}": {"get": {
            "summary": f"{c.title}: one feature", "operationId": f"get_{c.id}_feature", "tags": tag,
            "parameters": [feature_id, _F] + [p for p in _items_parameters(c)
                                               if p["name"] in ("version", "crs", "properties", "skipGeometry")],
            "responses": {"200": _json_response("the feature", {"$ref": "#/components/schemas/feature"},
                                                "application/geo+json"), **_ERRORS},
        }},
    }


def ogc_document(base_url: str, collections: list[Collection]) -> dict:
    """The OpenAPI 3.0 document of /ogc: landing page, conformance, collections and each collection's items."""
    paths = {
        "/": {"get": {"summary": "landing page", "operationId": "getLandingPage", "tags": ["Capabilities"],
                      "parameters": [_F], "responses": {"200": _json_response("links to the API")}}},
        "/conformance": {"get": {"summary": "conformance classes", "operationId": "getConformanceDeclaration",
                                 "tags": ["Capabilities"], "parameters": [_F],
                                 "responses": {"200": _json_response("the conformance classes")}}},
        "/api": {"get": {"summary": "this document", "operationId": "getAPI", "tags": ["Capabilities"],
                         "parameters": [_F], "responses": {"200": _json_response("OpenAPI 3.0")}}},
        "/collections": {"get": {"summary": "the collections the caller may read", "operationId": "getCollections",
                                 "tags": ["Capabilities"], "parameters": [_F],
                                 "responses": {"200": _json_response("collections")}}},
    }
    for c in collections:
        paths.update(_collection_paths(c))
        paths.update(_tile_paths(c))
    return {
        "openapi": "3.0.3",
        "info": {"title": "Nanhui New City Town grid management: OGC API - Features", "version": "1.0.0",
                 "description": "Boundaries, stations, cases and hotspots. Metadata is open; the features of "
                                "collections other than those made public need Authorization: Bearer TOKEN, HTTP "
                                "Basic with the user name and an API token, or a signed-in session."},
        "servers": [{"url": base_url}],
        "tags": [{"name": "Capabilities"}, *({"name": c.id, "description": c.description} for c in collections)],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "basic": {"type": "http", "scheme": "basic",
                                          "description": "user name, and an API token as the password (reading only)"}},
            "schemas": {
                "exception": {"type": "object", "required": ["code"],
                              "properties": {"code": {"type": "string"}, "description": {"type": "string"}}},
                "feature": {"type": "object", "required": ["type", "geometry", "properties"],
                            "properties": {"type": {"type": "string", "enum": ["Feature"]},
                                           "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                                           "geometry": {"type": "object", "nullable": True},
                                           "properties": {"type": "object", "nullable": True}}},
                "featureCollection": {"type": "object", "required": ["type", "features"],
                                      "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                                                     "features": {"type": "array",
                                                                  "items": {"$ref": "#/components/schemas/feature"}},
                                                     "numberMatched": {"type": "integer", "minimum": 0},
                                                     "numberReturned": {"type": "integer", "minimum": 0},
                                                     "links": {"type": "array", "items": {"type": "object"}}}},
            },
        },
        "security": [{}, {"bearer": []}, {"basic": []}],
    }


# --------------------------------------------------------------------------------------------
# /api/v1
# --------------------------------------------------------------------------------------------

_REF = "#/components/schemas/"
STATES = ("reported", "verified", "filed", "not_filed", "dispatched", "in_progress", "handled", "checked", "closed",
          "archived", "suspended", "void")
_STR, _INT, _NUM, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}


def _n(schema: dict) -> dict:
    """The same schema, allowing null."""
    return {**schema, "nullable": True}


def _obj(required: tuple[str, ...] = (), **props: dict) -> dict:
    schema: dict = {"type": "object", "properties": props}
    if required:
        schema["required"] = list(required)
    return schema


def _arr(items: dict) -> dict:
    return {"type": "array", "items": items}


def _ref(name: str) -> dict:
    return {"$ref": _REF + name}


_CODE_NAME = _n(_obj(("code",), code=_STR, name=_n(_STR)))
API_SCHEMAS = {
    "Error": _obj(("error",), error=_STR, message=_STR, field=_n(_STR)),
    "Me": _obj(("username", "role"), username=_STR, display_name=_STR, role=_STR, department=_n(_STR),
               station=_n(_STR)),
    "Owners": _obj(("station", "boundary_version", "near_boundary", "fallback", "inside_town"),
                   station=_CODE_NAME, community=_CODE_NAME, workstation=_CODE_NAME, grid_code=_n(_STR),
                   boundary_version=_n(_INT), near_boundary=_BOOL, fallback=_BOOL, inside_town=_BOOL),
    "Point": _obj(("lon", "lat"), lon=_NUM, lat=_NUM, srid=_INT),
    "Feature": _obj(("type", "geometry", "properties"), type={"type": "string", "enum": ["Feature"]},
                    geometry=_n({"type": "object"}), properties=_n({"type": "object"})),
    "FeatureCollection": _obj(("type", "features"), type={"type": "string", "enum": ["FeatureCollection"]},
                              features=_arr(_ref("Feature")), numberMatched=_INT, numberReturned=_INT,
                              links=_arr({"type": "object"})),
    "CaseFeatures": {"allOf": [_ref("FeatureCollection"), _obj(("numberMatched", "numberReturned"),
                     features=_arr(_obj(("id", "properties"), id=_INT, properties=_obj(
                         ("id", "state", "category", "station", "version"), id=_INT, state={"enum": list(STATES)},
                         category=_STR, station=_STR, version=_INT, light=_n({"enum": ["green", "yellow", "red"]}),
                         deadline=_n(_STR)))))]},
    "Report": _obj(("id", "case_id", "channel", "category", "description", "attachments"), id=_INT, case_id=_INT,
                   channel=_STR, reference=_n(_STR), category=_STR, urgency=_STR, description=_STR,
                   address=_n(_STR), grid_code=_n(_STR), station=_STR, merged=_BOOL, reported_at=_STR,
                   attachments=_arr(_obj(("id", "kind", "url"), id=_INT, kind={"enum": ["url", "upload"]},
                                         url=_STR))),
    "ReportAnswer": _obj(("report_id", "case_id", "merged", "replayed"), report_id=_INT, case_id=_INT,
                         merged=_BOOL, replayed=_BOOL, grid_code=_n(_STR), boundary_version=_n(_INT),
                         near_boundary=_BOOL),
    "Case": _obj(("id", "state", "version", "category", "station", "reports", "history", "actions"), id=_INT,
                 state={"enum": list(STATES)}, version=_INT, category=_STR, urgency=_STR, description=_STR,
                 lon=_NUM, lat=_NUM, station=_STR, grid_code=_n(_STR),
                 owner=_n(_obj(("kind", "code"), kind=_STR, code=_STR)), deadline=_n(_STR),
                 light=_n({"enum": ["green", "yellow", "red"]}), reports=_arr(_ref("Report")),
                 history=_arr(_obj(("at", "actor", "action"), at=_STR, actor=_STR, action=_STR)),
                 actions=_arr(_STR)),
    "Channels": _obj(("channels",), channels=_arr(_obj(("code", "name"), code=_STR, name=_STR, name_en=_STR))),
    "Categories": _obj(("categories",), categories=_arr(_obj(
        ("code", "kind", "name"), code={"type": "string", "pattern": "^[0-9]{5}$"},
        kind={"enum": ["component", "matter"]}, name=_STR, name_en=_STR, time_limit=_NUM, time_unit=_STR))),
    "Geocode": _obj(("query", "candidates"), query=_STR, candidates=_arr(_obj(
        ("address", "lon", "lat", "score"), address=_STR, lon=_NUM, lat=_NUM, score=_NUM, owners=_ref("Owners")))),
    "Located": {"allOf": [_ref("Owners"), _obj(("point",), point=_ref("Point"))]},
    "Kpi": _obj(("by", "from", "to", "rows"), by=_STR, **{"from": _STR}, to=_STR, rows=_arr({"type": "object"}),
                weights={"type": "object"}),
    "Digest": _obj(("from", "to", "span", "totals"), **{"from": _STR}, to=_STR, span={"enum": ["day", "week"]},
                   totals=_obj(("cases", "reports"), cases=_INT, reports=_INT, closed=_INT)),
    "Rule": _obj(("id", "priority", "target"), id=_INT, priority=_INT, name=_STR, target=_STR, active=_BOOL),
    "Rules": _obj(("rules",), rules=_arr(_ref("Rule"))),
    "Settings": _obj(("settings",), settings={"type": "object"}),
    "Order": _obj(("id", "case_id", "method", "state"), id=_INT, case_id=_INT, method=_STR, reason=_STR,
                  state={"enum": ["open", "answered", "closed"]}, automatic=_BOOL, created_at=_STR,
                  history=_arr({"type": "object"})),
    "Orders": _obj(("orders",), orders=_arr(_ref("Order"))),
    "SupervisionLists": _obj(("near_due", "overdue"), near_due=_ref("FeatureCollection"),
                             overdue=_ref("FeatureCollection")),
    "Exports": _obj(("layers",), layers=_arr(_obj(("layer", "formats"), layer=_STR, geometry=_STR,
                                                   formats={"type": "object"}))),
}


def _q(name: str, schema: dict, required: bool = False, description: str = "") -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def _p(name: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "integer", "minimum": 1}}


_LON = {"type": "number", "minimum": -180, "maximum": 180}
_LAT = {"type": "number", "minimum": -90, "maximum": 90}
_CRS = {"type": "string", "enum": ["wgs84", "cgcs2000", "gcj02", "bd09"]}
_DATE = {"type": "string", "format": "date"}
_LAYER = {"type": "string", "enum": ["town", "communities", "workstations", "grid_cells", "stations",
                                     "station_coverage", "roads"]}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    text = {400: "malformed request (the field is named)", 401: "sign in or send Authorization: Bearer TOKEN",
            403: "the caller's role or scope does not allow this", 404: "no such resource",
            409: "conflict: a stale version, a reused Idempotency-Key, no boundaries",
            413: "the body is too large", 422: "refused: a value is not acceptable (the field is named)"}
    # every request may be a 400: a NUL or a lone surrogate in any parameter is refused before the view runs
    return {str(c): _json(_ref("Error"), text[c]) for c in (400, 401, *codes)}


def _op(summary: str, ok: dict, params: list | None = None, errors: tuple[int, ...] = (), body: dict | None = None,
        status: str = "200", tag: str = "api") -> dict:
    op = {"summary": summary, "tags": [tag], "parameters": params or [], "responses": {status: ok, **_errors(*errors)}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _api_paths() -> dict:
    geojson = {"description": "GeoJSON", "content": {"application/json": {"schema": _ref("FeatureCollection")}}}
    case_filters = [
        _q("state", _STR, description="comma-separated states"), _q("station", _STR), _q("department", _STR),
        _q("category", _STR), _q("light", {"type": "string", "enum": ["green", "yellow", "red"]}),
        _q("channel", _STR), _q("from", {"type": "string", "format": "date-time"}),
        _q("to", {"type": "string", "format": "date-time"}),
        _q("bbox", _STR, description="minlon,minlat,maxlon,maxlat"), _q("open", {"enum": ["1", "true", "yes"]}),
        _q("limit", {"type": "integer", "minimum": 1, "maximum": 5000}),
        _q("offset", {"type": "integer", "minimum": 0}),
    ]
    queue_params = [
        _q("q", {"type": "string", "maxLength": 100}, description="case number (18 or #18), address, phone or text"),
        _q("sort", {"type": "string", "enum": [p + k for k in ("id", "reported_at", "deadline", "updated_at",
                                                               "category", "station", "state", "urgency")
                                                 for p in ("", "-")]}),
        _q("mine", {"enum": ["1", "0"]}, description="handlers: their department's cases; patrol: their station's"),
        _q("cursor", _STR, description="the opaque token of links.next"),
    ]
    file_response = {"description": "the file", "content": {
        **{t: {"schema": {"type": "string", "format": "binary"}} for t in (
            "application/geopackage+sqlite3", "application/zip", "application/gpx+xml")},
        "application/geo+json": {"schema": _ref("FeatureCollection")},  # GeoJSON is JSON, not a blob
        "text/csv": {"schema": {"type": "string"}}}}
    kpi_file = {"description": "the table", "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string",
                                                                                           "format": "binary"}}}}
    return {
        "/me": {"get": _op("who the caller is", _json(_ref("Me")))},
        "/layers/{name}": {"get": _op("a boundary layer as GeoJSON", geojson,
                                      [_p("name", _LAYER), _q("version", {"type": "integer", "minimum": 1})],
                                      (400, 404))},
        "/locate": {"get": _op("owners of a point", _json(_ref("Located")),
                               [_q("lon", _LON, True), _q("lat", _LAT, True), _q("crs", _CRS)], (400, 409, 422))},
        "/geocode": {"get": _op("candidates for an address", _json(_ref("Geocode")),
                                [_q("q", {"type": "string", "minLength": 1, "maxLength": 200}, True),
                                 _q("limit", {"type": "integer", "minimum": 1, "maximum": 20})], (400, 409, 422))},
        "/reverse": {"get": _op("the nearest address and the owners of a point", _json(_ref("Located")),
                                [_q("lon", _LON, True), _q("lat", _LAT, True), _q("crs", _CRS),
                                 _q("radius", {"type": "integer", "minimum": 1, "maximum": 2000})],
                                (400, 409, 422))},
        "/reports": {"post": _op("file a report (or multipart: `report` JSON + `photos`)",
                                 _json(_ref("ReportAnswer"), "filed"), [_q_header()], (400, 403, 409, 413, 422),
                                 _ref("ReportInput"), "201", "intake")},
        "/reports/{report_id}": {"get": _op("one report", _json(_ref("Report")), [_p("report_id")], (404,),
                                            tag="intake")},
        "/reports/{report_id}/split": {"post": _op(
            "take a report out of its case", _json(_obj(("case_id", "report_id"), case_id=_INT, report_id=_INT),
                                                   "split off"),
            [_p("report_id")], (400, 403, 404, 409), _ref("Split"), "201", "intake")},
        "/attachments/{attachment_id}": {"get": _op(
            "the bytes of an uploaded photo", {"description": "the image", "content": {
                "image/*": {"schema": {"type": "string", "format": "binary"}}}}, [_p("attachment_id")], (404,),
            tag="intake")},
        "/channels": {"get": _op("the channels reports arrive through", _json(_ref("Channels")), tag="intake")},
        "/categories": {"get": _op("the categories", _json(_ref("Categories")), tag="intake")},
        "/cases": {"get": _op("cases as paged GeoJSON, scoped to the caller", _json(_ref("CaseFeatures")),
                              [*case_filters, *queue_params], (400, 422), tag="cases")},
        "/cases/actions": {"post": _op(
            "one action on many cases, a result per case (done, 409 stale, 422 refused, 404 not in scope)",
            _json(_obj(("action", "results", "counts"), action=_STR, results=_arr(_obj(("id", "status", "outcome"))),
                       counts=_obj())), [], (400, 403, 422), _ref("BulkAction"), tag="cases")},
        "/events": {"get": _op(
            "the live feed of case changes the caller may see: Server-Sent Events (`event: case`, resumable with "
            "Last-Event-ID, a heartbeat comment every 15 s) for `Accept: text/event-stream`, otherwise the events "
            "after `after` as JSON",
            _json(_obj(("events", "last_id", "reset"), events=_arr(_obj(("id", "kind", "case_id"))), last_id=_INT,
                       reset=_BOOL)),
            [_q("after", {"type": "integer", "minimum": 0}, description="the last event id the client has")],
            (400,), tag="cases")},
        "/cases/{case_id}": {"get": _op("one case with its reports, clock, history and the caller's actions",
                                        _json(_ref("Case")), [_p("case_id")], (404,), tag="cases")},
        "/cases/{case_id}/actions": {"post": _op("take a workflow action", _json(_ref("Case")), [_p("case_id")],
                                                 (400, 403, 404, 409, 422), _ref("Action"), tag="cases")},
        "/cases/{case_id}/supervision": {"post": _op(
            "open a supervision order", _json(_ref("Order"), "opened"), [_p("case_id")], (400, 403, 404, 422),
            _ref("OrderInput"), "201", "supervision")},
        "/supervision": {"get": _op("supervision orders", _json(_ref("Orders")),
                                    [_q("state", {"enum": ["open", "answered", "closed"]}), _q("case", _INT)],
                                    (400,), tag="supervision")},
        "/supervision/{order_id}": {"get": _op("one order with its history", _json(_ref("Order")),
                                               [_p("order_id")], (404,), tag="supervision")},
        "/supervision/{order_id}/actions": {"post": _op(
            "answer or close an order", _json(_ref("Order")), [_p("order_id")], (400, 403, 404, 409, 422),
            _ref("OrderAction"), tag="supervision")},
        "/supervision/lists": {"get": _op("near-due and overdue cases", _json(_ref("SupervisionLists")),
                                          tag="supervision")},
        "/dispatch-rules": {
            "get": _op("classified-dispatch rules", _json(_ref("Rules")), tag="rules"),
            "post": _op("add a rule", _json(_ref("Rule"), "added"), [], (400, 403, 422), _ref("RuleInput"), "201",
                        "rules")},
        "/dispatch-rules/{rule_id}": {"put": _op("change a rule", _json(_ref("Rule")), [_p("rule_id")],
                                                 (400, 403, 404, 422), _ref("RuleInput"), tag="rules")},
        "/settings": {"get": _op("workflow settings", _json(_ref("Settings")), tag="rules")},
        "/settings/{key}": {"put": _op("change a setting", _json(_obj(("key", "value"), key=_STR, value={})),
                                       [_p("key", _STR)], (400, 403, 404, 422), _ref("SettingInput"),
                                       tag="rules")},
        "/kpi": {"get": _op("indicators, scores and grades", _json(_ref("Kpi")), _kpi_params(), (400, 422),
                            tag="evaluation")},
        "/kpi.{fmt}": {"get": _op("the KPI table as CSV or XLSX", kpi_file,
                                  [_p("fmt", {"type": "string", "enum": ["csv", "xlsx"]}), *_kpi_params(),
                                   _q("lang", {"enum": ["zh", "en"]})], (400, 404, 422), tag="evaluation")},
        "/digest": {"get": _op("the morning-meeting digest", _json(_ref("Digest")),
                               [_q("date", _DATE), _q("span", {"type": "string", "enum": ["day", "week"]})],
                               (400, 422), tag="evaluation")},
        "/exports": {"get": _op("exportable layers and formats", _json(_ref("Exports")), tag="exports")},
        "/exports/{layer}.{fmt}": {"get": _op(
            "a layer as a file (the caller's view of the OGC collection)", file_response,
            [_p("layer", _STR), _p("fmt", {"type": "string", "enum": ["gpkg", "shp", "geojson", "csv", "gpx"]}),
             _q("bbox", _STR), _q("datetime", _STR), _q("version", {"type": "integer", "minimum": 1}),
             _q("limit", {"type": "integer", "minimum": 1})], (400, 404), tag="exports")},
        "/docs": {"get": {"summary": "this document as a page", "tags": ["api"], "security": [],
                          "parameters": [_q("lang", {"type": "string", "enum": ["zh", "en"]})],
                          "responses": {"200": {"description": "HTML", "content": {
                              "text/html": {"schema": {"type": "string"}}}}, **_errors()}}},
        "/openapi.json": {"get": {"summary": "this document", "tags": ["api"], "security": [], "parameters": [],
                                  "responses": {"200": _json({"type": "object"}), **_errors()}}},
    }


def _q_header() -> dict:
    return {"name": "Idempotency-Key", "in": "header", "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": 200}}


def _kpi_params() -> list[dict]:
    return [_q("from", _DATE), _q("to", _DATE),
            _q("by", {"type": "string", "enum": ["department", "station", "community", "workstation", "grid",
                                                 "person"]})]


# The bodies of the operations listed from the URL map (their schemas are the ones the input layer checks).
BODY_OF = {
    ("/planning/coverage/preview", "post"): "Proposal", ("/planning/coverage", "post"): "Proposal",
    ("/planning/versions/{version_id}/restore", "post"): "RestoreInput",
    ("/planning/sites", "post"): "SitesInput", ("/planning/territories", "post"): "TerritoriesInput",
    ("/planning/drafts/{draft_id}", "put"): "DraftInput", ("/patrols/plan", "post"): "PatrolPlanInput",
    ("/planning/drafts", "post"): "DraftCreate",
    ("/patrols/{route_id}/assign", "post"): "AssignInput",
    ("/district/orders", "post"): "DistrictOrder", ("/alerts/modules/{code}", "put"): "AlertModuleInput",
    ("/cases/{case_id}/reviews", "post"): "ReviewInput",
    ("/positions", "post"): "PositionsInput", ("/patrols/{route_id}/stops/{seq}/visited", "post"): "StopVisit",
    ("/field/cases/{case_id}/actions", "post"): "FieldAction", ("/chronic/{problem_id}", "post"): "ChronicControl",
}


def api_document(base_url: str, other_routes: list[tuple[str, str, str]] = ()) -> dict:
    """The OpenAPI 3.0 document of /api/v1; routes not described here are listed from the app's URL map."""
    paths = _api_paths()
    for path, method, summary in other_routes:
        if method.lower() in paths.get(path, {}):
            continue
        params = [_p(name, _STR) for name in re.findall(r"{(\w+)}", path)]
        op = paths.setdefault(path, {})[method.lower()] = {
            "summary": summary or path, "tags": ["more"], "parameters": params, "x-described": False,
            "responses": {"200": {"description": "OK"}, **_errors(400, 403, 404, 409, 422)},
        }
        body = BODY_OF.get((path, method.lower()))
        if body:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    for item in paths.values():
        for name, op in item.items():
            op.setdefault("operationId", f"{name}_{_slug(item, name, paths)}")
    return {
        "openapi": "3.0.3",
        "info": {"title": "Nanhui New City Town grid management API", "version": "1",
                 "description": "JSON API of the platform. Send Authorization: Bearer TOKEN (flask --app app users "
                                "token NAME). Errors are JSON objects naming the error, the field and the reason."},
        "servers": [{"url": base_url}],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": {**API_SCHEMAS, **schemas.BODIES},
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }


def _slug(item: dict, method: str, paths: dict) -> str:
    path = next(p for p, i in paths.items() if i is item)
    return re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_") or "root"
