"""The 7x24 duty roster (值班): positions and shift patterns as data, a month's assignments per position and
person, swaps with approval, handover notes signed by both, who is on duty at any moment, and the coverage
check that says which position is short at which hours. Every time is an aware datetime; days and shift
starts are read in Beijing time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.accounts.models import User
from app.cases.worktime import BEIJING
from app.command.models import DutyAssignment, DutyPosition, DutySwap, HandoverNote, ShiftPattern
from app.db import found
from app.errors import Conflict, Forbidden, InputError

ROSTER_EDITORS = ("shift_leader", "admin", "commander")
SWAP_DECIDERS = ("shift_leader", "admin", "commander", "leader")


@dataclass(frozen=True)
class Shift:
    """One shift of a pattern on one day: its code, names and the instants it runs between."""

    code: str
    name: str
    name_en: str
    starts_at: datetime
    ends_at: datetime


def month_bounds(month: str) -> tuple[date, date]:
    """'2026-12' -> (first day, first day of the next month)."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise InputError("month", "month must be YYYY-MM", 400) from None
    if not 2000 <= first.year <= 2100:
        raise InputError("month", "month must lie between 2000 and 2100", 400)
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, nxt


def shifts_of(pattern: ShiftPattern, day: date) -> list[Shift]:
    """The shifts of a pattern on a day (a night shift ends the next morning)."""
    out = []
    for s in pattern.shifts:
        hh, mm = (int(x) for x in s["start"].split(":"))
        start = datetime.combine(day, time(hh, mm), BEIJING)
        out.append(Shift(s["code"], s["name"], s.get("name_en") or s["name"], start,
                         start + timedelta(hours=float(s["hours"]))))
    return out


def positions(session: Session) -> list[DutyPosition]:
    """Every duty position in display order."""
    return list(session.scalars(select(DutyPosition).order_by(DutyPosition.sort, DutyPosition.code)))


def _position(session: Session, code: str) -> DutyPosition:
    return found(session, DutyPosition, code, "duty position")


def _user(session: Session, username: str, field: str = "username") -> User:
    found = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if found is None:
        raise InputError(field, f"no active user {username!r}")
    return found


def position_json(p: DutyPosition, pattern: ShiftPattern | None = None) -> dict:
    """A position as JSON."""
    body = {"code": p.code, "name": p.name, "name_en": p.name_en, "kind": p.kind, "channel": p.channel,
            "station_code": p.station_code, "pattern": p.pattern_code, "required": p.required}
    if pattern is not None:
        body["shifts"] = pattern.shifts
    return body


def positions_json(session: Session) -> list[dict]:
    """Every position with its shift pattern."""
    patterns = {p.code: p for p in session.scalars(select(ShiftPattern))}
    return [position_json(p, patterns[p.pattern_code]) for p in positions(session)]


def assign(session: Session, actor: str, position_code: str, username: str, day: date,
           shift_code: str) -> DutyAssignment:
    """Put a person on one shift of a day at a position (audited); refused when they are already on it."""
    position = _position(session, position_code)
    _user(session, username)
    pattern = session.get(ShiftPattern, position.pattern_code)
    shift = next((s for s in shifts_of(pattern, day) if s.code == shift_code), None)
    if shift is None:
        raise InputError("shift", f"position {position_code} has no shift {shift_code!r}; its shifts are "
                         + ", ".join(s["code"] for s in pattern.shifts))
    taken = session.scalar(select(DutyAssignment.id).where(
        DutyAssignment.position_code == position_code, DutyAssignment.day == day,
        DutyAssignment.shift_code == shift_code, DutyAssignment.username == username))
    if taken is not None:
        raise Conflict("duplicate", f"{username} is already on {position_code} {day} {shift_code}")
    row = DutyAssignment(position_code=position_code, username=username, day=day, shift_code=shift_code,
                         starts_at=shift.starts_at, ends_at=shift.ends_at, created_by=actor)
    session.add(row)
    session.flush()
    audit.record(session, actor, "duty.assign", "duty_assignment", row.id,
                 after={"position": position_code, "username": username, "day": day.isoformat(), "shift": shift_code})
    return row


