"""The monthly performance bulletin (月度绩效考核通报): headline figures, rankings and grades of departments,
stations and workstations with the change from the month before, the rules in force, a map and charts, the units
to commend and to criticise, and the chronic problems. Stored as PDF per month and language; the scheduler makes
last month's on the first working day of a month (Beijing dates, the working calendar)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.analysis import charts, chronic, definitions, documents, hotspots, kpi, scores
from app.analysis.definitions import _l
from app.analysis.models import Bulletin
from app.cases.worktime import BEIJING, WorkCalendar
from app.errors import InputError, NotFound
from app.territory.caches import NoBoundaries

GROUPS = ("department", "station", "workstation")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
HEADLINE = ("cases", "reports", "filed", "dispatched", "closed", "overdue_open", "filing_rate",
            "on_time_dispatch_rate", "on_time_disposal_rate", "closure_rate", "on_time_closure_rate", "rework_rate",
            "satisfaction_mean")


def month_of(raw: str) -> date:
    """'YYYY-MM' as the first day of that month (InputError, 400, otherwise)."""
    m = MONTH.match(raw or "")
    if not m:
        raise InputError("month", "month must be YYYY-MM, e.g. 2026-11", 400)
    return date(int(m.group(1)), int(m.group(2)), 1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_month(month: date) -> date:
    return (month - timedelta(days=1)).replace(day=1)


def check_complete(month: date, now: datetime | None = None) -> None:
    """A bulletin reports on a month that is over (NotFound, 404, otherwise)."""
    today = (now or datetime.now(UTC)).astimezone(BEIJING).date()
    if next_month(month) > today:
        raise NotFound("bulletin", month.strftime("%Y-%m"))


def _with_change(current: list[dict], before: list[dict]) -> list[dict]:
    then = {r["group"]: r for r in before}
    for r in current:
        b = then.get(r["group"])
        r["previous_score"] = b["score"] if b else None
        r["previous_grade"] = b["grade"] if b else None
        r["previous_rank"] = b["rank"] if b else None
        r["score_change"] = None if b is None or b["score"] is None or r["score"] is None else \
            round(r["score"] - b["score"], 2)
        r["rank_change"] = None if b is None or b["rank"] is None or r["rank"] is None else b["rank"] - r["rank"]
    return current


def _headline(session: Session, start: date, end: date, now: datetime | None) -> dict:
    town = scores.indicators(kpi.period_facts(session, start, end, "station", now))  # every case has a station
    return {k: town.get(k) for k in HEADLINE}


FALL = 10.0  # a graded unit whose score fell by this many points or more is criticised too


def _verdicts(groups: dict, grades: list) -> tuple[list[dict], list[dict]]:
    """Commended: graded units of the top grade; criticised: graded units of the two lowest grades, or whose score
    fell by `FALL` points or more from the month before."""
    ordered = [g for g, _ in sorted(grades, key=lambda g: -g[1])]
    top, low = ordered[:1], ordered[-2:] if len(ordered) > 2 else ordered[-1:]
    commend, criticise = [], []
    for by, rows in groups.items():
        for r in rows:
            if r["graded"] and r["grade"] in top:
                commend.append({"by": by, **r})
            elif r["graded"] and (r["grade"] in low or (r["score_change"] is not None and r["score_change"] <= -FALL)):
                criticise.append({"by": by, **r})
    return commend, criticise


def _pictures(session: Session, start: date, end: date, groups: dict, daily: dict, before: dict,
              text: Callable[[str], str]) -> dict:
    try:
        cells, y, gi = hotspots.hotspots(session, start, end, [])
    except NoBoundaries:  # no territory loaded yet: a bulletin without its map
        cells = None
    pictures = {}
    if cells is not None:
        hot = hotspots.clustered(cells, y, gi)
        pictures["map"] = charts.grid_map(cells.polygons, [int(v) for v in y], text(_l("Cases per grid cell")),
                                          text(_l("Cases")), text(_l("No case")), hot, text(_l("Hot spot (Gi*, 99%)")))
        pictures["hot_cells"] = int(np.sum(hot))
    labels = [b["period"][-2:] for b in daily["buckets"]]
    pictures["trend"] = charts.trend(labels, [b["cases"] for b in daily["buckets"]], text(_l("Cases per day")),
                                     [b["cases"] for b in before["buckets"]],
                                     (text(_l("This month")), text(_l("The month before"))))
    for by in ("department", "station"):
        rows = groups[by]
        pictures[f"scores_{by}"] = charts.bars([r["name"] for r in rows], [r["score"] for r in rows],
                                               text(_l("Scores")), marks=[60, 90])
    return pictures


def build(session: Session, month: date, lang: str = "zh", now: datetime | None = None) -> dict:
    """Everything the bulletin of `month` says, as data (pictures as data: URIs)."""
    start, end, before = month, next_month(month), previous_month(month)
    text = documents.gettext(lang)
    groups = {by: _with_change(kpi.evaluate(session, start, end, by, lang=lang, now=now)["rows"],
                               kpi.evaluate(session, before, start, by, lang=lang, now=now)["rows"]) for by in GROUPS}
    rules = kpi.rules(session)
    commend, criticise = _verdicts(groups, rules["grades"])
    figures = {
        "month": month.strftime("%Y-%m"), "from": start.isoformat(), "to": end.isoformat(),
        "headline": _headline(session, start, end, now), "previous": _headline(session, before, start, now),
        "groups": groups, "rules": rules, "commend": commend, "criticise": criticise,
        "chronic": chronic.detect(session, end, lang=lang)[:15], "chronic_rule": chronic.rule(session),
        "generated_at": (now or datetime.now(UTC)).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M"),
    }
    daily, prior = kpi.trend(session, start, end), kpi.trend(session, before, start)
    return {**figures, "definitions": definitions.translated(text),
            "pictures": _pictures(session, start, end, groups, daily, prior, text)}


def render(data: dict, lang: str) -> bytes:
    """The bulletin as PDF."""
    return documents.pdf("bulletin.html", lang, d=data)


def generate(session: Session, month: date, lang: str, actor: str, now: datetime | None = None) -> Bulletin:
    """Make (or make again) and store the bulletin of a month that is over; audited."""
    check_complete(month, now)
    data = build(session, month, lang, now)
    pdf = render(data, lang)
    figures = {k: v for k, v in data.items() if k not in ("pictures", "definitions")}
    row = session.scalars(select(Bulletin).where(Bulletin.month == month, Bulletin.lang == lang)).one_or_none()
    before = None if row is None else {"generated_at": row.generated_at.isoformat(), "by": row.generated_by}
    if row is None:
        row = Bulletin(month=month, lang=lang)
        session.add(row)
    row.pdf, row.figures, row.generated_by = pdf, figures, actor
    row.generated_at = now or datetime.now(UTC)
    session.flush()
    audit.record(session, actor, "bulletin.generate", "bulletin", f"{month:%Y-%m}/{lang}", before=before,
                 after={"bytes": len(pdf), "cases": figures["headline"]["cases"]})
    return row


def pdf_of(session: Session, month: date, lang: str, actor: str, now: datetime | None = None) -> bytes:
    """The stored PDF, made on demand the first time it is asked for."""
    check_complete(month, now)
    row = session.scalars(select(Bulletin).where(Bulletin.month == month, Bulletin.lang == lang)).one_or_none()
    return (row or generate(session, month, lang, actor, now)).pdf


def listing(session: Session) -> list[dict]:
    """The archive: every stored bulletin, newest month first."""
    rows = session.execute(select(Bulletin.month, Bulletin.lang, Bulletin.generated_at, Bulletin.generated_by,
                                  Bulletin.figures).order_by(Bulletin.month.desc(), Bulletin.lang.desc())).all()
    return [{"month": m.strftime("%Y-%m"), "lang": lang, "generated_at": at.isoformat(), "generated_by": by,
             "cases": (f.get("headline") or {}).get("cases"), "url": f"/api/v1/bulletins/{m:%Y-%m}.pdf?lang={lang}"}
            for m, lang, at, by, f in rows]


def first_working_day(calendar: WorkCalendar, month: date) -> date:
    """The first working day of a month by the working calendar."""
    day = month
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return day


def scheduled(session: Session, now: datetime, calendar: WorkCalendar) -> dict:
    """The scheduler's job: on or after the first working day of a month, last month's bulletin (both languages)
    if it is not stored yet."""
    today = now.astimezone(BEIJING).date()
    month = today.replace(day=1)
    if today < first_working_day(calendar, month):
        return {"made": []}
    last = previous_month(month)
    have = set(session.scalars(select(Bulletin.lang).where(Bulletin.month == last)))
    made = []
    for lang in documents.LANGS:
        if lang not in have:
            generate(session, last, lang, "scheduler", now)
            made.append(f"{last:%Y-%m}/{lang}")
    return {"made": made}
