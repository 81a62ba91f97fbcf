"""Taking actions on cases: the state machine applied to the database, with the clock and the history.

Every action locks the case row, checks the version the caller saw (409 when stale), checks the
role and the caller's scope (a department handler acts only on its department's cases, patrol
staff only on their station's), lets `app.cases.machine` decide, updates owner, milestones
and the disposal clock, bumps the version and appends an event. The caller commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.accounts.models import Department, User
from app.cases import machine, tiers
from app.cases.models import CalendarDay, Case, CaseEvent, Category, DispatchRule, Report, Setting
from app.cases.scope import check_visible, may_act
from app.cases.worktime import NEAR_DUE_SHARE, WorkCalendar, light
from app.errors import Conflict, DomainError, Forbidden, InputError, NotFound
from app.territory import caches
from app.territory.models import Station

DEFAULTS = {
    "urgency_factors": {"normal": 1.0, "urgent": 0.5, "emergency": 0.25},
    "working_periods": [["08:30", "11:30"], ["13:00", "17:30"]],
    "dispatch_limit_hours": 2.0,
    "close_allowance_hours": 24.0,
    "fallback_share": 0.5,
    "near_due_share": NEAR_DUE_SHARE,
    "self_check_categories": [],  # categories (prefixes) whose result the officer who handled it may check
}
TEXT_LIMIT = 2000


@dataclass
class Context:
    """Settings and calendar read once per request or job."""

    settings: dict
    calendar: WorkCalendar

    @classmethod
    def load(cls, session: Session) -> Context:
        """Read the settings table and the working calendar."""
        settings = dict(DEFAULTS)
        settings.update({s.key: s.value for s in session.scalars(select(Setting))})
        days = session.scalars(select(CalendarDay)).all()
        periods = tuple((_time(a), _time(b)) for a, b in settings["working_periods"])
        calendar = WorkCalendar(
            holidays=frozenset(d.day for d in days if not d.is_working),
            makeup_days=frozenset(d.day for d in days if d.is_working),
            periods=periods,
        )
        return cls(settings, calendar)


def settings_of(session: Session, *keys: str) -> dict:
    """Some workflow settings (their defaults when not stored), in one query."""
    stored = dict(session.execute(select(Setting.key, Setting.value).where(Setting.key.in_(keys))).all())
    return {k: stored.get(k, DEFAULTS[k]) for k in keys}


def near_due_share(session: Session) -> float:
    """The share of the limit at which a case turns yellow (setting near_due_share)."""
    return float(settings_of(session, "near_due_share")["near_due_share"])


def _time(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


# --------------------------------------------------------------------------------------------
# The clock
# --------------------------------------------------------------------------------------------


def start_intake_clock(case: Case, settings: dict, start: datetime | None = None) -> None:
    """Before dispatch a case runs on the dispatch limit, in clock hours from its first report (or from
    `start`: a returned case waits for its new dispatch on a fresh limit)."""
    hours = float(settings.get("dispatch_limit_hours", DEFAULTS["dispatch_limit_hours"]))
    near = float(settings.get("near_due_share", DEFAULTS["near_due_share"]))
    start = start or case.first_reported_at
    case.deadline_at = start + timedelta(hours=hours)
    case.warn_at = start + timedelta(hours=near * hours)
    case.frozen_share = None


def running(case: Case) -> bool:
    """The disposal clock runs while the owner works and nothing is pending."""
    return (case.state in machine.CLOCK_RUNNING and case.clock_started_at is not None
            and not case.extension_pending and not case.suspension_pending)


def used_hours(case: Case, now: datetime, cal: WorkCalendar) -> float:
    """Hours of the disposal limit used by `now`, pauses excluded."""
    unit = case.limit_unit or "working_hours"
    used = cal.elapsed(case.clock_started_at, now, unit) - case.paused_hours
    if case.paused_since is not None:
        used -= cal.elapsed(case.paused_since, now, unit)
    return max(used, 0.0)


def _project(case: Case, ctx: Context) -> None:
    unit = case.limit_unit or "working_hours"
    near = float(ctx.settings["near_due_share"])
    case.deadline_at = ctx.calendar.add(case.clock_started_at, case.limit_hours + case.paused_hours, unit)
    case.warn_at = ctx.calendar.add(case.clock_started_at, near * case.limit_hours + case.paused_hours, unit)
    case.frozen_share = None


def start_clock(case: Case, category: Category, ctx: Context, now: datetime) -> None:
    factors = ctx.settings["urgency_factors"]
    base = ctx.calendar.to_hours(category.time_limit, category.time_unit)
    case.limit_hours = base * factors.get(case.urgency, 1.0) / factors.get(category.default_urgency, 1.0)
    case.limit_unit = "hours" if category.time_unit == "hours" else "working_hours"
    case.clock_started_at, case.paused_hours, case.paused_since = now, 0.0, None
    _project(case, ctx)


def _move_clock(case: Case, was_running: bool, now: datetime, ctx: Context) -> None:
    """Pause, resume or re-project the clock after a step."""
    cal = ctx.calendar
    if case.clock_started_at is None or case.limit_hours is None:
        return
    if case.state in machine.FINAL:
        if was_running:
            case.frozen_share = used_hours(case, now, cal) / case.limit_hours
        case.deadline_at = case.warn_at = None
        return
    is_running = running(case)
    if was_running and not is_running:
        case.frozen_share = used_hours(case, now, cal) / case.limit_hours
        case.paused_since = now
        case.deadline_at = case.warn_at = None
    elif is_running:
        if case.paused_since is not None:
            case.paused_hours += cal.elapsed(case.paused_since, now, case.limit_unit or "working_hours")
            case.paused_since = None
        _project(case, ctx)


def status(case: Case, now: datetime, cal: WorkCalendar, settings: dict) -> dict:
    """Deadline, elapsed share of the limit and traffic light of a case at `now`."""
    near = float(settings["near_due_share"])
    if case.state in machine.FINAL:
        return {"deadline": None, "share": case.frozen_share, "light": None, "paused": False}
    if case.frozen_share is not None:
        return {"deadline": None, "share": round(case.frozen_share, 4), "light": light(case.frozen_share, near),
                "paused": True}
    if case.clock_started_at is None:  # before dispatch: the dispatch limit
        hours = float(settings["dispatch_limit_hours"])
        share = (now - case.first_reported_at).total_seconds() / 3600 / hours if hours else 0.0
    else:
        share = used_hours(case, now, cal) / case.limit_hours if case.limit_hours else 0.0
    return {"deadline": case.deadline_at.isoformat() if case.deadline_at else None, "share": round(share, 4),
            "light": light(share, near), "paused": False}


# --------------------------------------------------------------------------------------------
# Classified dispatch
# --------------------------------------------------------------------------------------------


def suggest_owner(session: Session, case: Case, channel: str | None = None) -> dict:
    """The owner the dispatch rules propose: the first active rule, by priority, that matches."""
    category = session.get(Category, case.category_code)
    rules = session.scalars(
        select(DispatchRule).where(DispatchRule.active.is_(True)).order_by(DispatchRule.priority, DispatchRule.id)
    ).all()
    for rule in rules:
        if rule.category_prefix and not case.category_code.startswith(rule.category_prefix):
            continue
        if rule.urgency and rule.urgency != case.urgency:
            continue
        if rule.channel and rule.channel != channel:
            continue
        if rule.station_code and rule.station_code != case.station_code:
            continue
        owner = _target(session, rule.target, case, category)
        if owner is None:
            continue
        return {**owner, "helpers": list(rule.helpers or []), "rule_id": rule.id, "rule": rule.name}
    return {"kind": "station", "code": case.station_code, "helpers": [], "rule_id": None, "rule": "属地兜底"}


def _target(session: Session, target: str, case: Case, category: Category) -> dict | None:
    if target == "category_department":
        return {"kind": "department", "code": category.department_code} if category.department_code else None
    if target == "place_station":
        return {"kind": "station", "code": case.station_code}
    if target == "town_center":
        return {"kind": "station", "code": _town_center(session, case)}
    kind, _, code = target.partition(":")
    return {"kind": kind, "code": code}


def _town_center(session: Session, case: Case) -> str:
    """The center of the town the case lies in (a district holds several), as the ownership index says: the first
    town's center outside every town."""
    point = to_shape(case.geom)
    return caches.ownership(session).center_at(point.x, point.y)["code"]


