"""Demo history: about 90 days of cases driven through the real intake and the real state machine.

Reports arrive at address points (a third of them around a few hot spots), through a realistic mix
of channels and categories, and some repeat an open problem (they merge). Each case then walks
the loop on a simulated clock: verification (a few rejected), filing, dispatch by the rules (a
few returned and re-dispatched), acceptance, feedback on time or late, checks with some reworks,
closure with a satisfaction rating, archiving; some get extensions, suspensions or escalations.
Steps that would fall after `now` are not taken, so recent cases are still open.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, func, insert, literal, select
from sqlalchemy.orm import Session

from app.accounts import users
from app.accounts.models import Department, User
from app.cases import intake, workflow
from app.cases.models import Case
from app.cases.worktime import BEIJING
from app.territory.boundaries import current_version_subquery, in_version
from app.territory.models import Address, AdminArea, GridCell, Station, StationCoverage
from app.tiers import demo as tier_demo
from gis.crs import STORAGE_EPSG

CATEGORIES = {  # code: weight
    "09006": 14, "06010": 12, "09010": 10, "07001": 9, "06002": 7, "09008": 7, "09004": 6, "06006": 5,
    "01004": 4, "08004": 4, "08003": 3, "04002": 3, "03003": 3, "06001": 2, "10001": 2, "10004": 2,
    "05008": 1, "02001": 2, "09012": 2, "10006": 1,
}
CHANNELS = {"patrol": 30, "12345": 20, "hotline": 15, "video": 15, "app": 10, "citizen": 3, "sensor": 3,
            "district": 3, "media": 1}
RATINGS = {5: 50, 4: 30, 3: 12, 2: 5, 1: 3}
DEMO_PASSWORD = "demo-pass-2026"


def _pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@dataclass
class Cast:
    """The demo people who act: one handler per department, one patrol officer per station."""

    intake: User
    dispatcher: User
    shift: User
    leader: User
    handlers: dict
    patrols: dict
    tiers: tier_demo.TierCast | None = None  # chiefs, teams, workstations, evaluator (app/tiers/demo.py)


def cast(session: Session) -> Cast:
    """Find or create the demo users the simulation acts as."""
    def user(name, role, display, department=None, station=None) -> User:
        found = session.scalar(select(User).where(User.username == name))
        if found is None:
            users.add_user(session, name, role, DEMO_PASSWORD, display, department, station, is_demo=True,
                           actor="demo-seed")
            found = session.scalar(select(User).where(User.username == name))
        return found

    handlers = {d.code: user(f"h-{d.code.lower()}", "handler", f"{d.name}处置人员（演示）", department=d.code)
                for d in session.scalars(select(Department))}
    patrols = {s.code: user(f"p-{s.code.lower()}", "patrol", f"{s.name}巡查员（演示）", station=s.code)
               for s in session.scalars(select(Station))}
    return Cast(user("intake", "intake", "信息采集员（演示）"), user("dispatcher", "dispatcher", "派遣员（演示）"),
                user("shift", "shift_leader", "值班长（演示）"), user("leader", "leader", "镇领导（演示）"),
                handlers, patrols, tier_demo.cast(session, user, patrols))


def seed(session_factory: Callable, settings: intake.IntakeSettings, days: int = 90, per_day: float = 20.0,
         seed_value: int = 7, now: datetime | None = None, progress: Callable | None = None) -> dict:
    """Create the history; returns counts. Each case is committed on its own."""
    rng = random.Random(seed_value)
    now = now or datetime.now(UTC)
    with session_factory() as session, session.begin():
        from app.command import demo as command_demo

        command_demo.seed(session, now)  # the duty office and command: staff, roster of the month, resources
        people = cast(session)
        people_ids = {k: v.id for k, v in vars(people).items() if isinstance(v, User)}
        points = session.execute(select(func.ST_X(Address.geom), func.ST_Y(Address.geom)).order_by(Address.id)).all()
    hot = [points[i] for i in rng.sample(range(len(points)), 6)]
    arrivals = _arrivals(rng, days, per_day, now)
    case_ids: list[int] = []
    merged = 0
    recent: list[tuple[datetime, float, float, str]] = []
    for n, at in enumerate(arrivals):
        recent = [r for r in recent if at - r[0] < timedelta(hours=48)]
        if recent and rng.random() < 0.1:  # the same problem again, through another channel
            _, lon, lat, category = rng.choice(recent)
            lon, lat = lon + rng.gauss(0, 0.00012), lat + rng.gauss(0, 0.0001)
        else:
            lon, lat = _place(rng, points, hot)
            category = _pick(rng, CATEGORIES)
        recent.append((at, lon, lat, category))
        inp = intake.ReportInput(channel=_pick(rng, CHANNELS), category=category,
                                 description=f"演示案件：{category}", lon=lon, lat=lat, reported_at=at,
                                 reference=f"DEMO-{n:05d}")
        with session_factory() as session, session.begin():
            reporter = session.get(User, people_ids["intake"])
            done = intake.submit_report(session, settings, reporter, inp, now=at)
            if done.report.merged:
                merged += 1
            else:
                case_ids.append(done.report.case_id)
    steps = 0
    with session_factory() as session:  # one session: the cast stays loaded; one transaction per case
        with session.begin():
            ctx, people = workflow.Context.load(session), cast(session)
        for i, case_id in enumerate(case_ids):
            with session.begin():
                steps += _life(session, rng, case_id, now, ctx, people)
            if progress and ((i + 1) % 100 == 0 or i + 1 == len(case_ids)):
                progress("cases", i + 1, len(case_ids))
    return {"reports": len(arrivals), "cases": len(case_ids), "merged": merged, "steps": steps}


def _arrivals(rng: random.Random, days: int, per_day: float, now: datetime) -> list[datetime]:
    """Report times: more on weekdays and in the daytime."""
    out = []
    today = now.astimezone(BEIJING).date()
    for d in range(days, -1, -1):
        day = today - timedelta(days=d)
        mean = per_day * (1.15 if day.weekday() < 5 else 0.65)
        for _ in range(_poisson(rng, mean)):
            hour = min(max(rng.gauss(13.5, 3.8), 6.0), 22.9)
            at = datetime.combine(day, datetime.min.time(), BEIJING) + timedelta(hours=hour)
            if at < now:
                out.append(at)
    return sorted(out)


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _place(rng: random.Random, points, hot) -> tuple[float, float]:
    if rng.random() < 0.35:
        lon, lat = rng.choice(hot)
        return lon + rng.gauss(0, 0.0006), lat + rng.gauss(0, 0.0005)
    return rng.choice(points)


class _Stop(Exception):
    """The next step would fall after `now`: the case stays where it is."""


class _Walk:
    """One case moving through the loop on the simulated clock; stops at `now`."""

    def __init__(self, session: Session, case_id: int, now: datetime, ctx: workflow.Context, rng: random.Random,
                 people: Cast) -> None:
        self.session, self.case_id, self.now, self.ctx = session, case_id, now, ctx
        self.rng, self.people = rng, people
        self.steps = 0
        self.t = self.case.first_reported_at

    @property
    def case(self) -> Case:
        return self.session.get(Case, self.case_id)

    @property
    def owner(self) -> User:
        return _owner(self.people, self.case)

    def may(self, user: User, action: str, at: datetime, **fields: object) -> bool:
        """Take the step if it falls before `now`; whether it was taken."""
        if at > self.now:
            return False
        workflow.act(self.session, user, self.case_id, action, self.case.version, fields, now=at, ctx=self.ctx)
        self.steps += 1
        return True

    def do(self, user: User, action: str, at: datetime, **fields: object) -> None:
        """Take the step, or stop the walk when it falls after `now`."""
        if not self.may(user, action, at, **fields):
            raise _Stop

    def later(self, delta: timedelta) -> datetime:
        """Move the clock on."""
        self.t += delta
        return self.t


def _life(session: Session, rng: random.Random, case_id: int, now: datetime, ctx: workflow.Context,
          people: Cast) -> int:
    w = _Walk(session, case_id, now, ctx, rng, people)
    try:
        route = tier_demo.workstation_first(w)  # a workstation's own: self-handled, or reported up
        if route == "station":
            tier_demo.second_level(w)
            _work(w)
            _close(w)
        elif route == "filed" or (route is None and _intake(w)):
            _dispatch(w)
            _work(w)
            _close(w)
    except _Stop:
        pass
    return w.steps


def _intake(w: _Walk) -> bool:
    """Verify (a few rejected) and file; False when the case was rejected."""
    rng, people = w.rng, w.people
    t = w.later(timedelta(minutes=rng.uniform(5, 40)))
    if rng.random() < 0.06:
        w.do(people.intake, "verify", t)
        w.do(people.dispatcher, "reject", t + timedelta(minutes=10), reason="经核实不属于城市管理事项")
        return False
    w.do(people.intake if rng.random() < 0.6 else people.patrols[w.case.station_code], "verify", t)
    w.do(people.dispatcher, "file", w.later(timedelta(minutes=rng.uniform(5, 30))))
    return True


def _dispatch(w: _Walk) -> None:
    """Dispatch by the rules (a few returned and re-dispatched to the place's station), some escalated."""
    rng, people = w.rng, w.people
    w.do(people.dispatcher, "dispatch",
         w.later(timedelta(minutes=rng.expovariate(1 / 35) if rng.random() > 0.08 else rng.uniform(100, 300))))
    if rng.random() < 0.03:
        w.do(w.owner, "return", w.later(timedelta(hours=rng.uniform(0.5, 2))), reason="非本单位职责，退回重新派遣")
        w.do(people.dispatcher, "dispatch", w.later(timedelta(minutes=rng.uniform(10, 40))),
             owner={"kind": "station", "code": w.case.station_code}, reason="退回后改派属地联勤联动站")
    if rng.random() < 0.02:
        w.may(people.leader, "escalate", w.t + timedelta(hours=1), level=rng.choice([1, 2]), note="领导关注，升级督办")
    tier_demo.second_level(w)  # a station's case: the chief assigns it to a member of the team


def _work(w: _Walk) -> None:
    """Accept, maybe suspend or extend, then feedback and checks with some reworks."""
    rng, people = w.rng, w.people
    w.do(w.owner, "accept", w.later(timedelta(hours=rng.uniform(0.3, 3))))
    if rng.random() < 0.02:
        w.do(w.owner, "request_suspension", w.later(timedelta(hours=2)), reason="长期问题，挂账跟踪")
        w.do(people.shift, "approve_suspension", w.later(timedelta(hours=rng.uniform(1, 6))))
        if rng.random() < 0.5:
            raise _Stop  # still suspended
        w.do(people.dispatcher, "resume", w.later(timedelta(days=rng.uniform(3, 20))))
    if rng.random() < 0.05:
        w.do(w.owner, "request_extension", w.later(timedelta(hours=1)), hours=float(rng.choice([4, 8, 16])),
             reason="需协调材料与人手")
        w.do(people.shift, "approve_extension", w.later(timedelta(hours=rng.uniform(0.5, 4))))
    for attempt in range(3):
        if w.case.state == "dispatched":  # back after a rework
            w.do(w.owner, "accept", w.later(timedelta(hours=rng.uniform(0.2, 2))))
        w.t = _feedback_time(rng, w.case, w.t, w.ctx)
        w.do(w.owner, "feedback", w.t, note="已处置完毕，现场恢复")
        t = w.later(timedelta(hours=rng.uniform(1, 8)))
        checker = people.patrols.get(w.case.station_code, people.intake)
        if checker.username == w.case.handled_by:  # a result is checked by someone else
            checker = people.intake
        if attempt < 2 and rng.random() < 0.08:
            w.do(checker, "rework", t, reason="复核未通过，需返工")
            continue
        w.do(checker, "check", t)
        return


def _close(w: _Walk) -> None:
    """Close with a satisfaction rating (most of the time), archive a week later."""
    rng, people = w.rng, w.people
    t = w.later(timedelta(hours=rng.uniform(0.5, 4)))
    rating = _pick(rng, RATINGS) if rng.random() < 0.7 else None
    w.do(people.shift, "close", t, **({"satisfaction": rating} if rating else {}))
    tier_demo.review(w)
    w.may(people.shift, "archive", t + timedelta(days=7))


def _owner(people: Cast, case: Case) -> User:
    member = tier_demo.owner(people.tiers, case.assignee)
    if member is not None:
        return member
    if case.owner_kind == "department":
        return people.handlers[case.owner_code]
    return people.patrols[case.owner_code]


def _feedback_time(rng: random.Random, case: Case, after: datetime, ctx) -> datetime:
    """When the owner reports back: a share of the limit, late about one time in six."""
    if case.limit_hours is None or case.clock_started_at is None:
        return after + timedelta(hours=2)
    share = rng.lognormvariate(math.log(0.55), 0.45)
    unit = case.limit_unit or "working_hours"
    due = ctx.calendar.add(case.clock_started_at, share * case.limit_hours + case.paused_hours, unit)
    return max(due, after + timedelta(minutes=rng.uniform(10, 60)))


def bulk_cases(session: Session, count: int, days: int = 365) -> int:
    """Synthetic cases for load tests: random points of the town, a realistic share still open.

    Inserted by one SQL statement (owners from the point's grid cell, territories and coverage), so
    200,000 take seconds; they have no reports or history and are marked by the description 演示批量案件.
    """
    town = (select(func.ST_Union(AdminArea.geom).label("geom"))
            .where(AdminArea.level == "town", in_version(AdminArea)).subquery())
    box = (func.ST_XMin(town.c.geom), func.ST_YMin(town.c.geom), func.ST_XMax(town.c.geom), func.ST_YMax(town.c.geom))
    x = box[0] + func.random() * (box[2] - box[0])
    y = box[1] + func.random() * (box[3] - box[1])
    series = func.generate_series(1, count).table_valued("n")
    pts = select(func.ST_SetSRID(func.ST_MakePoint(x, y), STORAGE_EPSG).label("g"),
                 (func.now() - func.random() * func.make_interval(0, 0, 0, days)).label("t"),
                 func.random().label("r")).select_from(town, series).subquery()
    g, t, r = pts.c.g, pts.c.t, pts.c.r

    def owner(column, model, *where):
        return select(column).where(*where, func.ST_Covers(model.geom, g)).order_by(column).limit(1).scalar_subquery()

    state = case((r < 0.70, "archived"), (r < 0.80, "closed"), (r < 0.86, "in_progress"), (r < 0.92, "dispatched"),
                 (r < 0.96, "handled"), else_="filed")
    codes = ["09006", "06010", "09010", "07001", "06002", "09008", "01004", "08004"]
    category = case(*((r < (i + 1) / len(codes), c) for i, c in enumerate(codes[:-1])), else_=codes[-1])
    version = current_version_subquery()
    station = func.coalesce(owner(StationCoverage.station_code, StationCoverage, StationCoverage.version_id == version),
                            select(Station.code).where(Station.tier == "town_center").order_by(Station.id)
                            .limit(1).scalar_subquery())
    rows = select(
        state, category, literal("normal"), literal("演示批量案件"), g,
        owner(GridCell.code, GridCell, in_version(GridCell)),
        owner(AdminArea.code, AdminArea, AdminArea.level == "workstation", in_version(AdminArea)),
        owner(AdminArea.code, AdminArea, AdminArea.level == "community", in_version(AdminArea)),
        station, version, literal(1), t, t, t, t, t + timedelta(days=2), t + timedelta(hours=38),
    )
    columns = ("state", "category_code", "urgency", "description", "geom", "grid_code", "workstation_code",
               "community_code", "station_code", "boundary_version_id", "report_count", "first_reported_at",
               "last_reported_at", "created_at", "updated_at", "deadline_at", "warn_at")
    session.execute(insert(Case).from_select(columns, rows))
    return count


DEMO_USERS = [
    ("intake", "intake", "信息采集员（演示）", None, None),
    ("shift", "shift_leader", "值班长（演示）", None, None),
    ("dispatcher", "dispatcher", "派遣员（演示）", None, None),
    ("handler", "handler", "城管执法处置人员（演示）", "CGZF", None),
    ("patrol", "patrol", "芦潮港网格巡查员（演示）", None, "JS-001"),
    ("supervisor", "supervisor", "督查员（演示）", None, None),
    ("planner", "planner", "规划人员（演示）", None, None),
    ("admin", "admin", "系统管理员（演示）", None, None),
    ("leader", "leader", "镇领导（演示）", None, None),
    ("chief", "station_chief", "芦潮港社区联勤联动站站长（演示）", None, "JS-001"),
    ("workstation", "workstation", "芦潮港居委会工作站网格员（演示）", None, "WS-001"),
    ("evaluator", "evaluator", "人大代表（演示）", None, None),
]


def add_users(session: Session, actor: str) -> int:
    """One demo account per role (password DEMO_PASSWORD) that does not exist yet; how many were made."""
    existing = set(session.scalars(select(User.username)))
    created = 0
    for username, role, display, department, station in DEMO_USERS:
        if username in existing:
            continue
        users.add_user(session, username, role, DEMO_PASSWORD, display, department, station, is_demo=True,
                       actor=actor)
        created += 1
    return created
