"""Nanhui New City Town spatial grid management platform: the Flask application factory."""

from __future__ import annotations

import os
import secrets

from flask import Blueprint, Flask

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

    from app import cli, connectors, errorhandlers, i18n, inputs, live, security
    from app.accounts import auth
    from app.db import db, load_models

    load_models()
    db.init_app(app)
    live.init_app(app)
    i18n.init_app(app)
    inputs.init_app(app)
    auth.init_app(app)
    security.init_app(app)
    for blueprint in blueprints():
        app.register_blueprint(blueprint)
    cli.init_app(app)
    connectors.init_app(app)
    errorhandlers.init_app(app)
    if app.config["WARM_CACHES"]:
        _warm(app)
    if app.config["SCHEDULER"]:
        from app import scheduler

        app.extensions["scheduler"] = scheduler.start_background(app)
    return app


def blueprints() -> list[Blueprint]:
    """Every blueprint, one or more per package."""
    from app.accounts import views as accounts
    from app.analysis import views as analysis
    from app.cases import views as cases
    from app.command import views as command
    from app.connectors import views as connectors
    from app.consoles import views as consoles
    from app.field import app_views as fieldapp
    from app.field import views as field
    from app.interop.views import BLUEPRINTS as interop
    from app.live import views as live
    from app.territory import views as territory
    from app.tiers import views as tiers

    return [accounts.bp, consoles.bp, cases.bp, territory.bp, field.bp, fieldapp.bp, analysis.bp, connectors.bp,
            tiers.bp, live.bp, command.bp, *interop]


def _warm(app: Flask) -> None:
    """Build this worker's ownership index and geocoder in the background, before the first request needs them."""
    import threading

    from sqlalchemy.exc import SQLAlchemyError

    from app.errors import DomainError
    from app.territory import caches

    def build() -> None:
        try:
            with app.extensions["db"].transaction() as session:
                caches.ownership(session)
                caches.geocoder(session)
        except (SQLAlchemyError, DomainError):  # no boundaries yet or no database: the first request builds them
            app.logger.info("cache warm-up skipped", exc_info=True)

    threading.Thread(target=build, name="warm-caches", daemon=True).start()


def _validate(app: Flask) -> None:
    settings = Settings(**{k: app.config[k] for k in vars(Settings()) if k in app.config and k != "extra"})
    settings.validate()
    app.config.update({k: v for k, v in vars(settings).items() if k != "extra"})  # parsed values
    if not app.config.get("SECRET_KEY"):
        if os.environ.get("FLASK_SECRET_REQUIRED") == "1":
            raise ConfigError("SECRET_KEY is not set")
        # Development: a per-process key would break sessions across gunicorn workers, so the
        # launcher (scripts/serve.sh) writes one to var/secret_key; this is the last resort.
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:  # Flask defines the key as None: setdefault would not set it
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