def first_channel(session: Session, case: Case) -> str | None:
    """The channel of the case's first report (some dispatch rules look at it)."""
    return session.scalar(select(Report.channel).where(Report.case_id == case.id).order_by(Report.id).limit(1))


def _check_owner(session: Session, owner: object) -> dict:
    if not isinstance(owner, dict) or owner.get("kind") not in ("department", "station"):
        raise InputError("owner", 'owner must be {"kind": "department" or "station", "code": ...}', 400)
    model = Department if owner["kind"] == "department" else Station
    if session.scalar(select(model.code).where(model.code == owner.get("code"))) is None:
        raise InputError("owner", f"unknown {owner['kind']} {owner.get('code')!r}")
    return {"kind": owner["kind"], "code": owner["code"]}


def _check_helpers(session: Session, helpers: object) -> list[str]:
    if helpers is None:
        return []
    if not isinstance(helpers, list) or not all(isinstance(h, str) for h in helpers):
        raise InputError("helpers", "helpers must be a list of department codes", 400)
    known = set(session.scalars(select(Department.code).where(Department.code.in_(helpers))))
    unknown = [h for h in helpers if h not in known]
    if unknown:
        raise InputError("helpers", f"unknown department(s): {', '.join(unknown)}")
    return list(dict.fromkeys(helpers))


