"""OpenAPI 3.0 documents: the OGC API - Features definition (built from the collection registry)."""

from __future__ import annotations

from app.services.ogc import DEFAULT_LIMIT, MAX_LIMIT, Collection


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
        _F,
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


def _collection_paths(c: Collection) -> dict:
    feature_id = {"name": "featureId", "in": "path", "required": True,
                  "schema": {"type": "integer" if c.id_type == "integer" else "string"}}
    tag = [c.id]
    return {
        f"/collections/{c.id}": {"get": {
            "summary": f"{c.title}: metadata", "operationId": f"describe_{c.id}", "tags": tag, "parameters": [_F],
            "responses": {"200": _json_response(c.description), **_ERRORS},
        }},
        f"/collections/{c.id}/items": {"get": {
            "summary": f"{c.title}: features", "description": c.description, "operationId": f"get_{c.id}_items",
            "tags": tag, "parameters": _items_parameters(c),
            "responses": {"200": _json_response("a page of features", _COLLECTION, "application/geo+json"),
                          **_ERRORS},
        }},
        f"/collections/{c.id}/items/{{featureId}}": {"get": {
            "summary": f"{c.title}: one feature", "operationId": f"get_{c.id}_feature", "tags": tag,
            "parameters": [feature_id, _F] + ([p for p in _items_parameters(c) if p["name"] == "version"]),
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
    return {
        "openapi": "3.0.3",
        "info": {"title": "Nanhui New City Town grid management: OGC API - Features", "version": "1.0.0",
                 "description": "Boundaries, stations, cases and hotspots. Collections other than those made public "
                                "need Authorization: Bearer TOKEN (or a signed-in session)."},
        "servers": [{"url": base_url}],
        "tags": [{"name": "Capabilities"}, *({"name": c.id, "description": c.description} for c in collections)],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
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
        "security": [{}, {"bearer": []}],
    }
