"""Languages: Chinese by default, English on request (?lang=en, kept in the session)."""

from __future__ import annotations

from pathlib import Path

from flask import request, session
from flask_babel import Babel

LANGUAGES = ("zh", "en")
DEFAULT = "zh"


def select_locale() -> str:
    """?lang= first (and remember it), then the session, then Chinese."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked
        return asked
    return session.get("lang", DEFAULT)


def init_app(app) -> None:
    """Bind Flask-Babel to the app's translations folder."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(Path(__file__).parent / "translations"))
    Babel(app, locale_selector=select_locale)

    @app.context_processor
    def _languages():
        from flask_babel import get_locale

        return {"current_lang": str(get_locale() or DEFAULT), "languages": LANGUAGES}