# --------------------------------------------------------------------------------------------
# Acting
# --------------------------------------------------------------------------------------------


def view(case: Case) -> machine.CaseView:
    """What the state machine sees of a case."""
    return machine.CaseView(case.state, case.extension_pending, case.suspension_pending, case.resume_state,
                            case.escalation_level, case.assignee is not None, bool(case.self_handled),
                            bool(case.check_pending))


STEP_GUARDS: list[Callable[[Session, Case, machine.Step, dict], None]] = []  # other packages' rules on a step
# (app.connectors.district: a district order's case closes only after a written feedback); each raises to refuse


def act(session: Session, user: User, case_id: int, action: str, version: object, fields: dict,
        now: datetime | None = None, ctx: Context | None = None) -> Case:
    """Take one action on a case; raises NotFound, Forbidden, Conflict or ActionRefused."""
    now = now or datetime.now(UTC)
    if not isinstance(version, int) or isinstance(version, bool):
        raise InputError("version", "version (the case version you saw) is required as an integer", 400)
    _check_texts(fields)
    case = session.scalar(select(Case).where(Case.id == case_id).with_for_update())
    if case is None:
        raise NotFound("case", case_id)
    check_visible(user, case)  # before the version: a stale 409 would tell the state of a case out of scope
    if case.version != version:
        raise Conflict("stale_version", f"case {case_id} is at version {case.version}, not {version}; reload it",
                       case_version=case.version, state=case.state)
    known = machine.ACTIONS.get(action)
    if known is not None and user.role in known.roles and not may_act(user, case, action):
        raise Forbidden(f"case {case_id} is not in your scope ({user.role})")
    step = machine.plan(action, view(case), user.role, fields)
    for check in STEP_GUARDS:
        check(session, case, step, fields)
    ctx = ctx or Context.load(session)
    was_running = running(case)
    data = _apply(session, case, step, fields, user, now, ctx)
    for key, value in step.changes.items():
        setattr(case, key, value)
    case.state = step.to_state
    _move_clock(case, was_running, now, ctx)
    if step.to_state in ("filed",) and action == "return":
        start_intake_clock(case, ctx.settings, start=now)
    case.version += 1
    case.updated_at = now
    session.add(CaseEvent(
        case_id=case.id, case_version=case.version, at=now, actor=user.username, role=user.role, action=action,
        from_state=step.from_state, to_state=step.to_state, note=fields.get("note") or fields.get("reason"),
        data=data or None,
    ))
    session.flush()
    return case


MAX_BULK = 200
OUTCOMES = {200: "done", 400: "invalid", 403: "forbidden", 404: "not_found", 409: "stale", 422: "refused"}


def act_each(run: Callable[[Callable[[Session], dict]], dict], user: User, items: list[dict], action: str,
             fields: dict) -> dict:
    """One action on many cases, each in its own transaction: `run(work)` calls work(session) in a new transaction
    and commits it (rolling back and re-raising on error). Each case goes through `act` (the one state machine) and
    is audited; the answer says per case whether it was done (with its new version and state), stale (409), not
    allowed from its state (422), or not found in the caller's scope (404)."""
    known = machine.ACTIONS.get(action)
    if known is None:
        raise machine.ActionRefused("unknown_action",
                                    f"unknown action {action!r}; actions: {', '.join(machine.ACTIONS)}", "action")
    if user.role not in known.roles:
        raise machine.ActionRefused("forbidden", f"role {user.role} may not {action}")
    ids = [item["id"] for item in items]
    twice = next((i for i, case_id in enumerate(ids) if case_id in ids[:i]), None)
    if twice is not None:
        raise InputError(f"items[{twice}].id", f"case {ids[twice]} is listed twice", 400)
    results = [_act_one(run, user, item["id"], item["version"], action, fields) for item in items]
    counts = {name: sum(1 for r in results if r["outcome"] == name) for name in OUTCOMES.values()}

    def record(session: Session) -> dict:
        audit.record(session, user.username, "cases.bulk_action", "case", None,
                     before={"action": action, "cases": ids}, after=counts)
        return counts

    run(record)
    return {"action": action, "results": results, "counts": counts}


