"""The Flask side of the input layer (app/schemas.py): every query parameter, form field and path value is
refused with a NUL or a lone surrogate before a view runs, and JSON bodies are read through `json_body`
(depth, NaN and text checked before parsing finishes, then the body's schema)."""

from __future__ import annotations

from flask import Flask, request

from app import schemas
from app.errors import InputError

JSON_TYPES = ("application/json",)


def json_body(schema: str | None = None, optional: bool = False) -> dict:
    """The request's JSON object, checked, and validated against the schema `schema` of app/schemas.py;
    `optional`: an empty body is {}."""
    raw = request.get_data(cache=True)
    if optional and not raw.strip():
        value: object = {}
    else:
        if request.mimetype not in JSON_TYPES and not request.mimetype.endswith("+json"):
            raise InputError("body", f"send a JSON object (Content-Type: application/json), not "
                             f"{request.mimetype or 'nothing'}", 400, error="invalid_body")
        value = schemas.parse_json(raw)
    if schema is None:
        if not isinstance(value, dict):
            raise InputError("body", "send a JSON object", 400, error="invalid_body")
        return value
    return schemas.body(schema, value)


def init_app(app: Flask) -> None:
    """Check the text of every query parameter, form field and path value before the view."""

    @app.before_request
    def _check_text():
        schemas.check_pairs("query", request.args)
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            schemas.check_pairs("form", request.form)
        for name, value in (request.view_args or {}).items():
            if isinstance(value, str):
                schemas.clean_string(name, value)
