"""The one place that turns errors into answers, in the format the caller expects: JSON for the API and
bearer callers, the spec's own format where a blueprint speaks a standard (OGC API, Open311:
`render_with`), and a message on the page for the browser (`page`). The pure modules (gis/, routing/)
raise their own errors; `ADAPTERS` says what each one means in the family of app/errors.py.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from flask_babel import get_locale
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from app.errors import DomainError, InputError
from gis.crs import UnknownCRS
from gis.points import PointError
from gis.validation import LayerError
from routing.network import Unreachable

RETRY_AFTER_S = 2  # a fast restart of PostgreSQL takes a second or two; pool_pre_ping reconnects after it


def _point(exc: PointError) -> DomainError:
    return InputError(exc.field, exc.message, exc.status, error="invalid_coordinates")


def _unreachable(exc: Unreachable) -> DomainError:
    return InputError(exc.field, exc.message, 422, error="unreachable")


def _layer(exc: LayerError) -> DomainError:
    return InputError(exc.layer, str(exc), 422, error="invalid_layer", problems=list(exc.problems))


def _crs(exc: UnknownCRS) -> DomainError:
    return InputError("crs", str(exc), 400, error="invalid_crs")


ADAPTERS: dict[type[Exception], Callable] = {PointError: _point, Unreachable: _unreachable, LayerError: _layer,
                                             UnknownCRS: _crs}
_RENDERERS: dict[str, tuple[str, Callable[[DomainError], Response]]] = {}


def render_with(bp: Blueprint, renderer: Callable[[DomainError], Response]) -> None:
    """Errors under `bp` (its views, or any path below its prefix) are answered by `renderer`: a
    standard's own error format."""
    _RENDERERS[bp.name] = (bp.url_prefix or "/" + bp.name, renderer)


def _renderer() -> Callable[[DomainError], Response] | None:
    found = _RENDERERS.get(request.blueprint or "")
    if found is None:  # no view matched: the path says which standard was spoken
        found = next((r for r in _RENDERERS.values() if request.path.startswith(r[0])), None)
    return found[1] if found else None


def page(template: str) -> Callable:
    """Mark a page view: its errors are shown as a message in `template` (as `error`)."""

    def mark(view: Callable) -> Callable:
        view.error_template = template  # type: ignore[attr-defined]
        return view

    return mark


def wants_json() -> bool:
    """API paths and bearer callers get JSON errors, pages get a page."""
    return request.path.startswith("/api/") or request.headers.get("Authorization", "").startswith("Bearer ")


def as_json(exc: DomainError) -> Response:
    """A refusal as a JSON body with its status."""
    response = jsonify(exc.as_dict())
    response.status_code = exc.status
    return response


def answer(exc: DomainError) -> Response:
    """The answer to a refusal, in the format the request's blueprint and caller expect."""
    renderer = _renderer()
    if renderer is not None:
        return renderer(exc)
    if wants_json():
        return as_json(exc)
    view = current_app.view_functions.get(request.endpoint or "")
    template = getattr(view, "error_template", "error.html")
    said = exc.message if str(get_locale() or "zh").startswith("en") else exc.as_dict()["message_zh"]
    response = Response(render_template(template, error=said, status=exc.status, data=None))
    response.status_code = exc.status
    return response


# SQLSTATEs of a server going away or refusing connections: class 08, the shutdowns, too many connections.
GONE_STATES = ("57P01", "57P02", "57P03", "53300")


def unavailable(exc: Exception) -> bool:
    """True for database errors a retry can cure: a lost or refused connection, a restart, an exhausted pool.
    Anything else the database says (a bad value, a cancelled statement) is not the database being away."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    state = getattr(exc.orig, "sqlstate", None)
    return state is None or state.startswith("08") or state in GONE_STATES


HTTP_ERRORS = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def _http(exc: HTTPException):
    """Werkzeug's own refusals (no such path, method, body too large) as JSON on the API."""
    if not wants_json() and _renderer() is None:
        return exc
    messages = {404: f"no such resource: {request.path}", 405: f"{request.method} is not allowed on {request.path}",
                413: "the request body is larger than the server accepts"}
    code = exc.code or 500
    response = answer(DomainError(messages.get(code, exc.description or exc.name), status=code,
                                  error=HTTP_ERRORS.get(code, exc.name.lower().replace(" ", "_"))))
    if code == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    return response


def _out_of_range(exc: DataError):
    if getattr(exc.orig, "sqlstate", None) != "22003":  # numeric_value_out_of_range; anything else is a bug
        raise exc
    if any(isinstance(v, int) and v > 2**63 - 1 for v in (request.view_args or {}).values()):
        return answer(DomainError("no such resource", status=404, error="not_found"))  # an id no row can have
    return answer(InputError("number", "a number in the request is out of range", 400))


def _database_away(exc: Exception):
    # Nothing was committed (or the commit's answer was lost): the client retries with the same
    # Idempotency-Key, which answers the stored report if the commit did reach the database.
    if not unavailable(exc):
        raise exc
    current_app.logger.warning("database unavailable: %s: %s", exc.__class__.__name__,
                               (str(exc).splitlines() or [""])[0])
    response = jsonify(error="unavailable", retry_after_s=RETRY_AFTER_S,
                       message="the database is briefly unavailable; retry the same request shortly",
                       message_zh="数据库暂时不可用，请稍后用同一请求重试")
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def init_app(app: Flask) -> None:
    """Register the handlers: domain errors, the pure modules' errors, HTTP errors, CSRF, the database."""
    from flask_wtf.csrf import CSRFError

    app.register_error_handler(DomainError, answer)
    for kind, adapt in ADAPTERS.items():
        app.register_error_handler(kind, lambda exc, adapt=adapt: answer(adapt(exc)))

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        if wants_json():
            return answer(DomainError(f"{exc.description}; API clients send Authorization: Bearer", error="csrf"))
        return exc

    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(DataError, _out_of_range)
    app.register_error_handler(DBAPIError, _database_away)
    app.register_error_handler(PoolTimeout, _database_away)
