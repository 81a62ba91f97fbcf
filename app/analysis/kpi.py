"""Monthly (or any period) evaluation per department, station, community, workstation, grid cell or person.

The cases of a period are those first reported in it; their facts come from the milestones the
workflow records on each case (`app.cases.workflow`), the arithmetic from `app.analysis.scores`.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from app import params
from app.accounts.models import Department, User
from app.analysis import scores
from app.cases import scope
from app.cases.models import Case, Setting
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


def period(raw_from: str | None, raw_to: str | None, today: date | None = None) -> tuple[date, date]:
    """[from, to) in Beijing dates; default the current month. InputError names a bad bound."""
    today = today or datetime.now(BEIJING).date()
    start = params.day("from", raw_from) if raw_from else today.replace(day=1)
    end = params.day("to", raw_to) if raw_to else (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return params.check_period(start, end)


def facts(case: Case, by: str, evaluator_rating: float | None = None) -> dict:
    """The per-case facts scores.indicators() needs (`evaluator_rating`: the mean of the evaluators' ratings)."""
    filed = case.filed_at is not None
    return {
        "group": GROUPS[by](case),
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


def evaluate(session: Session, start: date, end: date, by: str, user: User | None = None) -> dict:
    """Indicators, scores and grades of every group for the cases first reported in [start, end).

    Groups are the town's for everyone (published monthly), except people: a handler or patrol officer
    sees their own row only."""
    if by not in GROUPS:
        raise InputError("by", f"by must be one of {', '.join(GROUPS)}")
    lo = datetime.combine(start, datetime.min.time(), BEIJING)
    hi = datetime.combine(end, datetime.min.time(), BEIJING)
    cases = session.scalars(select(Case).where(Case.first_reported_at >= lo, Case.first_reported_at < hi)).all()
    settings = {s.key: s.value for s in session.scalars(select(Setting))}
    weights = settings.get("kpi_weights", {"filed_count": 0.1, "closure_rate": 0.3, "on_time_disposal_rate": 0.3,
                                           "no_rework_rate": 0.3})
    grades = settings.get("kpi_grades", [["A", 90], ["B", 75], ["C", 60], ["D", 40], ["E", 0]])
    reviews = review_means(session, [c.id for c in cases])
    rows = scores.evaluate((f for f in (facts(c, by, reviews.get(c.id)) for c in cases) if f["group"] is not None),
                           weights, grades)
    if by == "person" and scope.scoped(user):
        rows = [r for r in rows if r["group"] == user.username]
    names = _names(session, by)
    staff = _staff(session) if by == "person" else {}
    for r in rows:
        r["name"] = names.get(r["group"], r["group"])
        if r["group"] in staff:  # the person's registry entry (统一编码): staff code and station
            r["staff_code"], r["staff_station"] = staff[r["group"]]
    return {"from": start.isoformat(), "to": end.isoformat(), "by": by, "weights": weights, "grades": grades,
            "rows": rows}


def review_means(session: Session, case_ids: list[int]) -> dict[int, float]:
    """The mean of the outside evaluators' ratings per case (cases without a review are absent)."""
    from app.tiers.models import CaseReview

    if not case_ids:
        return {}
    rows = session.execute(select(CaseReview.case_id, func.avg(CaseReview.rating))
                           .where(CaseReview.case_id.in_(case_ids)).group_by(CaseReview.case_id)).all()
    return {case_id: float(mean) for case_id, mean in rows}


def _staff(session: Session) -> dict[str, tuple[str, str]]:
    """User name -> (unified staff code, station) of the people linked to an account."""
    from app.tiers.people import by_username

    return {name: (p.code, p.station_code) for name, p in by_username(session).items()}


def _names(session: Session, by: str) -> dict:
    if by == "department":
        return dict(session.execute(select(Department.code, Department.name)).all())
    if by == "station":
        return dict(session.execute(select(Station.code, Station.name)).all())
    if by in ("community", "workstation"):
        return dict(session.execute(select(AdminArea.code, AdminArea.name).where(AdminArea.level == by)).all())
    if by == "person":
        return dict(session.execute(select(User.username, User.display_name)).all())
    return {}


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


def grid_counts(session: Session, user: User, start: date, end: date) -> dict:
    """Cases the user may see, first reported in [start, end), per grid cell: the choropleth."""
    lo, hi = (datetime.combine(d, time.min, BEIJING) for d in (start, end))
    rows = session.execute(
        select(Case.grid_code, func.count()).where(Case.first_reported_at >= lo, Case.first_reported_at < hi,
                                                   Case.grid_code.is_not(None), scope.visible_to(user))
        .group_by(Case.grid_code)
    ).all()
    return {"from": start.isoformat(), "to": end.isoformat(), "counts": dict(rows)}


def monthly(session: Session, user: User) -> list[dict]:
    """Cases the user may see per month (by first report), closed and closed on time: the trend chart."""
    month = func.date_trunc("month", func.timezone("Asia/Shanghai", Case.first_reported_at))
    rows = session.execute(
        select(month, func.count(), func.count(Case.closed_at), func.sum(cast(Case.closed_on_time, Integer)))
        .where(scope.visible_to(user)).group_by(month).order_by(month)
    ).all()
    return [{"month": m.strftime("%Y-%m"), "cases": n, "closed": c, "closed_on_time": int(t or 0)}
            for m, n, c, t in rows]
