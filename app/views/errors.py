"""JSON error answers shared by the API blueprints: every refusal says what was wrong."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import RequestEntityTooLarge

from app.services.errors import Conflict, InputError, NotFound
from app.services.ownership import NoBoundaries
from gis.points import PointError


def json_errors(bp: Blueprint) -> None:
    """Register the API's error handlers on a blueprint."""

    @bp.errorhandler(404)
    def _not_found(_exc):
        return jsonify(error="not_found", message="no such resource"), 404

    @bp.errorhandler(405)
    def _method(_exc):
        return jsonify(error="method_not_allowed", message="method not allowed here"), 405

    @bp.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc):
        return jsonify(error="too_large", message="the request body is larger than the server accepts"), 413

    @bp.errorhandler(PointError)
    def _bad_point(exc: PointError):
        return jsonify(error="invalid_coordinates", field=exc.field, message=exc.message), exc.status

    @bp.errorhandler(InputError)
    def _bad_input(exc: InputError):
        return jsonify(exc.as_dict()), exc.status

    @bp.errorhandler(Conflict)
    def _conflict(exc: Conflict):
        return jsonify(exc.as_dict()), 409

    @bp.errorhandler(NotFound)
    def _missing(exc: NotFound):
        return jsonify(exc.as_dict()), 404

    @bp.errorhandler(DataError)
    def _out_of_range(exc: DataError):
        if getattr(exc.orig, "sqlstate", None) != "22003":  # numeric_value_out_of_range; anything else is a bug
            raise exc
        if any(isinstance(v, int) and v > 2**63 - 1 for v in (request.view_args or {}).values()):
            return jsonify(error="not_found", message="no such resource"), 404  # an id no row can have
        return jsonify(error="invalid_input", message="a number in the request is out of range"), 400

    @bp.errorhandler(NoBoundaries)
    def _no_boundaries(exc: NoBoundaries):
        return jsonify(error="no_boundaries", message=str(exc)), 409


RETRY_AFTER_S = 2  # a fast restart of PostgreSQL takes a second or two; pool_pre_ping reconnects after it


def unavailable(exc: Exception) -> bool:
    """True for database errors a retry can cure: a lost or refused connection, a restart, an exhausted pool."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def init_app(app) -> None:
    """App-wide answers for requests no blueprint handles: unknown API paths, CSRF failures, a database away."""
    from flask import request
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import MethodNotAllowed
    from werkzeug.exceptions import NotFound as HTTPNotFound

    def api() -> bool:
        return request.path.startswith("/api/")

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        if api():
            return jsonify(error="csrf", message=f"{exc.description}; API clients send Authorization: Bearer"), 400
        return exc

    @app.errorhandler(HTTPNotFound)
    def _no_route(exc):
        return (jsonify(error="not_found", message=f"no such resource: {request.path}"), 404) if api() else exc

    @app.errorhandler(MethodNotAllowed)
    def _no_method(exc):
        if api():
            message = f"{request.method} is not allowed on {request.path}"
            return jsonify(error="method_not_allowed", message=message), 405
        return exc

    @app.errorhandler(RequestEntityTooLarge)
    def _too_big(exc):
        if api():
            return jsonify(error="too_large", message="the request body is larger than the server accepts"), 413
        return exc

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def _database_away(exc):
        # Nothing was committed (or the commit's answer was lost): the client retries with the same
        # Idempotency-Key, which answers the stored report if the commit did reach the database.
        if not unavailable(exc):
            raise exc
        app.logger.warning("database unavailable: %s: %s", exc.__class__.__name__, (str(exc).splitlines() or [""])[0])
        response = jsonify(error="unavailable", retry_after_s=RETRY_AFTER_S,
                           message="the database is briefly unavailable; retry the same request shortly")
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
