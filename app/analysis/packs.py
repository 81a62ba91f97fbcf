"""Meeting packs: the fortnightly topic meeting (专题研判: one category or area over a period: trend, map, hot spots,
repeated places, cases) and the quarterly leadership meeting (领导小组会议: chronic problems and suspended cases
with their history, escalations, problems shared between departments). The morning meeting's pack is the digest
(app.analysis.digest). Counts use the cases of a period as app.analysis.kpi defines them."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime

import numpy as np
from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from app.analysis import charts, chronic, documents, hotspots, kpi
from app.analysis.definitions import _l
from app.cases.models import Case, CaseEvent
from app.cases.worktime import BEIJING
from app.errors import InputError
from app.territory.caches import NoBoundaries

QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
MAX_CASES = 200


def _where(category: str | None, area: str | None) -> ColumnElement[bool]:
    where: ColumnElement[bool] = true()
    if category:
        where = where & Case.category_code.startswith(category)
    if area:
        where = where & ((Case.station_code == area) | (Case.community_code == area) | (Case.workstation_code == area))
    return where


def _check(category: str | None, area: str | None) -> None:
    if category and not re.fullmatch(r"\d{2}|\d{5}", category):
        raise InputError("category", "category must be a 2-digit major group or a 5-digit category code")
    if area and not re.fullmatch(r"[A-Za-z0-9_-]{1,20}", area):
        raise InputError("area", "area must be the code of a station, community or workstation")


def _cell_picture(session: Session, start: date, end: date, category: str | None, area: str | None,
                  lang: str) -> tuple[str | None, list[dict]]:
    """The map of the topic's cases per cell (Gi* hot spots outlined) and the hottest cells."""
    text = documents.gettext(lang)
    try:
        cells = hotspots.cell_set(session)
    except NoBoundaries:
        return None, []
    rows = session.execute(select(Case.grid_code).where(kpi.of_period(start, end), _where(category, area),
                                                        Case.grid_code.is_not(None))).scalars().all()
    y = np.zeros(len(cells.codes))
    for code, n in Counter(rows).items():
        i = cells.index.get(code)
        if i is not None:
            y[i] = n
    gi = cells.gi_star(y, hotspots.DEFAULT_DISTANCE_M, 199)
    hot = hotspots.clustered(cells, y, gi)
    picture = charts.grid_map(cells.polygons, [int(v) for v in y], text(_l("Cases per grid cell")), text(_l("Cases")),
                              text(_l("No case")), hot, text(_l("Hot spot (Gi*, 99%)")))
    top = [{"grid_code": cells.codes[i], "count": int(y[i]), "z": round(float(gi.z[i]), 2), "class": str(gi.classes[i])}
           for i in np.argsort(-gi.z)[:10] if hot[i]]
    return picture, top


def topic(session: Session, start: date, end: date, category: str | None, area: str | None,
          lang: str = "zh") -> dict:
    """The topic meeting's pack for one category (2 or 5 digits) and/or area over [start, end)."""
    _check(category, area)
    text = documents.gettext(lang)
    names = kpi.names_of(session, "category", lang)
    places = {**kpi.names_of(session, "station", lang), **kpi.names_of(session, "community", lang),
              **kpi.names_of(session, "workstation", lang)}
    cases = session.scalars(select(Case).where(kpi.of_period(start, end), _where(category, area))
                            .order_by(Case.first_reported_at)).all()
    days = (end - start).days
    buckets: Counter = Counter()
    for c in cases:
        d = c.first_reported_at.astimezone(BEIJING).date()
        buckets[d.isoformat() if days <= 62 else d.strftime("%Y-%m")] += 1
    trend = kpi.trend(session, start, end)  # the period's buckets, filled from this topic's cases
    series = [buckets.get(b["period"], 0) for b in trend["buckets"]]
    repeated = Counter((c.grid_code, c.category_code) for c in cases if c.grid_code)
    map_picture, hot = _cell_picture(session, start, end, category, area, lang)
    return {
        "from": start.isoformat(), "to": end.isoformat(), "category": category, "area": area,
        "category_name": names.get(category, category) if category and len(category) == 5 else category,
        "area_name": places.get(area, area) if area else None, "total": len(cases),
        "closed": sum(1 for c in cases if c.closed_at is not None),
        "open": sum(1 for c in cases if c.state not in ("closed", "archived", "void", "not_filed")),
        "trend_picture": charts.trend([b["period"][-5:] if trend["unit"] == "day" else b["period"]
                                       for b in trend["buckets"]], series, text(_l("Cases per day"))
                                      if trend["unit"] == "day" else text(_l("Cases per month"))),
        "map_picture": map_picture, "hot_cells": hot,
        "repeated": [{"grid_code": g, "category": names.get(k, k), "count": n}
                     for (g, k), n in repeated.most_common(15) if n >= 2],
        "cases": [{"id": c.id, "category": names.get(c.category_code, c.category_code), "state": c.state,
                   "first_reported_at": c.first_reported_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M"),
                   "place": places.get(c.workstation_code, c.workstation_code), "address": c.address}
                  for c in cases[-MAX_CASES:]],
    }