def unassign(session: Session, actor: str, assignment_id: int) -> None:
    """Take an assignment off the roster (audited); its swap requests go with it."""
    row = found(session, DutyAssignment, assignment_id, "duty assignment")
    before = assignment_json(row)
    session.execute(delete(DutySwap).where(DutySwap.assignment_id == assignment_id))
    session.delete(row)
    audit.record(session, actor, "duty.unassign", "duty_assignment", assignment_id, before=before)


def plan_month(session: Session, actor: str, position_code: str, month: str, usernames: list[str],
               replace: bool = True) -> int:
    """Fill a position's month in rotation: each shift takes the next `required` people of the list in turn
    (so with day and night shifts everyone works days and nights alike). Returns how many assignments."""
    position = _position(session, position_code)
    if not usernames:
        raise InputError("usernames", "name at least one person")
    if len(set(usernames)) < position.required:
        raise InputError("usernames", f"{position_code} needs {position.required} people on each shift: "
                         f"name at least that many")
    for name in usernames:
        _user(session, name, "usernames")
    first, nxt = month_bounds(month)
    if replace:
        ids = list(session.scalars(select(DutyAssignment.id).where(
            DutyAssignment.position_code == position_code, DutyAssignment.day >= first, DutyAssignment.day < nxt)))
        session.execute(delete(DutySwap).where(DutySwap.assignment_id.in_(ids)))
        session.execute(delete(DutyAssignment).where(DutyAssignment.id.in_(ids)))
    pattern = session.get(ShiftPattern, position.pattern_code)
    turn, made, day = 0, 0, first
    while day < nxt:
        for shift in shifts_of(pattern, day):
            chosen: list[str] = []
            while len(chosen) < position.required:
                name = usernames[turn % len(usernames)]
                turn += 1
                if name not in chosen:
                    chosen.append(name)
            for name in chosen:
                session.add(DutyAssignment(position_code=position_code, username=name, day=day, shift_code=shift.code,
                                           starts_at=shift.starts_at, ends_at=shift.ends_at, created_by=actor))
                made += 1
        day += timedelta(days=1)
    session.flush()
    audit.record(session, actor, "duty.plan_month", "duty_position", position_code,
                 after={"month": month, "people": usernames, "assignments": made})
    return made


def assignment_json(a: DutyAssignment, names: dict[str, str] | None = None) -> dict:
    """An assignment as JSON."""
    return {"id": a.id, "position": a.position_code, "username": a.username,
            "display_name": (names or {}).get(a.username, a.username), "day": a.day.isoformat(),
            "shift": a.shift_code, "starts_at": a.starts_at.isoformat(), "ends_at": a.ends_at.isoformat()}


def people(session: Session) -> list[dict]:
    """Every active user who can be put on the roster (user name and display name)."""
    return [{"username": u, "name": n} for u, n in session.execute(
        select(User.username, User.display_name).where(User.active.is_(True)).order_by(User.username)).all()]


def _names(session: Session, usernames: set[str]) -> dict[str, str]:
    if not usernames:
        return {}
    return dict(session.execute(select(User.username, User.display_name).where(User.username.in_(usernames))).all())


def roster(session: Session, month: str) -> dict:
    """The month's roster: positions, days and every assignment."""
    first, nxt = month_bounds(month)
    rows = list(session.scalars(select(DutyAssignment).where(DutyAssignment.day >= first, DutyAssignment.day < nxt)
                                .order_by(DutyAssignment.day, DutyAssignment.starts_at, DutyAssignment.position_code,
                                          DutyAssignment.username)))
    names = _names(session, {r.username for r in rows})
    days = [(first + timedelta(days=i)).isoformat() for i in range((nxt - first).days)]
    return {"month": month, "days": days, "positions": positions_json(session),
            "assignments": [assignment_json(r, names) for r in rows]}


def on_duty(session: Session, at: datetime) -> list[DutyAssignment]:
    """The assignments running at an instant."""
    return list(session.scalars(select(DutyAssignment)
                                .where(DutyAssignment.starts_at <= at, DutyAssignment.ends_at > at)
                                .order_by(DutyAssignment.position_code, DutyAssignment.username)))


