"""Monthly (or any period) evaluation per department, station, community, workstation, grid cell or person.

The cases of a period (one definition for the tables, the trend, the map and the drill-down lists): every
case whose first report falls in [from, to), Beijing dates, whatever its state now (not filed and void
included: they count in the filing rate). A table by department has the cases a department owns; the map
and the grid table the cases with a grid cell (a case outside the town grid has none). Counts are the
town's for everyone; a list of cases shows those the user may see. Their facts come from the milestones
the workflow records on each case (`app.cases.workflow`), the arithmetic from `app.analysis.scores`;
"open overdue" is judged at the time of the evaluation.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, any_, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from app import params
from app.accounts.models import Department, User
from app.analysis import scores
from app.cases import reading, scope
from app.cases.models import Case, Category, Setting
from app.cases.worktime import BEIJING
from app.errors import InputError
from app.interop.exports import csv_safe
from app.territory.models import AdminArea, Station

GROUPS = {
    "department": lambda c: c.owner_code if c.owner_kind == "department" else None,
    "station": lambda c: c.station_code,
    "community": lambda c: c.community_code,
    "workstation": lambda c: c.workstation_code,
    "grid": lambda c: c.grid_code,
    "person": lambda c: c.handled_by,
}
HEADERS_ZH = {
    "group": "对象", "name": "名称", "cases": "案件数", "reports": "上报数", "valid_reports": "有效上报数",
    "filed": "立案数", "filing_rate": "立案率", "dispatched": "派遣数", "on_time_dispatch_rate": "按时派遣率",
    "handled": "处置数", "on_time_disposal_rate": "按时处置率", "closed": "结案数", "closure_rate": "结案率",
    "on_time_closure_rate": "按时结案率", "rework_rate": "返工率", "ratings": "评价数",
    "satisfaction_mean": "满意度均分", "satisfaction_rate": "满意率", "score": "得分", "grade": "等级",
    "self_handled": "自行处置数", "self_handled_share": "自行处置占比", "evaluator_ratings": "社会评议数",
    "evaluator_rating_mean": "社会评议均分",
}


DEFAULT_WEIGHTS = {"filed_count": 0.1, "closure_rate": 0.3, "on_time_disposal_rate": 0.3, "no_rework_rate": 0.3,
                   "evaluator_rating": 0.1}  # a part with nothing to measure (no review) leaves the score to the others
DEFAULT_GRADES = [["A", 90], ["B", 75], ["C", 60], ["D", 40], ["E", 0]]
DEFAULT_MIN_CASES = 5  # fewer cases than this in the period: scored, not graded


def bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start, end) Beijing dates as instants."""
    return datetime.combine(start, time.min, BEIJING), datetime.combine(end, time.min, BEIJING)


def of_period(start: date, end: date) -> ColumnElement[bool]:
    """The cases of a period: first reported in [start, end) Beijing dates (see the module's docstring)."""
    lo, hi = bounds(start, end)
    return (Case.first_reported_at >= lo) & (Case.first_reported_at < hi)


def rules(session: Session) -> dict:
    """The scoring rules in force: weights, grades and the fewest cases a graded group has."""
    settings = {s.key: s.value for s in session.scalars(select(Setting).where(
        Setting.key.in_(("kpi_weights", "kpi_grades", "kpi_min_cases"))))}
    return {"weights": settings.get("kpi_weights", DEFAULT_WEIGHTS),
            "grades": settings.get("kpi_grades", DEFAULT_GRADES),
            "min_cases": int(settings.get("kpi_min_cases", DEFAULT_MIN_CASES))}


