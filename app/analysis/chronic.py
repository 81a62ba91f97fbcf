"""Chronic problems (管理顽症): a category that keeps coming back in one grid cell, under dynamic control.

Found: over the `WEEKS` weeks before a day, the same category in the same cell reported (new cases, reports
joining them, rework) at least `MIN_TIMES` times in at least two different weeks, or one of its cases suspended
(挂账). Each found pair becomes a problem (once) that people put under control: an owner, a plan, a review
date, a status (open, controlled, resolved), with a history of every step; every write is audited."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from geoalchemy2.shape import to_shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.analysis.models import ChronicEvent, ChronicProblem
from app.cases.models import Case, Category, Setting
from app.cases.worktime import BEIJING
from app.db import found
from app.errors import Conflict, InputError

WEEKS = 8  # settings chronic_weeks and chronic_min_times override these
MIN_TIMES = 3
STATUSES = ("open", "controlled", "resolved")


def _names(session: Session, lang: str) -> dict:
    rows = session.execute(select(Category.code, Category.name, Category.name_en)).all()
    return {c: (en or zh) if lang == "en" else zh for c, zh, en in rows}


def _setting(session: Session, key: str, default: int) -> int:
    row = session.get(Setting, key)
    return int(row.value) if row is not None else default


def rule(session: Session) -> dict:
    """The detection rule in force: {weeks, times}."""
    return {"weeks": _setting(session, "chronic_weeks", WEEKS),
            "times": _setting(session, "chronic_min_times", MIN_TIMES)}


def detect(session: Session, end: date | datetime, weeks: int | None = None, lang: str = "zh") -> list[dict]:
    """The (grid cell, category) pairs that keep coming back in the `weeks` weeks (setting `chronic_weeks`) before
    `end`, worst first."""
    weeks = weeks or _setting(session, "chronic_weeks", WEEKS)
    least = _setting(session, "chronic_min_times", MIN_TIMES)
    hi = end if isinstance(end, datetime) else datetime.combine(end, datetime.min.time(), BEIJING)
    lo = hi - timedelta(weeks=weeks)
    rows = session.execute(
        select(Case.id, Case.grid_code, Case.category_code, Case.first_reported_at, Case.rework_count, Case.state,
               Case.address, func.ST_X(Case.geom), func.ST_Y(Case.geom), Case.report_count)
        .where(Case.grid_code.is_not(None), Case.state != "void",
               ((Case.first_reported_at >= lo) & (Case.first_reported_at < hi)) | (Case.state == "suspended"))
    ).all()
    pairs: dict = defaultdict(lambda: {"cases": [], "weeks": set(), "reworks": 0, "suspended": 0, "reports": 0})
    for r in rows:
        p = pairs[(r.grid_code, r.category_code)]
        p["cases"].append(r)
        p["weeks"].add((r.first_reported_at - lo).days // 7)
        p["reworks"] += r.rework_count
        p["reports"] += max(1, r.report_count or 1)
        p["suspended"] += r.state == "suspended"
    names = _names(session, lang)
    found = []
    for (cell, category), p in pairs.items():
        times = p["reports"] + p["reworks"]
        if not (p["suspended"] or (times >= least and len(p["weeks"]) >= 2)):
            continue
        last = max(p["cases"], key=lambda r: r.first_reported_at)
        found.append({"grid_code": cell, "category_code": category, "category": names.get(category, category),
                      "cases": len(p["cases"]), "reports": p["reports"], "reworks": p["reworks"],
                      "weeks": len(p["weeks"]),
                      "suspended": p["suspended"], "case_ids": sorted(r.id for r in p["cases"]),
                      "address": last.address, "lon": last[7], "lat": last[8],
                      "last_reported_at": last.first_reported_at.isoformat()})
    found.sort(key=lambda f: (-(f["reports"] + f["reworks"]), -f["suspended"], f["grid_code"], f["category_code"]))
    return found


def refresh(session: Session, actor: str, now: datetime | None = None) -> dict:
    """Make a problem of every newly found pair (the scheduler's job); known ones keep their control."""
    now = now or datetime.now(UTC)
    known = {(p.grid_code, p.category_code) for p in session.scalars(select(ChronicProblem))}
    added = 0
    for f in detect(session, now):
        if (f["grid_code"], f["category_code"]) in known:
            continue
        problem = ChronicProblem(grid_code=f["grid_code"], category_code=f["category_code"], status="open",
                                 found_at=now, updated_at=now)
        session.add(problem)
        session.flush()
        session.add(ChronicEvent(problem_id=problem.id, at=now, actor=actor, action="found",
                                 data={k: f[k] for k in ("cases", "reworks", "weeks", "suspended", "case_ids")}))
        audit.record(session, actor, "chronic.found", "chronic_problem", problem.id, after={
            "grid_code": f["grid_code"], "category_code": f["category_code"]})
        added += 1
    session.flush()
    return {"added": added}


def _as_dict(p: ChronicProblem, names: dict, seen: dict | None, events: list[ChronicEvent]) -> dict:
    return {"id": p.id, "grid_code": p.grid_code, "category_code": p.category_code,
            "category": names.get(p.category_code, p.category_code), "status": p.status, "owner": p.owner,
            "plan": p.plan, "review_on": p.review_on.isoformat() if p.review_on else None,
            "found_at": p.found_at.isoformat(), "version": p.version, "now": seen,
            "history": [{"at": e.at.isoformat(), "by": e.actor, "action": e.action, "note": e.note, "data": e.data}
                        for e in events]}


def listing(session: Session, lang: str = "zh", now: datetime | None = None) -> list[dict]:
    """Every problem with its control, its history and what the last `WEEKS` weeks show of it now."""
    current = {(f["grid_code"], f["category_code"]): f for f in detect(session, now or datetime.now(UTC), lang=lang)}
    names = _names(session, lang)
    events = defaultdict(list)
    for e in session.scalars(select(ChronicEvent).order_by(ChronicEvent.at, ChronicEvent.id)):
        events[e.problem_id].append(e)
    problems = session.scalars(select(ChronicProblem).order_by(ChronicProblem.status, ChronicProblem.id)).all()
    return [_as_dict(p, names, current.get((p.grid_code, p.category_code)), events[p.id]) for p in problems]


def geojson(session: Session, lang: str = "zh", now: datetime | None = None) -> dict:
    """The problems as points (the place of the last case) for the map."""
    features = []
    for p in listing(session, lang, now):
        seen = p["now"]
        if seen is None:
            case = session.scalars(select(Case).where(Case.grid_code == p["grid_code"],
                                                      Case.category_code == p["category_code"])
                                   .order_by(Case.first_reported_at.desc()).limit(1)).first()
            if case is None:
                continue
            point = to_shape(case.geom)
            lon, lat = point.x, point.y
        else:
            lon, lat = seen["lon"], seen["lat"]
        props = {k: p[k] for k in ("id", "grid_code", "category_code", "category", "status", "owner", "review_on")}
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                         "properties": {**props, "cases": seen["cases"] if seen else 0}})
    return {"type": "FeatureCollection", "features": features}


