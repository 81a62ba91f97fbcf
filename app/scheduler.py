"""The scheduler: supervision and fallback jobs, the live feed's red lights and pruning, the chronic problems and
last month's bulletin (on the first working day of a month); one runner at a time across every worker and host.

Each worker process may start a daemon thread (SCHEDULER=true, as `make run` does) that wakes
every SCHEDULER_INTERVAL_S seconds; whoever takes the PostgreSQL advisory lock runs the jobs in
one transaction and the others skip that round. `flask --app app scheduler run` does one round
from the command line (with `--now` for a chosen clock).
"""

from __future__ import annotations

import logging
import socket
import threading
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.analysis import bulletin, chronic
from app.cases import supervision, workflow
from app.cases.models import SchedulerRun
from app.field import positions
from app.live import services as live

LOCK_KEY = 7_310_115_145  # any constant shared by every process of this platform
JOBS = (("fallback", supervision.fallback), ("supervise", supervision.supervise_overdue),
        ("lights", live.watch_lights), ("prune_events", live.prune),
        ("chronic", lambda s, now, ctx: chronic.refresh(s, "scheduler", now) if _due(s, "chronic", now, 3600)
         else {"skipped": "ran within the hour"}),
        ("bulletin", lambda s, now, ctx: bulletin.scheduled(s, now, ctx.calendar)))
WITH_CONTEXT = {"fallback", "chronic", "bulletin"}
ISOLATED = {"chronic", "bulletin"}  # in a savepoint: a failure there is logged and never stops supervision
log = logging.getLogger(__name__)


def run_once(session: Session, now: datetime | None = None, retention_days: float | None = None) -> dict | None:
    """Run every job once if no other runner holds the lock; None when another one does. The caller commits.
    `retention_days`: how long staff positions are kept (POSITION_RETENTION_DAYS; the default of app/config.py)."""
    now = now or datetime.now(UTC)
    if not session.scalar(select(func.pg_try_advisory_xact_lock(LOCK_KEY))):
        return None
    ctx = workflow.Context.load(session)
    results = {}
    started = datetime.now(UTC)
    kept = retention_days if retention_days is not None else positions.PositionSettings().retention_days
    results["positions"] = positions.purge(session, now, kept)
    session.add(SchedulerRun(job="positions", started_at=started, finished_at=datetime.now(UTC),
                             host=socket.gethostname(), result={**results["positions"], "clock": now.isoformat()}))
    for name, job in JOBS:
        started = datetime.now(UTC)
        result = _isolated(session, name, job, now, ctx) if name in ISOLATED else \
            job(session, now, ctx) if name in WITH_CONTEXT else job(session, now)
        session.add(SchedulerRun(job=name, started_at=started, finished_at=datetime.now(UTC),
                                 host=socket.gethostname(), result={**result, "clock": now.isoformat()}))
        results[name] = result
    session.flush()
    return results


def _due(session: Session, name: str, now: datetime, every_s: float) -> bool:
    """Whether job `name` has not run in the `every_s` seconds before `now` (a scan too heavy for every round)."""
    last = session.scalar(select(func.max(SchedulerRun.started_at)).where(
        SchedulerRun.job == name, SchedulerRun.result["added"].is_not(None)))
    return last is None or (now - last).total_seconds() >= every_s or last > now


def _isolated(session: Session, name: str, job, now: datetime, ctx) -> dict:
    try:
        with session.begin_nested():
            return job(session, now, ctx)
    except Exception as exc:
        log.exception("scheduler job %s failed", name)
        return {"error": f"{exc.__class__.__name__}: {exc}"[:500]}


def start_background(app) -> threading.Thread:
    """A daemon thread running a round every SCHEDULER_INTERVAL_S seconds in this process."""
    interval = float(app.config["SCHEDULER_INTERVAL_S"])
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                with app.extensions["db"].transaction() as session:
                    run_once(session, retention_days=float(app.config["POSITION_RETENTION_DAYS"]))
            except Exception:
                log.exception("scheduler round failed")

    thread = threading.Thread(target=loop, name="scheduler", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    return thread
