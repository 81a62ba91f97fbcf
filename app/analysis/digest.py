"""The hot-issue digest for the morning meeting (早班会): what rose most, what is overdue, what was
escalated, and the chronic problems, for a day or a week."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.analysis import alerts, kpi
from app.cases import machine, reading, scope
from app.cases.models import Case, CaseEvent, Report
from app.cases.worktime import BEIJING
from app.errors import InputError
from app.tiers import services as tier_services

SPANS = {"day": 1, "week": 7}
TOP = 5


def build(session: Session, day: date, span: str, user: User | None = None, now: datetime | None = None,
          lang: str = "zh") -> dict:
    """The digest of the `span` ending with `day` (Beijing dates), compared with the span before; names of
    categories, places, stations and owners in `lang` (English where the data has it).

    The counts are the town's for everyone; the lists of cases (overdue, escalated, chronic: with their
    addresses and notes) are those the user may see."""
    if span not in SPANS:
        raise InputError("span", "span must be day or week")
    now = now or datetime.now(UTC)
    n = SPANS[span]
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), BEIJING)
    start, before = end - timedelta(days=n), end - timedelta(days=2 * n)
    at = min(end, now)
    mine = literal(True) if user is None else scope.visible_to(user)
    current, previous = _cases(session, start, end), _cases(session, before, start)
    categories, areas = kpi.names_of(session, "category", lang), kpi.names_of(session, "workstation", lang)
    owners = {("department", k): v for k, v in kpi.names_of(session, "department", lang).items()} | \
        {("station", k): v for k, v in kpi.names_of(session, "station", lang).items()}
    return {
        "from": start.date().isoformat(), "to": (end - timedelta(days=1)).date().isoformat(), "span": span,
        "totals": {
            "cases": len(current), "previous_cases": len(previous),
            "reports": session.scalar(select(func.count()).select_from(Report)
                                      .where(Report.reported_at >= start, Report.reported_at < end)),
            "closed": session.scalar(select(func.count()).select_from(Case)
                                     .where(Case.closed_at >= start, Case.closed_at < end)),
        },
        "rising_categories": _rising(current, previous, lambda c: c.category_code, categories),
        "rising_places": _rising(current, previous, lambda c: c.workstation_code, areas),
        "rising_grid_cells": _rising(current, previous, lambda c: c.grid_code, {}),
        "overdue": _overdue(session, at, categories, owners, mine),
        "escalations": _escalations(session, start, end, mine),
        "chronic": _chronic(session, at, categories, mine),
        "alerts": alerts.for_digest(session, day, lang),
        "unaccepted": tier_services.unaccepted(session, at, mine=mine),
    }


def _cases(session: Session, start: datetime, end: datetime) -> list[Case]:
    return session.scalars(select(Case).where(Case.first_reported_at >= start, Case.first_reported_at < end)).all()


def _rising(current: list[Case], previous: list[Case], key: Callable[[Case], str | None], names: dict) -> list[dict]:
    now, then = Counter(key(c) for c in current), Counter(key(c) for c in previous)
    rows = [{"code": k, "name": names.get(k, k), "count": v, "previous": then.get(k, 0), "rise": v - then.get(k, 0)}
            for k, v in now.items() if k is not None]
    rows.sort(key=lambda r: (-r["rise"], -r["count"], str(r["code"])))
    return [r for r in rows if r["rise"] > 0][:TOP]


def _overdue(session: Session, at: datetime, categories: dict, owners: dict, mine: ColumnElement[bool]) -> list[dict]:
    light = reading.lights(session, at)
    rows = session.execute(
        select(Case).where(Case.state.not_in(machine.FINAL), light == "red", mine).order_by(Case.deadline_at).limit(20)
    ).scalars().all()
    return [{"case_id": c.id, "category": categories.get(c.category_code, c.category_code), "state": c.state,
             "station": owners.get(("station", c.station_code), c.station_code),
             "owner": owners.get((c.owner_kind, c.owner_code), c.owner_code) if c.owner_code else None,
             "deadline": c.deadline_at.isoformat() if c.deadline_at else None,
             "hours_late": round((at - c.deadline_at).total_seconds() / 3600, 1) if c.deadline_at else None,
             "escalation_level": c.escalation_level} for c in rows]


def _escalations(session: Session, start: datetime, end: datetime, mine: ColumnElement[bool]) -> list[dict]:
    events = session.scalars(
        select(CaseEvent).join(Case, Case.id == CaseEvent.case_id)
        .where(CaseEvent.action == "escalate", CaseEvent.at >= start, CaseEvent.at < end, mine)
        .order_by(CaseEvent.at)
    ).all()
    return [{"case_id": e.case_id, "at": e.at.isoformat(), "by": e.actor, "level": (e.data or {}).get("level"),
             "label": (e.data or {}).get("label"), "note": e.note} for e in events]


def _chronic(session: Session, at: datetime, categories: dict, mine: ColumnElement[bool]) -> list[dict]:
    week_ago = at - timedelta(days=7)
    rows = session.scalars(
        select(Case).where(
            Case.state.not_in(machine.FINAL), mine,
            (Case.state == "suspended") | ((Case.report_count >= 3) & (Case.first_reported_at < week_ago)),
        ).order_by(Case.first_reported_at).limit(20)
    ).all()
    return [{"case_id": c.id, "category": categories.get(c.category_code, c.category_code), "state": c.state,
             "reports": c.report_count, "since": c.first_reported_at.isoformat(), "address": c.address}
            for c in rows]
