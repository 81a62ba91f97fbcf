"""Printed documents (the monthly bulletin, the meeting packs) as HTML and PDF in Chinese or English, without Flask:
the templates under templates/documents/ with the app's message catalogue, so the scheduler can make them too."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.pdf import render_pdf

ROOT = Path(__file__).resolve().parents[2]
LANGS = ("zh", "en")


@lru_cache(maxsize=2)
def _catalogue(lang: str) -> NullTranslations:
    # msgids are English; the catalogue gives Chinese
    return Translations.load(str(ROOT / "app" / "translations"), ["zh"]) if lang == "zh" else NullTranslations()


@lru_cache(maxsize=2)
def _environment(lang: str) -> Environment:
    env = Environment(loader=FileSystemLoader(ROOT / "templates" / "documents"), autoescape=select_autoescape(),
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(_catalogue(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["pct"] = percent
    env.filters["num"] = number
    env.filters["delta"] = delta
    return env


def gettext(lang: str) -> Callable[[str], str]:
    """The catalogue's gettext for `lang` (for texts marked in Python, app.analysis.definitions)."""
    return _catalogue(lang if lang in LANGS else "zh").gettext


def percent(value: float | None, digits: int = 1) -> str:
    """A share 0..1 as a percentage: 1.0 -> "100.0%"; None -> "–"."""
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def number(value: float | int | None, digits: int = 1) -> str:
    """A count as is, a score with `digits` decimals; None -> "–"."""
    if value is None:
        return "–"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def delta(value: float | int | None, digits: int = 1) -> str:
    """A change with its sign: +3, -2.5, ±0; None (nothing to compare with) -> "–"."""
    if value is None:
        return "–"
    if not value:
        return "±0"
    return f"{value:+d}" if isinstance(value, int) else f"{value:+.{digits}f}"


def html(template: str, lang: str, **context: object) -> str:
    """One document as HTML."""
    if lang not in LANGS:
        lang = "zh"
    return _environment(lang).get_template(template).render(lang=lang, **context)


def pdf(template: str, lang: str, **context: object) -> bytes:
    """One document as PDF (app.pdf: WeasyPrint, A4, the CJK fonts)."""
    return render_pdf(html(template, lang, **context))