def now(session: Session, at: datetime | None = None) -> dict:
    """GET /api/v1/duty/now: who is on duty at every position at `at` (default now), and which are short."""
    at = at or datetime.now(UTC)
    running = on_duty(session, at)
    names = _names(session, {a.username for a in running})
    by_position: dict[str, list[DutyAssignment]] = {}
    for a in running:
        by_position.setdefault(a.position_code, []).append(a)
    out = []
    for p in positions(session):
        people = by_position.get(p.code, [])
        out.append({**position_json(p), "covered": len(people) >= p.required,
                    "on_duty": [{"username": a.username, "display_name": names.get(a.username, a.username),
                                 "shift": a.shift_code, "assignment_id": a.id, "starts_at": a.starts_at.isoformat(),
                                 "ends_at": a.ends_at.isoformat()} for a in people]})
    return {"at": at.astimezone(BEIJING).isoformat(), "positions": out}


def header(session: Session, at: datetime | None = None) -> dict:
    """The duty leader and shift leader now, for the console header."""
    board = now(session, at)["positions"]

    def names(kind: str) -> list[str]:
        return [person["display_name"] for p in board if p["kind"] == kind for person in p["on_duty"]]

    return {"leader": names("leader"), "shift_leader": names("shift_leader")}


def coverage(session: Session, month: str) -> dict:
    """Every position at every hour of the month (Beijing): where fewer people are on than it needs, as
    merged intervals {position, from, to, hours, have, need}."""
    first, nxt = month_bounds(month)
    start = datetime.combine(first, time(0), BEIJING)
    end = datetime.combine(nxt, time(0), BEIJING)
    hours = int((end - start).total_seconds() // 3600)
    rows = session.execute(select(DutyAssignment.position_code, DutyAssignment.starts_at, DutyAssignment.ends_at)
                           .where(DutyAssignment.starts_at < end, DutyAssignment.ends_at > start)).all()
    counts: dict[str, list[int]] = {}
    for code, a, b in rows:
        hour_counts = counts.setdefault(code, [0] * hours)
        lo = max(0, int((a - start).total_seconds() // 3600))
        hi = min(hours, -int(-(b - start).total_seconds() // 3600))
        for h in range(lo, hi):
            hour_counts[h] += 1
    gaps = []
    for p in positions(session):
        have = counts.get(p.code, [0] * hours)
        gaps.extend(_intervals(p, have, start))
    return {"month": month, "hours": hours, "positions": len(positions(session)), "gaps": gaps,
            "covered": not gaps}


def _intervals(p: DutyPosition, have: list[int], start: datetime) -> list[dict]:
    out: list[dict] = []
    h = 0
    while h < len(have):
        if have[h] >= p.required:
            h += 1
            continue
        lo, short = h, have[h]
        while h < len(have) and have[h] < p.required and have[h] == short:
            h += 1
        out.append({"position": p.code, "name": p.name, "name_en": p.name_en,
                    "from": (start + timedelta(hours=lo)).isoformat(), "to": (start + timedelta(hours=h)).isoformat(),
                    "hours": h - lo, "have": short, "need": p.required})
    return out


# --------------------------------------------------------------------------------------------
# Swaps and handovers
# --------------------------------------------------------------------------------------------


def request_swap(session: Session, user: User, assignment_id: int, to_username: str, reason: str | None) -> DutySwap:
    """The assignee (or a roster editor) asks to hand a shift to someone else."""
    row = found(session, DutyAssignment, assignment_id, "duty assignment")
    if user.username != row.username and user.role not in ROSTER_EDITORS:
        raise Forbidden("only the person on the shift or a shift leader may ask to swap it")
    _user(session, to_username, "to_username")
    if to_username == row.username:
        raise InputError("to_username", "the shift is already theirs")
    swap = DutySwap(assignment_id=row.id, from_username=row.username, to_username=to_username, reason=reason,
                    status="requested", requested_by=user.username)
    session.add(swap)
    session.flush()
    audit.record(session, user.username, "duty.swap_request", "duty_swap", swap.id,
                 after={"assignment": row.id, "from": row.username, "to": to_username})
    return swap


def decide_swap(session: Session, actor: str, swap_id: int, approve: bool) -> DutySwap:
    """Approve (the shift changes hands) or deny a swap request; each only once."""
    swap = found(session, DutySwap, swap_id, "swap", lock=True)
    if swap.status != "requested":
        raise Conflict("decided", f"swap {swap_id} was already {swap.status}")
    row = session.get(DutyAssignment, swap.assignment_id, with_for_update=True)
    if approve:
        clash = session.scalar(select(DutyAssignment.id).where(
            DutyAssignment.position_code == row.position_code, DutyAssignment.day == row.day,
            DutyAssignment.shift_code == row.shift_code, DutyAssignment.username == swap.to_username))
        if clash is not None:
            raise Conflict("duplicate", f"{swap.to_username} is already on that shift")
        row.username = swap.to_username
    swap.status = "approved" if approve else "denied"
    swap.decided_by, swap.decided_at = actor, datetime.now(UTC)
    audit.record(session, actor, "duty.swap_" + swap.status, "duty_swap", swap.id,
                 after={"assignment": row.id, "username": row.username})
    return swap


def swap_json(s: DutySwap) -> dict:
    """A swap request as JSON."""
    return {"id": s.id, "assignment_id": s.assignment_id, "from": s.from_username, "to": s.to_username,
            "reason": s.reason, "status": s.status, "requested_by": s.requested_by,
            "decided_by": s.decided_by, "decided_at": s.decided_at.isoformat() if s.decided_at else None}


def swaps(session: Session, status: str | None = None) -> list[dict]:
    """Swap requests, newest first."""
    q = select(DutySwap).order_by(DutySwap.id.desc()).limit(200)
    if status:
        q = q.where(DutySwap.status == status)
    return [swap_json(s) for s in session.scalars(q)]


def hand_over(session: Session, user: User, position_code: str, to_username: str, open_items: str,
              watch: str | None) -> HandoverNote:
    """The outgoing person writes and signs the handover note (交接班记录); the incoming one signs next."""
    _position(session, position_code)
    _user(session, to_username, "to_username")
    if to_username == user.username:
        raise InputError("to_username", "hand over to the next person on duty, not to yourself")
    note = HandoverNote(position_code=position_code, from_username=user.username, to_username=to_username,
                        open_items=open_items, watch=watch, signed_from_at=datetime.now(UTC))
    session.add(note)
    session.flush()
    audit.record(session, user.username, "duty.handover", "handover_note", note.id,
                 after={"position": position_code, "to": to_username})
    return note


def sign_handover(session: Session, user: User, note_id: int) -> HandoverNote:
    """The incoming person signs the note they received (once)."""
    note = found(session, HandoverNote, note_id, "handover note", lock=True)
    if note.to_username != user.username:
        raise Forbidden("only the person taking over signs the handover note")
    if note.signed_to_at is not None:
        raise Conflict("signed", "the handover note is signed already")
    note.signed_to_at = datetime.now(UTC)
    audit.record(session, user.username, "duty.handover_signed", "handover_note", note.id)
    return note


def handover_json(n: HandoverNote) -> dict:
    """A handover note as JSON."""
    return {"id": n.id, "position": n.position_code, "from": n.from_username, "to": n.to_username,
            "open_items": n.open_items, "watch": n.watch, "signed_from_at": n.signed_from_at.isoformat(),
            "signed_to_at": n.signed_to_at.isoformat() if n.signed_to_at else None,
            "signed_by_both": n.signed_to_at is not None}


def handovers(session: Session, position_code: str | None = None) -> list[dict]:
    """The latest handover notes (100)."""
    q = select(HandoverNote).order_by(HandoverNote.id.desc()).limit(100)
    if position_code:
        q = q.where(HandoverNote.position_code == position_code)
    return [handover_json(n) for n in session.scalars(q)]