def choices(session: Session, lang: str = "zh") -> dict:
    """What the topic form offers: the major groups and categories, the stations, communities and workstations."""
    names = kpi.names_of(session, "category", lang)
    majors = sorted({code[:2] for code in names})
    areas = [{"code": code, "name": name} for by in ("station", "community", "workstation")
             for code, name in sorted(kpi.names_of(session, by, lang).items())]
    return {"categories": [{"code": m, "name": ""} for m in majors] +
            [{"code": c, "name": n} for c, n in sorted(names.items())], "areas": areas}


def quarter_of(raw: str) -> tuple[date, date]:
    """'YYYY-Qn' as [first day, first day of the next quarter)."""
    m = QUARTER.match(raw or "")
    if not m:
        raise InputError("quarter", "quarter must be YYYY-Qn, e.g. 2026-Q4")
    year, q = int(m.group(1)), int(m.group(2))
    start = date(year, 3 * q - 2, 1)
    return start, date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)


def current_quarter(now: datetime | None = None) -> str:
    today = (now or datetime.now(UTC)).astimezone(BEIJING).date()
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


def _history(session: Session, ids: list[int]) -> dict:
    events = defaultdict(list)
    if ids:
        for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_(ids)).order_by(CaseEvent.id)):
            events[e.case_id].append({"at": e.at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M"), "by": e.actor,
                                      "action": e.action, "to": e.to_state, "note": e.note})
    return events


def _shared(cases: list[Case], departments: dict) -> list[dict]:
    """Problems shared between departments: joint cases (lead + helpers) and cases returned by their owner, per
    category and pair of departments."""
    pairs: Counter = Counter()
    returned: Counter = Counter()
    for c in cases:
        for h in c.helpers or []:
            pairs[(c.category_code, c.owner_code, h)] += 1
        if c.return_count:
            returned[(c.category_code, c.owner_code)] += c.return_count
    rows = [{"category_code": k, "lead": departments.get(o, o), "helper": departments.get(h, h), "cases": n,
             "kind": "joint"} for (k, o, h), n in pairs.most_common(20)]
    rows += [{"category_code": k, "lead": departments.get(o, o) if o else "–", "helper": None, "cases": n,
              "kind": "returned"} for (k, o), n in returned.most_common(20)]
    return rows


def quarterly(session: Session, quarter: str, lang: str = "zh", now: datetime | None = None) -> dict:
    """The quarterly leadership meeting's pack."""
    start, end = quarter_of(quarter)
    names = kpi.names_of(session, "category", lang)
    departments = kpi.names_of(session, "department", lang)
    lo, hi = kpi.bounds(start, end)
    suspended = session.scalars(select(Case).where(Case.state == "suspended").order_by(Case.first_reported_at)
                                .limit(50)).all()
    escalated = session.execute(
        select(CaseEvent, Case).join(Case, Case.id == CaseEvent.case_id)
        .where(CaseEvent.action == "escalate", CaseEvent.at >= lo, CaseEvent.at < hi).order_by(CaseEvent.at)
    ).all()
    history = _history(session, [c.id for c in suspended])
    quarter_cases = session.scalars(select(Case).where(kpi.of_period(start, end))).all()
    for row in (shared := _shared(quarter_cases, departments)):
        row["category"] = names.get(row["category_code"], row["category_code"])
    return {
        "quarter": quarter, "from": start.isoformat(), "to": end.isoformat(), "cases": len(quarter_cases),
        "chronic": chronic.listing(session, lang, now),
        "suspended": [{"id": c.id, "category": names.get(c.category_code, c.category_code), "address": c.address,
                       "since": c.first_reported_at.astimezone(BEIJING).strftime("%Y-%m-%d"),
                       "history": history[c.id]} for c in suspended],
        "escalations": [{"case_id": c.id, "category": names.get(c.category_code, c.category_code),
                         "at": e.at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M"), "by": e.actor,
                         "level": (e.data or {}).get("level"), "label": (e.data or {}).get("label"), "note": e.note}
                        for e, c in escalated],
        "shared": shared,
        "departments": kpi.evaluate(session, start, end, "department", lang=lang, now=now)["rows"],
    }
