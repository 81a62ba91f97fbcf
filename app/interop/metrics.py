"""Operational figures for Prometheus, read from the database so that every worker and host answers the same.

Per-process request counters would differ from one gunicorn worker to the next (a scrape reaches
whichever worker accepts it), so request rates and latencies are left to the proxy in front
(nginx); what is here is the state of the service itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app import cache
from app.cases import machine
from app.cases.models import Case, Report, SchedulerRun, SupervisionOrder
from app.cases.reading import lights
from app.territory import boundaries
from app.territory.models import BoundaryVersion

log = logging.getLogger(__name__)


@dataclass
class Metric:
    """One metric family: name, type (gauge or counter), help text and its samples (labels, value)."""

    name: str
    kind: str
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)


def health(session: Session) -> dict:
    """GET /healthz: whether the database answers, and which boundary version is in effect."""
    try:
        name = session.scalar(select(func.current_database()))
        version = boundaries.current_version_id(session)
    except SQLAlchemyError as exc:
        log.warning("healthz: database unreachable: %s", exc.__class__.__name__)
        session.rollback()
        return {"status": "unavailable", "database": None, "message": "the database is unreachable"}
    indexes = cache.caches(session).status()
    stale = sorted(n for n, st in indexes.items() if st["stale"])
    body = {"status": "degraded" if stale else "ok", "database": name, "boundary_version": version, "indexes": indexes}
    if stale:
        body["message"] = f"serving older {', '.join(stale)}: the newest data could not be built (see indexes)"
    return body


def collect(session: Session, now: datetime | None = None) -> list[Metric]:
    """The metric families computed from the database at `now`."""
    now = now or datetime.now(UTC)
    return [
        _open_cases(session, now),
        _cases_by_state(session),
        Metric("nanhui_reports_total", "counter", "Reports stored since the database was created.",
               [({}, session.scalar(select(func.count()).select_from(Report)) or 0)]),
        Metric("nanhui_reports_last_hour", "gauge", "Reports received in the last hour.",
               [({}, session.scalar(select(func.count()).select_from(Report)
                                    .where(Report.received_at >= now - timedelta(hours=1))) or 0)]),
        Metric("nanhui_supervision_orders_open", "gauge", "Supervision orders not closed yet.",
               [({}, session.scalar(select(func.count()).select_from(SupervisionOrder)
                                    .where(SupervisionOrder.state != "closed")) or 0)]),
        _boundary_version(session),
        _scheduler(session),
        *connector_metrics(session),
    ]


def connector_metrics(session: Session) -> list[Metric]:
    """Sensors and the district outbox (app/connectors)."""
    from app.connectors import outbox, sensors

    return [
        Metric("nanhui_sensor_messages_rejected_total", "counter",
               "Sensor messages refused (malformed, unknown sensor, breach not filed).",
               [({}, sensors.rejected_count(session))]),
        Metric("nanhui_outbox_events", "gauge", "District outbox events by state (dead: the dead-letter list).",
               [({"state": k}, v) for k, v in outbox.counts(session).items()]),
    ]


def _open_cases(session: Session, now: datetime) -> Metric:
    light = lights(session, now)
    rows = session.execute(
        select(light, func.count()).where(Case.state.not_in(machine.FINAL)).group_by(light)
    ).all()
    counts = {"green": 0, "yellow": 0, "red": 0} | {str(k or "none"): n for k, n in rows}
    return Metric("nanhui_cases_open", "gauge", "Open cases by deadline light (red: past the deadline).",
                  [({"light": k}, v) for k, v in sorted(counts.items())])


def _cases_by_state(session: Session) -> Metric:
    rows = session.execute(select(Case.state, func.count()).group_by(Case.state)).all()
    return Metric("nanhui_cases", "gauge", "Cases by workflow state.", [({"state": s}, n) for s, n in sorted(rows)])


def _boundary_version(session: Session) -> Metric:
    current = boundaries.current_version_id(session)
    newest = session.scalar(select(func.max(BoundaryVersion.id)))
    return Metric("nanhui_boundary_version", "gauge", "Boundary version in effect (which=current) and newest written.",
                  [({"which": "current"}, current or 0), ({"which": "newest"}, newest or 0)])


def _scheduler(session: Session) -> Metric:
    rows = session.execute(
        select(SchedulerRun.job, func.max(SchedulerRun.finished_at)).group_by(SchedulerRun.job)
    ).all()
    return Metric("nanhui_scheduler_last_run_timestamp_seconds", "gauge",
                  "When each scheduled job last finished (Unix time); alert when it falls behind.",
                  [({"job": job}, at.timestamp()) for job, at in sorted(rows) if at is not None])


def render(metrics: Iterable[Metric]) -> str:
    """The Prometheus text exposition format (version 0.0.4)."""
    lines: list[str] = []
    for m in metrics:
        lines.append(f"# HELP {m.name} {_escape_help(m.help)}")
        lines.append(f"# TYPE {m.name} {m.kind}")
        for labels, value in m.samples:
            label_text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
            lines.append(f"{m.name}{{{label_text}}} {_number(value)}" if labels else f"{m.name} {_number(value)}")
    return "\n".join(lines) + "\n"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
