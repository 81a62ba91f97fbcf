"""The outbox: every state change of a district case becomes an event for the district center, written in
the same transaction as the change, then posted by a sender with retries, in order per case.

The writing side is a `before_flush` listener on every session: a new CaseEvent whose state differs
from the one before is a state change, whoever made it (the workflow, the scheduler, a bulk action);
if its case came from the district (or DISTRICT_OUTBOX_ALL is on) an OutboxEvent joins the same flush.
The same listener closes the sensor episode of a case that reaches a final state.

The sending side (`flask --app app district send`) takes the oldest undelivered event of each case
(an event waits while an earlier one of its case is undelivered, dead ones included, so the district
never sees a case's steps out of order), posts it with `Idempotency-Key` and an HMAC-SHA256 signature,
and on failure tries again after a back-off that doubles; after DISTRICT_MAX_ATTEMPTS failures the event
is dead (the dead-letter list an administrator reads and replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session, aliased

from app.accounts import audit
from app.cases import machine
from app.cases.models import CaseEvent
from app.connectors.models import DistrictOrder, OutboxEvent, SensorEpisode
from app.errors import Conflict, NotFound

ALL_CASES_KEY = "district_outbox_all"  # in a session's info: every case's changes go upward
SIGNATURE_HEADER = "X-Nanhui-Signature"
TIMESTAMP_HEADER = "X-Nanhui-Timestamp"
MAX_BACKOFF_S = 600.0
log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# Writing, in the transaction of the change
# --------------------------------------------------------------------------------------------


def install() -> None:
    """Listen to every session's flushes (once per process)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)


def _before_flush(session: Session, _context: object, _instances: object) -> None:
    changes = [o for o in session.new if isinstance(o, CaseEvent) and o.from_state != o.to_state]
    if not changes:
        return
    changes.sort(key=lambda e: (e.case_id, e.case_version or 0))
    with session.no_autoflush:
        _close_episodes(session, {e.case_id for e in changes if e.to_state in machine.FINAL})
        upward = _upward_cases(session, {e.case_id for e in changes})
        for change in changes:
            if change.case_id in upward:
                session.add(state_event(change, upward[change.case_id]))


def _upward_cases(session: Session, case_ids: set[int]) -> dict[int, str | None]:
    """The cases among these whose changes go to the district, with their district order number."""
    orders = {o.case_id: o.order_no for o in session.new if isinstance(o, DistrictOrder)}
    orders |= dict(session.execute(
        select(DistrictOrder.case_id, DistrictOrder.order_no).where(DistrictOrder.case_id.in_(case_ids))).all())
    if session.info.get(ALL_CASES_KEY):
        return {case_id: orders.get(case_id) for case_id in case_ids}
    return {case_id: no for case_id, no in orders.items() if case_id in case_ids}


def _close_episodes(session: Session, case_ids: set[int]) -> None:
    if case_ids:
        session.execute(update(SensorEpisode).where(SensorEpisode.case_id.in_(case_ids),
                                                    SensorEpisode.closed_at.is_(None)).values(closed_at=func.now()))


def state_event(change: CaseEvent, order_no: str | None) -> OutboxEvent:
    """The outbox event telling a state change."""
    at = change.at or datetime.now(UTC)
    payload = {"type": "case.state_changed", "order_no": order_no, "case_id": change.case_id,
               "case_version": change.case_version, "action": change.action, "from_state": change.from_state,
               "to_state": change.to_state, "to_state_zh": machine.STATES.get(change.to_state, ("",))[0],
               "at": at.isoformat(), "actor": change.actor, "note": change.note}
    return new_event(change.case_id, "case.state_changed", payload)


def new_event(case_id: int, kind: str, payload: dict) -> OutboxEvent:
    """An outbox event with its own idempotency key (also in the payload as event_id)."""
    key = uuid.uuid4().hex
    return OutboxEvent(case_id=case_id, kind=kind, payload={"event_id": key, **payload}, idempotency_key=key,
                       state="pending", attempts=0)


