"""The code lists the console scripts need on every page: departments, active stations, active channels,
named in the page's language."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Department
from app.cases.models import Channel
from app.territory.models import Station


def _name(zh: str, en: str | None, lang: str) -> str:
    return zh if lang == "zh" else (en or zh)


def code_lists(session: Session, lang: str) -> dict[str, list[dict]]:
    """{departments, stations, channels}: each a list of {code, name} in `lang` (zh or en)."""
    departments = session.scalars(select(Department).order_by(Department.code))
    stations = session.scalars(select(Station).where(Station.active.is_(True)).order_by(Station.code))
    channels = session.scalars(select(Channel).where(Channel.active.is_(True)).order_by(Channel.code))
    return {
        "departments": [{"code": d.code, "name": _name(d.name, d.name_en, lang)} for d in departments],
        "stations": [{"code": s.code, "name": _name(s.name, s.name_en, lang)} for s in stations],
        "channels": [{"code": c.code, "name": _name(c.name, c.name_en, lang)} for c in channels],
    }
