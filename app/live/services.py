"""The live feed: every change of a case becomes a row of `events` (and, by the table's trigger, a pg_notify in
the same transaction); streams read them back filtered by the case scope of app/cases/scope.py.

`announce` is a before-flush hook on the app's sessions: each new CaseEvent (a step of a case's history, which
every change of a case appends: intake, the workflow, supervision, fallback, reassignment) is published with the
case as it stands after the step. Changes that are not history, a deadline light turning red, are published by
the scheduler (`watch_lights`), which also prunes what no client can resume from any more (`prune`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.cases import machine, scope
from app.cases.models import Case, CaseEvent
from app.live.models import LiveEvent

KEEP_HOURS = 24.0  # a client may resume (Last-Event-ID) after a drop this long
RED_WINDOW_HOURS = 12.0  # deadlines passed longer ago than this are not announced (a scheduler down for days)
BACKLOG_LIMIT = 1000
ALERT_URGENCIES = ("emergency", "urgent")
OPENING = ("opened", "opened_by_split")
COLUMNS = ("id", "kind", "case_id", "station_code", "owner_kind", "owner_code", "helpers", "payload")


def alert_of(kind: str, case: Case) -> str | None:
    """What the console raises a toast, a sound and the title badge for: a new emergency or urgent case, a returned
    case, a case turning red, a supervision order."""
    if kind in OPENING and case.urgency in ALERT_URGENCIES:
        return case.urgency
    return {"return": "returned", "red": "red", "supervised": "supervised"}.get(kind)


def publish(session: Session, case: Case, kind: str, actor: str | None = None, data: dict | None = None,
            version: int | None = None) -> LiveEvent:
    """Add the event row of a change of `case` (committed, and so announced, with the caller's transaction)."""
    owner = {"kind": case.owner_kind, "code": case.owner_code} if case.owner_code else None
    payload = {"version": version if version is not None else case.version, "state": case.state,
               "urgency": case.urgency, "category": case.category_code, "station": case.station_code,
               "owner": owner, "alert": alert_of(kind, case), "actor": actor, **(data or {})}
    event = LiveEvent(kind=kind, case_id=case.id, case_version=payload["version"], station_code=case.station_code,
                      owner_kind=case.owner_kind, owner_code=case.owner_code, helpers=list(case.helpers or []),
                      payload=payload)
    session.add(event)
    return event


def announce(session: Session, _flush_context: object, _instances: object) -> None:
    """Before a flush: publish every new step of a case's history (a SQLAlchemy before_flush hook)."""
    steps = [obj for obj in session.new if isinstance(obj, CaseEvent)]
    with session.no_autoflush:
        for step in steps:
            case = session.get(Case, step.case_id)
            if case is not None:
                publish(session, case, step.action, step.actor, {"from_state": step.from_state},
                        version=step.case_version)


def watch_lights(session: Session, now: datetime) -> dict:
    """Publish a `red` event for each open case whose deadline passed (once per case version)."""
    announced = select(LiveEvent.id).where(LiveEvent.kind == "red", LiveEvent.case_id == Case.id,
                                           LiveEvent.case_version == Case.version).exists()
    late = session.scalars(
        select(Case).where(Case.state.not_in(machine.FINAL), Case.deadline_at <= now,
                           Case.deadline_at > now - timedelta(hours=RED_WINDOW_HOURS), ~announced)
        .order_by(Case.deadline_at)
    ).all()
    for case in late:
        publish(session, case, "red", "scheduler", {"deadline": case.deadline_at.isoformat()})
    session.flush()
    return {"red": len(late)}


def prune(session: Session, now: datetime, keep_hours: float = KEEP_HOURS) -> dict:
    """Delete the events older than `keep_hours` (by the real clock: a round run with a later `now` for a test or
    a replay must not empty the feed)."""
    cutoff = min(now, datetime.now(UTC)) - timedelta(hours=keep_hours)
    done = session.execute(delete(LiveEvent).where(LiveEvent.created_at < cutoff))
    return {"pruned": done.rowcount}


def head(session: Session) -> int:
    """The id of the newest event (0 when there is none)."""
    return session.scalar(select(func.coalesce(func.max(LiveEvent.id), 0))) or 0


def as_row(event: LiveEvent) -> dict:
    """An event as the listener reads it from the table."""
    return {name: getattr(event, name) for name in COLUMNS}


def since(session: Session, user: User, after: int, limit: int = BACKLOG_LIMIT) -> tuple[list[dict], bool, int]:
    """The events after `after` the user may see, oldest first; whether some may be missing (the event `after`
    itself is gone: pruned, or from another database; or there were more than `limit`: the client should then
    reload what it shows); and the newest id read."""
    rows = [as_row(e) for e in session.scalars(
        select(LiveEvent).where(LiveEvent.id > after).order_by(LiveEvent.id).limit(limit))]
    gone = after > 0 and session.get(LiveEvent, after) is None
    newest = rows[-1]["id"] if rows else after
    return [r for r in rows if visible(user, r)], gone or len(rows) == limit, newest


def visible(user: User, row: dict) -> bool:
    """Whether the user may see the case of an event, by the scope rule of the cases (at the event's time)."""
    if not scope.scoped(user):
        return True
    case = Case(id=row["case_id"], station_code=row["station_code"], owner_kind=row["owner_kind"],
                owner_code=row["owner_code"], helpers=row["helpers"] or [])
    return scope.may_see(user, case)


def message(row: dict) -> dict:
    """What a stream sends of an event."""
    return {"id": row["id"], "kind": row["kind"], "case_id": row["case_id"], **row["payload"]}