def period(raw_from: str | None, raw_to: str | None, today: date | None = None) -> tuple[date, date]:
    """[from, to) in Beijing dates; default the current month. InputError names a bad bound."""
    today = today or datetime.now(BEIJING).date()
    start = params.day("from", raw_from) if raw_from else today.replace(day=1)
    end = params.day("to", raw_to) if raw_to else (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return params.check_period(start, end)


# The columns `facts` and GROUPS read: rows of these, not whole cases (a district's month of 160,000 cases
# took 14 s as ORM objects).
FACT_COLUMNS = (Case.id, Case.filed_at, Case.report_count, Case.state, Case.first_dispatched_at, Case.dispatch_on_time,
                Case.handled_on_time, Case.closed_at, Case.closed_on_time, Case.rework_count, Case.satisfaction,
                Case.self_handled, Case.owner_kind, Case.owner_code, Case.station_code, Case.community_code,
                Case.workstation_code, Case.grid_code, Case.handled_by)


def facts(case: Any, by: str, light: str | None = None, evaluator_rating: float | None = None) -> dict:
    """The per-case facts scores.indicators() needs (`light`: the case's traffic light when evaluated;
    `evaluator_rating`: the mean of the outside evaluators' ratings)."""
    filed = case.filed_at is not None
    return {
        "id": case.id,
        "group": GROUPS[by](case),
        "overdue_open": light == "red",
        "reports": case.report_count,
        "filed": filed,
        "decided": filed or case.state == "not_filed" or (case.state == "archived" and not filed),
        "dispatched": case.first_dispatched_at is not None,
        "dispatch_on_time": bool(case.dispatch_on_time),
        "handled": case.handled_on_time is not None,
        "handled_on_time": bool(case.handled_on_time),
        "closed": case.closed_at is not None,
        "closed_on_time": bool(case.closed_on_time),
        "reworked": case.rework_count > 0,
        "satisfaction": case.satisfaction,
        "state": case.state,
        "self_handled": bool(case.self_handled),
        "evaluator_rating": evaluator_rating,
    }


def _check_by(by: str) -> None:
    if by not in GROUPS:
        raise InputError("by", f"by must be one of {', '.join(GROUPS)}")


def period_facts(session: Session, start: date, end: date, by: str, now: datetime | None = None) -> list[dict]:
    """The facts of every case of the period that belongs to a group of `by`."""
    light = reading.lights(session, now).label("light")
    rows = session.execute(select(*FACT_COLUMNS, light).where(of_period(start, end)).order_by(Case.id)).all()
    reviews = review_means(session, of_period(start, end)) if rows else {}
    return [f for f in (facts(r, by, r.light, reviews.get(r.id)) for r in rows) if f["group"] is not None]


def evaluate(session: Session, start: date, end: date, by: str, user: User | None = None,
             lang: str = "zh", now: datetime | None = None) -> dict:
    """Indicators, scores and grades of every group for the cases of the period [start, end).

    Groups are the town's for everyone (published monthly), except people: a handler or patrol officer
    sees their own row only."""
    _check_by(by)
    rule = rules(session)
    rows = scores.evaluate(period_facts(session, start, end, by, now), rule["weights"], rule["grades"],
                           rule["min_cases"])
    if by == "person" and scope.scoped(user):
        rows = [r for r in rows if r["group"] == user.username]
    names = names_of(session, by, lang)
    staff = _staff(session) if by == "person" else {}
    for r in rows:
        r["name"] = names.get(r["group"], r["group"])
        if r["group"] in staff:  # the person's registry entry (统一编码): staff code and station
            r["staff_code"], r["staff_station"] = staff[r["group"]]
    return {"from": start.isoformat(), "to": end.isoformat(), "by": by, **rule, "rows": rows}


def review_means(session: Session, cases: ColumnElement[bool]) -> dict[int, float]:
    """The mean of the outside evaluators' ratings per case of those `cases` selects (cases without a review
    are absent). A condition, not a list of ids: a district's month is more cases than a statement takes
    parameters."""
    from app.tiers.models import CaseReview

    rows = session.execute(select(CaseReview.case_id, func.avg(CaseReview.rating))
                           .join(Case, Case.id == CaseReview.case_id).where(cases)
                           .group_by(CaseReview.case_id)).all()
    return {case_id: float(mean) for case_id, mean in rows}


def _staff(session: Session) -> dict[str, tuple[str, str]]:
    """User name -> (unified staff code, station) of the people linked to an account."""
    from app.tiers.people import by_username

    return {name: (p.code, p.station_code) for name, p in by_username(session).items()}


def _pick(zh: str, en: str | None, lang: str) -> str:
    return en or zh if lang == "en" else zh


def names_of(session: Session, by: str, lang: str = "zh") -> dict:
    """Code -> name of the groups of `by` (departments, stations, areas, people) in `lang`, English where the
    data has it."""
    if by == "department":
        rows = session.execute(select(Department.code, Department.name, Department.name_en)).all()
    elif by == "station":
        rows = session.execute(select(Station.code, Station.name, Station.name_en)).all()
    elif by in ("community", "workstation"):
        rows = session.execute(select(AdminArea.code, AdminArea.name, AdminArea.name_en)
                               .where(AdminArea.level == by)).all()
    elif by == "category":
        rows = session.execute(select(Category.code, Category.name, Category.name_en)).all()
    elif by == "person":
        return dict(session.execute(select(User.username, User.display_name)).all())
    else:
        return {}
    return {code: _pick(zh, en, lang) for code, zh, en in rows}


DRILLABLE = ("cases", "filed", "filing_rate", "dispatched", "on_time_dispatch_rate", "handled",
             "on_time_disposal_rate", "closed", "closure_rate", "on_time_closure_rate", "overdue_open", "rework_rate",
             "ratings", "satisfaction_rate")


def drill(session: Session, user: User, start: date, end: date, by: str, group: str, indicator: str,
          lang: str = "zh", now: datetime | None = None) -> dict:
    """The cases behind one number of a table: those the indicator counts and, for a rate, those it is a share
    of; the counts are the town's, the listed cases those the user may see."""
    _check_by(by)
    if indicator not in DRILLABLE:
        raise InputError("indicator", f"indicator must be one of {', '.join(DRILLABLE)}")
    mine = [f for f in period_facts(session, start, end, by, now) if str(f["group"]) == group]
    if by == "person" and scope.scoped(user) and group != user.username:
        mine = []
    part, whole = scores.members(mine, indicator)
    ids = sorted(set(part) | set(whole or []))
    rows = {c.id: c for c in session.scalars(select(Case).where(  # one array parameter, however many ids
        Case.id == any_(bindparam("ids", ids, type_=ARRAY(BigInteger))), scope.visible_to(user)))} if ids else {}
    categories = names_of(session, "category", lang)
    counted = set(part)
    cases = [{"id": i, "counted": i in counted, "state": rows[i].state,
              "category": categories.get(rows[i].category_code, rows[i].category_code),
              "first_reported_at": rows[i].first_reported_at.isoformat(), "address": rows[i].address}
             for i in ids if i in rows]
    return {"from": start.isoformat(), "to": end.isoformat(), "by": by, "group": group, "indicator": indicator,
            "count": len(part), "of": None if whole is None else len(whole),
            "value": round(len(part) / len(whole), 4) if whole else (None if whole is not None else len(part)),
            "hidden": len(ids) - len(cases), "cases": cases}


def columns(lang: str = "zh") -> list[tuple[str, str]]:
    """(key, header) of the exported table."""
    keys = ["group", "name", *[k for k in ("cases", *scores.INDICATORS) if k in HEADERS_ZH], "score", "grade"]
    keys = list(dict.fromkeys(keys))
    return [(k, HEADERS_ZH[k] if lang == "zh" else k) for k in keys]


def to_csv(result: dict, lang: str = "zh") -> bytes:
    """CSV with a BOM so that Excel opens the Chinese headers correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    cols = columns(lang)
    writer.writerow([h for _, h in cols])
    for r in result["rows"]:  # names are people's: a leading = + - @ must not become a formula
        writer.writerow(["" if r.get(k) is None else csv_safe(r.get(k)) for k, _ in cols])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(result: dict, lang: str = "zh") -> bytes:
    """An XLSX workbook with one sheet."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = f"{result['by']} {result['from']}"[:31]
    cols = columns(lang)
    sheet.append([h for _, h in cols])
    for r in result["rows"]:
        sheet.append([csv_safe(r.get(k)) for k, _ in cols])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def grid_counts(session: Session, start: date, end: date) -> dict:
    """The cases of the period per grid cell (the choropleth), with the period's total and how many of its cases
    have no grid cell (outside the town grid), so that the map's total and the tables' can be told apart."""
    rows = session.execute(
        select(Case.grid_code, func.count()).where(of_period(start, end)).group_by(Case.grid_code)
    ).all()
    counts = {code: n for code, n in rows if code is not None}
    outside = sum(n for code, n in rows if code is None)
    return {"from": start.isoformat(), "to": end.isoformat(), "counts": counts,
            "total": sum(counts.values()) + outside, "without_grid_cell": outside}


def trend(session: Session, start: date, end: date) -> dict:
    """The cases of the period per month (per day when the period is two months or shorter), with how many of
    them were closed and closed on time: the trend chart follows the chosen period."""
    unit = "day" if (end - start).days <= 62 else "month"
    bucket = func.date_trunc(unit, func.timezone("Asia/Shanghai", Case.first_reported_at))
    rows = session.execute(
        select(bucket, func.count(), func.count(Case.closed_at), func.sum(cast(Case.closed_on_time, Integer)))
        .where(of_period(start, end)).group_by(bucket).order_by(bucket)
    ).all()
    fmt = "%Y-%m-%d" if unit == "day" else "%Y-%m"
    found = {b.strftime(fmt): (n, c, int(t or 0)) for b, n, c, t in rows}
    keys, d = [], start
    while d < end:  # every bucket of the period, empty ones too
        keys.append(d.strftime(fmt))
        d = d + timedelta(days=1) if unit == "day" else (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    keys = list(dict.fromkeys(keys))
    buckets = [{"period": k, "cases": found.get(k, (0, 0, 0))[0], "closed": found.get(k, (0, 0, 0))[1],
                "closed_on_time": found.get(k, (0, 0, 0))[2]} for k in keys]
    return {"from": start.isoformat(), "to": end.isoformat(), "unit": unit, "buckets": buckets,
            "total": sum(b["cases"] for b in buckets)}
