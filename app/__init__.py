"""Nanhui New City Town spatial grid management platform: the Flask application factory."""

from __future__ import annotations

import os
import secrets

from flask import Flask

from app.config import ConfigError, Settings


def create_app(config: dict | None = None) -> Flask:
    """Build the app: settings from the environment (then `config`), validated, extensions bound."""
    app = Flask(__name__, template_folder="../templates", static_folder="static")
    settings = Settings.from_env()
    app.config.from_mapping({k: v for k, v in vars(settings).items() if k != "extra"})
    if config:
        app.config.update(config)
    _validate(app)
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        # the client's address (sign-in limit, audit) and https (HSTS, secure cookies) as nginx saw them
        n = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    from app import auth, cli, i18n, security
    from app.db import db
    from app.views import (
        api,
        cases,
        console,
        errors,
        evaluation,
        health,
        mapdata,
        pages,
        reports,
        supervision,
        vendor,
    )

    db.init_app(app)
    from app.services.geocoding import GeocoderCache
    from app.services.ownership import OwnershipCache

    app.extensions["ownership"] = OwnershipCache(near_m=app.config["NEAR_BOUNDARY_M"])
    app.extensions["geocoder"] = GeocoderCache()
    i18n.init_app(app)
    auth.init_app(app)
    security.init_app(app)
    for blueprint in (
        health.bp, pages.bp, console.bp, api.bp, reports.bp, mapdata.bp, cases.bp, supervision.bp,
        evaluation.bp, vendor.bp,
    ):
        app.register_blueprint(blueprint)
    from app.views import apidoc, exports, ogc, open311

    for blueprint in (ogc.bp, open311.bp, exports.bp, apidoc.bp):  # open standards and file exchange
        app.register_blueprint(blueprint)
    from app.views import analysis, routing, siting

    for blueprint in (analysis.bp, routing.bp, siting.bp):  # hotspots, alerts, routes, patrols, siting
        app.register_blueprint(blueprint)
    from app.views import metrics

    app.register_blueprint(metrics.bp)  # Prometheus; who may read it: app/views/metrics.py
    cli.init_app(app)
    errors.init_app(app)
    if app.config["WARM_CACHES"]:
        _warm(app)
    if app.config["SCHEDULER"]:
        from app import scheduler

        app.extensions["scheduler"] = scheduler.start_background(app)
    return app


def _warm(app: Flask) -> None:
    """Build this worker's ownership index and geocoder in the background, before the first request needs them."""
    import threading

    def build() -> None:
        try:
            with app.extensions["db"].transaction() as session:
                app.extensions["ownership"].get(session)
                app.extensions["geocoder"].get(session)
        except Exception:  # noqa: BLE001 - no boundaries yet or no database: the first request builds them
            app.logger.info("cache warm-up skipped", exc_info=True)

    threading.Thread(target=build, name="warm-caches", daemon=True).start()


def _validate(app: Flask) -> None:
    settings = Settings(**{k: app.config[k] for k in vars(Settings()) if k in app.config and k != "extra"})
    settings.validate()
    if not app.config.get("SECRET_KEY"):
        if os.environ.get("FLASK_SECRET_REQUIRED") == "1":
            raise ConfigError("SECRET_KEY is not set")
        # Development: a per-process key would break sessions across gunicorn workers, so the
        # launcher (scripts/serve.sh) writes one to var/secret_key; this is the last resort.
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