def _act_one(run: Callable[[Callable[[Session], dict]], dict], user: User, case_id: int, version: int,
             action: str, fields: dict) -> dict:
    def work(session: Session) -> dict:
        case = act(session, user, case_id, action, version, dict(fields))
        was = session.scalar(select(CaseEvent.from_state).where(CaseEvent.case_id == case_id,
                                                                 CaseEvent.case_version == case.version))
        after = {"state": case.state, "version": case.version}
        audit.record(session, user.username, f"case.{action}", "case", case_id,
                     before={"state": was, "version": version}, after=after)
        return after

    try:
        done = run(work)
    except DomainError as refused:
        status = refused.status if refused.status in OUTCOMES else 422
        return {"id": case_id, "status": status, "outcome": OUTCOMES[status], **refused.as_dict()}
    return {"id": case_id, "status": 200, "outcome": "done", **done}


def _check_texts(fields: dict) -> None:
    for name in ("note", "reason"):
        value = fields.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > TEXT_LIMIT):
            raise InputError(name, f"{name} must be text of at most {TEXT_LIMIT} characters", 400)


def _apply(session: Session, case: Case, step: machine.Step, fields: dict, user: User, now: datetime,
           ctx: Context) -> dict:
    """The effects of each action beyond the state: owner, milestones, counters, ratings."""
    name = step.action.name
    handler = _EFFECTS.get(name)
    return handler(session, case, fields, user, now, ctx) if handler else {}


