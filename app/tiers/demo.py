"""The tiers in the demo history: a chief and a team for each joint-duty station (in the people registry with
staff codes), a user for each workstation and an outside evaluator; cases a workstation fixes itself (with a
photo of the result, some spot-checked by the center) or reports up to its station or the center, station
cases assigned by the chief to a member (a few handed back and reassigned), and evaluators' reviews.

`app.demo` calls these on its walk (duck-typed: `w.do`, `w.may`, `w.later`, `w.case`, `w.rng`, `w.people`)."""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.cases.models import Attachment, Report
from app.territory.models import Station
from app.tiers import services
from app.tiers.models import Person

TEAM_DEPARTMENTS = ("CGZF", "LHSR", "SCJG")  # department officers seated at every station in the demo
SELF_HANDLED, TO_STATION, TO_CENTER = 0.10, 0.04, 0.02  # shares of the workstation's reports
REVIEWED = 0.06


@dataclass
class TierCast:
    """The demo people of the tiers."""

    chiefs: dict[str, User] = field(default_factory=dict)  # joint station -> chief
    teams: dict[str, list[User]] = field(default_factory=dict)  # joint station -> members
    workstations: dict[str, User] = field(default_factory=dict)  # workstation territory code (3 digits) -> user
    evaluator: User | None = None
    by_name: dict[str, User] = field(default_factory=dict)


def _png() -> bytes:
    """An 8x8 green PNG: the demo's photo of a result."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x2e\x7d\x32" * 8 for _ in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


AFTER_PHOTO = _png()


def cast(session: Session, user: Callable[..., User], patrols: dict[str, User]) -> TierCast:
    """Find or create the chiefs, teams, workstation users and evaluator (`user(name, role, display, department,
    station)` is the demo's find-or-create), and the team members' registry entries."""
    tiers = TierCast()
    for s in session.scalars(select(Station).where(Station.tier == "joint_station").order_by(Station.code)):
        key = s.code.lower()
        tiers.chiefs[s.code] = user(f"chief-{key}", "station_chief", f"{s.name}站长（演示）", None, s.code)
        team = [patrols[s.code], user(f"m-{key}-wg", "patrol", f"{s.name}网格员（演示）", None, s.code)]
        team += [user(f"m-{key}-{d.lower()}", "handler", f"{s.name}{d}队员（演示）", d, s.code)
                 for d in TEAM_DEPARTMENTS]
        tiers.teams[s.code] = team
        _register(session, s.code, team)
    for s in session.scalars(select(Station).where(Station.tier == "workstation").order_by(Station.code)):
        if s.workstation_code:
            tiers.workstations[s.workstation_code] = user(f"ws-{s.code.lower()}", "workstation",
                                                          f"{s.name}网格员（演示）", None, s.code)
    tiers.evaluator = user("evaluator-demo", "evaluator", "人大代表（演示）", None, None)
    for u in [*tiers.chiefs.values(), *(m for t in tiers.teams.values() for m in t), *tiers.workstations.values()]:
        tiers.by_name[u.username] = u
    return tiers


def _register(session: Session, station: str, team: list[User]) -> None:
    known = set(session.scalars(select(Person.username).where(Person.station_code == station)))
    for n, member in enumerate(team, start=1):
        if member.username in known:
            continue
        department = member.department_code or "WG"
        session.add(Person(code=f"{station.replace('-', '')}-{department}-{n:04d}", name=member.display_name,
                           station_code=station, department_code=department,
                           position="网格巡查员" if member.role == "patrol" else "联勤队员",
                           certificate_no=f"LQ{station[-3:]}{n:04d}", phone=f"021-6828{n:04d}",
                           training=[{"date": "2026-03-01", "course": "联勤联动岗前培训（演示）"}],
                           equipment=["执法记录仪", "对讲机"], username=member.username, updated_by="demo-seed"))
    session.flush()


def owner(tiers: TierCast | None, assignee: str | None) -> User | None:
    """The team member a case was assigned to, if any."""
    return tiers.by_name.get(assignee) if tiers is not None and assignee else None


def _after_photo(session: Session, case_id: int) -> str:
    report_id = session.scalar(select(Report.id).where(Report.case_id == case_id).order_by(Report.id).limit(1))
    photo = Attachment(report_id=report_id, kind="upload", filename="处置后.png", content_type="image/png",
                       size_bytes=len(AFTER_PHOTO), sha256=hashlib.sha256(AFTER_PHOTO).hexdigest(), data=AFTER_PHOTO)
    session.add(photo)
    session.flush()
    return f"/api/v1/attachments/{photo.id}"


def workstation_first(w) -> str | None:  # noqa: ANN001 - app.demo's walk
    """A workstation's own report: self-handled and closed ("closed"), reported to the station ("station") or to
    the center and filed there ("filed"); None for the normal path through the center."""
    tiers: TierCast | None = getattr(w.people, "tiers", None)
    ws = tiers.workstations.get(w.case.workstation_code) if tiers else None
    if ws is None:
        return None
    r = w.rng.random()
    if r >= SELF_HANDLED + TO_STATION + TO_CENTER:
        return None
    t = w.later(timedelta(minutes=w.rng.uniform(20, 90)))
    if r < SELF_HANDLED:
        if t > w.now:
            return "closed"
        w.do(ws, "self_handle", t, note="工作站自行处置完毕（演示）", photos=[_after_photo(w.session, w.case_id)])
        if w.case.check_pending:
            w.may(w.people.shift, "spot_check", t + timedelta(hours=w.rng.uniform(4, 48)), note="中心抽查合格")
        return "closed"
    if r < SELF_HANDLED + TO_STATION:
        w.do(ws, "report_to_station", t, reason="超出属地管理范围，上报联勤联动站")
        return "station"
    w.do(ws, "report_to_center", t, reason="需中心协调处置（同步上报）")
    w.do(w.people.dispatcher, "file", w.later(timedelta(minutes=w.rng.uniform(5, 30))))
    return "filed"


def second_level(w) -> None:  # noqa: ANN001 - app.demo's walk
    """A station's case: the chief assigns it to a member of the team; a few are handed back and reassigned."""
    tiers: TierCast | None = getattr(w.people, "tiers", None)
    case = w.case
    if tiers is None or case.owner_kind != "station" or case.state != "dispatched":
        return
    chief, team = tiers.chiefs.get(case.owner_code), tiers.teams.get(case.owner_code) or []
    if chief is None or not team:
        return
    member = w.rng.choice(team)
    w.do(chief, "assign", w.later(timedelta(minutes=w.rng.uniform(5, 30))), assignee=member.username)
    if w.rng.random() < 0.05:
        w.do(member, "hand_back", w.later(timedelta(hours=w.rng.uniform(0.2, 1))), reason="需其他队员处置（演示）")
        other = w.rng.choice([m for m in team if m is not member] or team)
        w.do(chief, "assign", w.later(timedelta(minutes=w.rng.uniform(5, 20))), assignee=other.username)


def review(w) -> None:  # noqa: ANN001 - app.demo's walk
    """Now and then an outside evaluator rates a closed case some days later."""
    tiers: TierCast | None = getattr(w.people, "tiers", None)
    if tiers is None or tiers.evaluator is None or w.rng.random() >= REVIEWED or w.case.state not in ("closed",
                                                                                                       "archived"):
        return
    at = w.t + timedelta(days=w.rng.uniform(1, 10))
    if at <= w.now:
        rating = w.rng.choices([5, 4, 3, 2], weights=[40, 35, 18, 7])[0]
        services.review(w.session, tiers.evaluator, w.case_id, rating, "人大代表走访评议（演示）", now=at)