# --------------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where and how events are posted."""

    url: str
    secret: str
    max_attempts: int = 8
    backoff_s: float = 2.0  # the wait after the first failure; doubles after each next one
    timeout_s: float = 10.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: sha256=HMAC-SHA256(secret, timestamp + "." + body) in hex."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def post(target: Target, ev: OutboxEvent) -> str | None:
    """POST one event; None when the district answered 2xx, else what went wrong."""
    body = json.dumps(ev.payload, ensure_ascii=False, sort_keys=True).encode()
    stamp = str(int(time.time()))
    request = urllib.request.Request(target.url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Idempotency-Key": ev.idempotency_key,
        TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(target.secret, stamp, body),
    })
    try:
        with urllib.request.urlopen(request, timeout=target.timeout_s) as answer:
            answer.read()
            return None
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{exc.__class__.__name__}: {getattr(exc, 'reason', exc)}"[:300]


def due(session: Session, now: datetime, limit: int = 100) -> list[OutboxEvent]:
    """The head event of each case that may be sent now, oldest first, locked for this sender."""
    earlier = aliased(OutboxEvent)
    blocked = (select(earlier.id).where(earlier.case_id == OutboxEvent.case_id, earlier.id < OutboxEvent.id,
                                        earlier.state != "delivered").exists())
    return list(session.scalars(
        select(OutboxEvent).where(OutboxEvent.state == "pending", OutboxEvent.next_attempt_at <= now, ~blocked)
        .order_by(OutboxEvent.id).limit(limit).with_for_update(skip_locked=True)
    ))


def send_round(session: Session, target: Target, now: datetime | None = None,
               poster: Callable[[Target, OutboxEvent], str | None] = post) -> dict:
    """Post every event due now once; the caller commits. Counts of delivered, failed and dead."""
    now = now or datetime.now(UTC)
    counts = {"delivered": 0, "failed": 0, "dead": 0}
    for ev in due(session, now):
        error = poster(target, ev)
        ev.attempts += 1
        if error is None:
            ev.state, ev.delivered_at, ev.last_error = "delivered", datetime.now(UTC), None
            counts["delivered"] += 1
            continue
        ev.last_error = error
        if ev.attempts >= target.max_attempts:
            ev.state = "dead"
            counts["dead"] += 1
            log.error("outbox event %s of case %s is dead after %s attempts: %s", ev.id, ev.case_id, ev.attempts, error)
        else:
            wait = min(target.backoff_s * 2 ** (ev.attempts - 1), MAX_BACKOFF_S)
            ev.next_attempt_at = now + timedelta(seconds=wait)
            counts["failed"] += 1
    session.flush()
    return counts


def listing(session: Session, state: str | None = None, limit: int = 200) -> list[dict]:
    """Outbox events, newest first (`state`: pending, delivered or dead)."""
    query = select(OutboxEvent).order_by(OutboxEvent.id.desc()).limit(limit)
    if state:
        query = query.where(OutboxEvent.state == state)
    return [as_dict(e) for e in session.scalars(query)]


def as_dict(ev: OutboxEvent) -> dict:
    """An outbox event as the API shows it."""
    return {"id": ev.id, "case_id": ev.case_id, "kind": ev.kind, "state": ev.state, "attempts": ev.attempts,
            "idempotency_key": ev.idempotency_key, "created_at": ev.created_at.isoformat() if ev.created_at else None,
            "next_attempt_at": ev.next_attempt_at.isoformat() if ev.next_attempt_at else None,
            "delivered_at": ev.delivered_at.isoformat() if ev.delivered_at else None,
            "last_error": ev.last_error, "payload": ev.payload}


def replay(session: Session, event_id: int, actor: str) -> dict:
    """Put a dead event back in line (its attempts start again); audited."""
    ev = session.scalar(select(OutboxEvent).where(OutboxEvent.id == event_id).with_for_update())
    if ev is None:
        raise NotFound("outbox event", event_id)
    if ev.state != "dead":
        raise Conflict("not_dead", f"outbox event {event_id} is {ev.state}; only dead events are replayed")
    ev.state, ev.attempts, ev.next_attempt_at = "pending", 0, datetime.now(UTC)
    session.flush()
    audit.record(session, actor, "outbox.replay", "outbox_event", ev.id, before={"state": "dead"},
                 after={"state": "pending"})
    return as_dict(ev)


def counts(session: Session) -> dict[str, int]:
    """Outbox events by state."""
    found = dict(session.execute(select(OutboxEvent.state, func.count()).group_by(OutboxEvent.state)).all())
    return {state: int(found.get(state, 0)) for state in ("pending", "delivered", "dead")}
