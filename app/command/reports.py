"""Situation reports (首报, 续报, 终报): a snapshot of the incident, what lies inside its area, the resources
sent, the roll-calls and the log up to that moment, kept as filed (a printable page and a PDF are rendered
from the snapshot). The first report is due FIRST_REPORT_MINUTES after the declaration; the final one
closes the series."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.command import incidents, notify, resources, summary
from app.command.models import SituationReport
from app.errors import InputError, NotFound

KINDS = ("first", "followup", "final")


def file_report(session: Session, actor: str, incident_id: int, kind: str, note: str | None = None,
                now: datetime | None = None) -> SituationReport:
    """File the next report: the first before any follow-up, one final report at most."""
    now = now or datetime.now(UTC)
    if kind not in KINDS:
        raise InputError("kind", f"unknown report kind {kind!r}; one of {', '.join(KINDS)}")
    incident = incidents.get(session, incident_id, lock=True)
    filed = dict(session.execute(select(SituationReport.kind, func.count()).where(
        SituationReport.incident_id == incident_id).group_by(SituationReport.kind)).all())
    if kind == "first" and filed.get("first"):
        raise InputError("kind", "the first report is filed already: file a follow-up",
                         message_zh="首报已报送，请报续报")
    if kind != "first" and not filed.get("first"):
        raise InputError("kind", "file the first report before any other", message_zh="请先报送首报")
    if filed.get("final"):
        raise InputError("kind", "the final report is filed already", message_zh="终报已报送")
    content = {
        "incident": {k: v for k, v in incidents.incident_json(session, incident).items() if k not in ("origin",)},
        "summary": summary.inside(session, incident.area, now),
        "cases": incidents.linked(session, incident_id),
        "dispatches": resources.dispatches(session, incident_id),
        "roll_calls": notify.status(session, incident_id),
        "log": incidents.log_entries(session, incident_id),
        "on_time": kind != "first" or now <= incident.first_report_due_at,
    }
    row = SituationReport(incident_id=incident_id, kind=kind, seq=sum(filed.values()) + 1, author=actor, at=now,
                          note=note, content=content)
    session.add(row)
    session.flush()
    incidents.log(session, incident_id, actor, "report", kind, {"report_id": row.id, "seq": row.seq,
                                                               "on_time": content["on_time"]})
    return row


def get(session: Session, incident_id: int, report_id: int) -> SituationReport:
    """One report of the incident."""
    row = session.get(SituationReport, report_id)
    if row is None or row.incident_id != incident_id:
        raise NotFound("situation report", report_id)
    return row


def report_json(r: SituationReport, full: bool = False) -> dict:
    """A report as JSON (its snapshot with `full`)."""
    body = {"id": r.id, "incident_id": r.incident_id, "kind": r.kind, "seq": r.seq, "author": r.author,
            "at": r.at.isoformat(), "note": r.note, "on_time": r.content.get("on_time"),
            "links": {"html": f"/command/incidents/{r.incident_id}/reports/{r.id}",
                      "pdf": f"/command/incidents/{r.incident_id}/reports/{r.id}.pdf"}}
    if full:
        body["content"] = r.content
    return body


def listing(session: Session, incident_id: int) -> list[dict]:
    """The incident's reports in order."""
    return [report_json(r) for r in session.scalars(select(SituationReport).where(
        SituationReport.incident_id == incident_id).order_by(SituationReport.seq))]