def _verify(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    case.verified_at = now
    return {}


def _file(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    changes = {}
    urgency = fields.get("urgency")
    if urgency is not None:
        if urgency not in ("normal", "urgent", "emergency"):
            raise InputError("urgency", "urgency must be normal, urgent or emergency")
        changes["urgency"] = [case.urgency, urgency]
        case.urgency = urgency
    category = fields.get("category")
    if category is not None:
        if session.get(Category, category) is None:
            raise InputError("category", f"unknown category {category!r}")
        changes["category"] = [case.category_code, category]
        case.category_code = category
    case.filed_at = now
    return {"corrections": changes} if changes else {}


def _dispatch(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    suggestion = suggest_owner(session, case, first_channel(session, case))
    owner = _check_owner(session, fields["owner"]) if fields.get("owner") is not None else \
        {"kind": suggestion["kind"], "code": suggestion["code"]}
    helpers = _check_helpers(session, fields.get("helpers")) if "helpers" in fields else suggestion["helpers"]
    overridden = (owner["kind"], owner["code"]) != (suggestion["kind"], suggestion["code"])
    if overridden and not (fields.get("reason") or "").strip():
        raise InputError("reason", f"the rules suggest {suggestion['kind']} {suggestion['code']} "
                         f"({suggestion['rule']}); give a reason to dispatch elsewhere", error="missing_field")
    case.owner_kind, case.owner_code, case.helpers = owner["kind"], owner["code"], helpers
    case.dispatch_rule_id = suggestion["rule_id"] if not overridden else None
    case.dispatched_at = now
    tiers.record_first_unit(case, owner["code"], now)
    if case.first_dispatched_at is None:
        case.first_dispatched_at = now
        limit = timedelta(hours=float(ctx.settings["dispatch_limit_hours"]))
        case.dispatch_on_time = now <= case.first_reported_at + limit
    start_clock(case, session.get(Category, case.category_code), ctx, now)
    return {"owner": owner, "helpers": helpers, "suggested": suggestion, "overridden": overridden,
            "deadline": case.deadline_at.isoformat(), "limit_hours": case.limit_hours}


def _accept(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    case.accepted_at = now
    return {}


def _return(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    tiers.refuse_member_return(case, user)
    before = {"kind": case.owner_kind, "code": case.owner_code}
    case.owner_kind = case.owner_code = case.assignee = None
    case.helpers = []
    case.return_count += 1
    case.clock_started_at = case.limit_hours = None
    case.paused_hours, case.paused_since = 0.0, None
    return {"returned_by": before}


def _feedback(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    photos = fields.get("photos") or []
    if not isinstance(photos, list) or not all(isinstance(p, str) and p.startswith(("http://", "https://", "/api/"))
                                               for p in photos):
        raise InputError("photos", "photos must be a list of URLs")
    case.handled_at = now
    case.handled_by = user.username
    due = current_deadline(case, now, ctx.calendar)
    case.handled_on_time = due is not None and now <= due
    return {"photos": photos, "on_time": case.handled_on_time}


def _not_own_work(case: Case, user: User, ctx: Context) -> None:
    """The result is checked by someone other than who gave it, unless the category allows it (a setting)."""
    if case.handled_by != user.username:
        return
    if any(case.category_code.startswith(p) for p in ctx.settings.get("self_check_categories") or []):
        return
    raise Forbidden(f"{user.username} reported this result: another officer must check it "
                    "(self_check_categories lists the categories where the same officer may)")


def _check(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    _not_own_work(case, user, ctx)
    case.checked_at = now
    return {}


def _rework(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    _not_own_work(case, user, ctx)
    case.rework_count += 1
    case.handled_on_time = None
    return {"rework": case.rework_count}


def _close(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    case.closed_at = now
    allowance = timedelta(hours=float(ctx.settings["close_allowance_hours"]))
    due = _final_deadline(case, ctx)
    case.closed_on_time = due is not None and now <= due + allowance
    return _rating(case, fields) | {"on_time": case.closed_on_time}


def current_deadline(case: Case, now: datetime, cal: WorkCalendar) -> datetime | None:
    """The disposal deadline as it stands at `now`, a pause in progress pushing it back."""
    if case.clock_started_at is None or case.limit_hours is None:
        return None
    unit = case.limit_unit or "working_hours"
    paused = case.paused_hours + (cal.elapsed(case.paused_since, now, unit) if case.paused_since else 0.0)
    return cal.add(case.clock_started_at, case.limit_hours + paused, unit)


def _final_deadline(case: Case, ctx: Context) -> datetime | None:
    """The disposal deadline the case ended with (its clock is stopped after feedback)."""
    if case.clock_started_at is None or case.limit_hours is None:
        return None
    unit = case.limit_unit or "working_hours"
    paused = case.paused_hours
    return ctx.calendar.add(case.clock_started_at, case.limit_hours + paused, unit)


def _rate(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    return _rating(case, fields)


def _rating(case: Case, fields: dict) -> dict:
    rating = fields.get("satisfaction")
    if rating is None:
        return {}
    source = fields.get("satisfaction_source") or "hotline_callback"
    if source not in ("hotline_callback", "reporter"):
        raise InputError("satisfaction_source", "satisfaction_source must be hotline_callback or reporter")
    case.satisfaction, case.satisfaction_source = rating, source
    return {"satisfaction": rating, "source": source}


def _archive(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    case.archived_at = now
    return {}


def _request_extension(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    case.extension_request = {"hours": fields["hours"], "reason": fields["reason"], "by": user.username,
                              "at": now.isoformat()}
    return {"hours": fields["hours"]}


def _approve_extension(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    requested = (case.extension_request or {}).get("hours", 0)
    hours = fields.get("hours", requested)
    if not isinstance(hours, int | float) or isinstance(hours, bool) or not 0 < hours <= 720:
        raise InputError("hours", "hours must be a number between 0 and 720")
    case.limit_hours = (case.limit_hours or 0) + hours
    case.extension_count += 1
    case.extension_request = {**(case.extension_request or {}), "approved_hours": hours}
    return {"hours": hours, "requested": requested}


def _escalate(session: Session, case: Case, fields: dict, user: User, now: datetime, ctx: Context) -> dict:
    level = fields["level"]
    return {"level": level, "label": machine.ESCALATION_LEVELS[level][0]}


_EFFECTS = {
    "verify": _verify, "file": _file, "dispatch": _dispatch, "accept": _accept, "return": _return,
    "feedback": _feedback, "check": _check, "rework": _rework, "close": _close, "rate": _rate,
    "archive": _archive, "request_extension": _request_extension, "approve_extension": _approve_extension,
    "escalate": _escalate, **tiers.EFFECTS,
}
