"""Reading cases and their history, and re-running ownership after a boundary edit."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Attachment, Case, CaseEvent, Report
from app.services import audit, workflow
from app.services.errors import NotFound
from app.services.intake import CLOSED_STATES
from app.workflow import machine

OWNER_FIELDS = ("station_code", "community_code", "workstation_code", "grid_code")
MILESTONES = ("verified", "filed", "dispatched", "accepted", "handled", "checked", "closed", "archived")


def case_detail(session: Session, case_id: int, now: datetime | None = None) -> dict:
    """A case with its reports, attachments (metadata only), owner, clock and full history, oldest first."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("case", case_id)
    ctx = workflow.Context.load(session)
    clock = workflow.status(case, now or datetime.now(UTC), ctx.calendar, ctx.settings)
    lon, lat = session.execute(select(func.ST_X(Case.geom), func.ST_Y(Case.geom)).where(Case.id == case_id)).one()
    events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.at, CaseEvent.id)
    ).all()
    return {
        "id": case.id, "state": case.state, "version": case.version, "category": case.category_code,
        "urgency": case.urgency, "description": case.description, "address": case.address,
        "lon": round(lon, 7), "lat": round(lat, 7),
        "grid_code": case.grid_code, "workstation": case.workstation_code, "community": case.community_code,
        "station": case.station_code, "boundary_version": case.boundary_version_id,
        "near_boundary": case.near_boundary, "fallback": case.fallback, "inside_town": case.inside_town,
        "report_count": case.report_count, "split_from": case.split_from_id,
        "state_name": machine.STATES[case.state][0],
        "owner": {"kind": case.owner_kind, "code": case.owner_code} if case.owner_code else None,
        "helpers": case.helpers or [], "escalation_level": case.escalation_level,
        "extension_pending": case.extension_pending, "extension_request": case.extension_request,
        "suspension_pending": case.suspension_pending, "duty_fallback": case.duty_fallback,
        "deadline": clock["deadline"], "elapsed_share": clock["share"], "light": clock["light"],
        "clock_paused": clock["paused"], "limit_hours": case.limit_hours, "limit_unit": case.limit_unit,
        "milestones": {k: _iso(getattr(case, f"{k}_at")) for k in MILESTONES},
        "rework_count": case.rework_count, "return_count": case.return_count,
        "extension_count": case.extension_count, "satisfaction": case.satisfaction,
        "first_reported_at": case.first_reported_at.isoformat(), "last_reported_at": case.last_reported_at.isoformat(),
        "reports": [report_summary(r) for r in case.reports],
        "history": [
            {"at": e.at.isoformat(), "actor": e.actor, "role": e.role, "action": e.action, "from_state": e.from_state,
             "to_state": e.to_state, "case_version": e.case_version, "note": e.note, "data": e.data}
            for e in events
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def report_summary(report: Report) -> dict:
    """A report as the case view and GET /api/v1/reports/<id> show it."""
    return {
        "id": report.id, "case_id": report.case_id, "channel": report.channel, "reference": report.reference,
        "reporter_name": report.reporter_name, "reporter_phone": report.reporter_phone,
        "category": report.category_code, "urgency": report.urgency, "description": report.description,
        "address": report.address_text, "location_source": report.location_source,
        "geocode_score": report.geocode_score, "grid_code": report.grid_code, "station": report.station_code,
        "boundary_version": report.boundary_version_id, "near_boundary": report.near_boundary,
        "merged": report.merged, "merge_distance_m": report.merge_distance_m,
        "reported_at": report.reported_at.isoformat(), "received_at": report.received_at.isoformat(),
        "attachments": [attachment_summary(a) for a in report.attachments],
    }


def attachment_summary(a: Attachment) -> dict:
    """Attachment metadata; uploaded bytes are fetched from /api/v1/attachments/<id>."""
    if a.kind == "url":
        return {"id": a.id, "kind": "url", "url": a.url}
    return {"id": a.id, "kind": "upload", "url": f"/api/v1/attachments/{a.id}", "filename": a.filename,
            "content_type": a.content_type, "size_bytes": a.size_bytes, "sha256": a.sha256}


def report_detail(session: Session, report_id: int) -> dict:
    """One report."""
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound("report", report_id)
    return report_summary(report)


@dataclass
class Reassignment:
    """What a re-run of ownership changed."""

    boundary_version: int
    checked: int = 0
    changed: int = 0
    moved: int = 0  # the station changed
    flows: Counter = field(default_factory=Counter)  # (old station, new station) -> cases


def reassign(session: Session, index, actor: str, open_only: bool = False, batch: int = 5000) -> Reassignment:
    """Re-run ownership for every case not yet under `index.version`; history records each change."""
    result = Reassignment(boundary_version=index.version)
    query = select(Case.id).where(Case.boundary_version_id != index.version).order_by(Case.id)
    if open_only:
        query = query.where(Case.state.not_in(CLOSED_STATES))
    ids = session.scalars(query).all()
    for start in range(0, len(ids), batch):
        _reassign_batch(session, index, actor, ids[start : start + batch], result)
    if result.checked:
        audit.record(session, actor, "cases.reassign", "boundary_version", index.version,
                     after={"checked": result.checked, "changed": result.changed, "moved": result.moved,
                            "open_only": open_only})
    return result


def _reassign_batch(session: Session, index, actor: str, ids: list[int], result: Reassignment) -> None:
    rows = session.execute(
        select(Case, func.ST_X(Case.geom), func.ST_Y(Case.geom)).where(Case.id.in_(ids)).order_by(Case.id)
        .with_for_update(of=Case)
    ).all()
    if not rows:
        return
    bulk = index.owners_bulk(np.array([r[1] for r in rows]), np.array([r[2] for r in rows]))
    for i, (case, _, _) in enumerate(rows):
        new = {
            "station_code": bulk["station"][i], "community_code": bulk["community"][i],
            "workstation_code": bulk["workstation"][i], "grid_code": bulk["grid_code"][i],
        }
        old = {k: getattr(case, k) for k in OWNER_FIELDS}
        result.checked += 1
        before_version = case.boundary_version_id
        case.boundary_version_id = index.version
        case.near_boundary = bool(bulk["near_boundary"][i])
        case.fallback = bool(bulk["fallback"][i])
        case.inside_town = bool(bulk["inside_town"][i])
        if new == old:
            continue
        for k, v in new.items():
            setattr(case, k, v)
        case.version += 1
        case.updated_at = func.now()
        result.changed += 1
        if old["station_code"] != new["station_code"]:
            result.moved += 1
            result.flows[(old["station_code"], new["station_code"])] += 1
        session.add(CaseEvent(
            case_id=case.id, case_version=case.version, actor=actor, role="system", action="reassigned",
            from_state=case.state, to_state=case.state,
            note=f"boundary version {before_version} -> {index.version}",
            data={"before": old, "after": new, "boundary_version": [before_version, index.version]},
        ))
    session.flush()