def control(session: Session, actor: str, problem_id: int, payload: dict, now: datetime | None = None) -> dict:
    """Put a problem under control or review it: owner, plan, review date, status and a note (audited)."""
    problem = found(session, ChronicProblem, problem_id, "chronic problem", lock=True)
    if payload["version"] != problem.version:
        raise Conflict("stale_version",
                       f"chronic problem {problem_id} is at version {problem.version}, not {payload['version']}")
    if payload.get("status") is not None and payload["status"] not in STATUSES:
        raise InputError("status", f"status must be one of {', '.join(STATUSES)}")
    before = {"status": problem.status, "owner": problem.owner, "plan": problem.plan,
              "review_on": problem.review_on.isoformat() if problem.review_on else None}
    if "review_on" in payload and payload["review_on"] is not None:
        try:
            problem.review_on = date.fromisoformat(payload["review_on"])
        except ValueError as exc:
            raise InputError("review_on", "review_on must be a date YYYY-MM-DD") from exc
    for key in ("owner", "plan", "status"):
        if payload.get(key) is not None:
            setattr(problem, key, payload[key])
    now = now or datetime.now(UTC)
    problem.version += 1
    problem.updated_at = now
    after = {"status": problem.status, "owner": problem.owner, "plan": problem.plan,
             "review_on": problem.review_on.isoformat() if problem.review_on else None}
    session.add(ChronicEvent(problem_id=problem.id, at=now, actor=actor, action=payload.get("action") or "control",
                             note=payload.get("note"), data={"before": before, "after": after}))
    audit.record(session, actor, "chronic.control", "chronic_problem", problem.id, before=before, after=after)
    session.flush()
    return next(p for p in listing(session) if p["id"] == problem.id)
