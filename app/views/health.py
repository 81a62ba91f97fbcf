"""GET /healthz: the database and the current boundary version, 503 when the database is down."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from app.db import db
from app.services import boundaries

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Answer 200 with the database name and boundary version, or 503 with the reason."""
    try:
        name = db.ping()
        version = boundaries.current_version_id(db.session())
    except SQLAlchemyError as exc:
        current_app.logger.warning("healthz: database unreachable: %s", exc.__class__.__name__)
        response = jsonify(status="unavailable", database=None, message="the database is unreachable")
        response.headers["Retry-After"] = "5"
        return response, 503
    return jsonify(status="ok", database=name, boundary_version=version)
