"""Editable workflow configuration: dispatch rules and settings, each change audited before and after."""

from __future__ import annotations

import math
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.accounts.models import Department
from app.cases.models import Channel, DispatchRule, Setting
from app.errors import InputError, NotFound
from app.territory.models import Station

TARGETS = ("category_department", "place_station", "town_center")
RULE_FIELDS = ("priority", "name", "category_prefix", "urgency", "channel", "station_code", "target", "helpers",
               "note", "active")


def listing(session: Session) -> list[dict]:
    """The classified-dispatch rules, in the order they are tried."""
    found = session.scalars(select(DispatchRule).order_by(DispatchRule.priority, DispatchRule.id))
    return [summary(r) for r in found]


def settings(session: Session) -> dict:
    """The workflow settings as stored (key -> value)."""
    return {s.key: s.value for s in session.scalars(select(Setting).order_by(Setting.key))}


def summary(rule: DispatchRule) -> dict:
    """A rule as JSON."""
    return {f: getattr(rule, f) for f in ("id", *RULE_FIELDS)} | {"updated_by": rule.updated_by}


def save(session: Session, actor: str, rule_id: int | None, data: dict) -> DispatchRule:
    """Create (rule_id None) or update a rule after checking every field."""
    unknown = sorted(set(data) - set(RULE_FIELDS))
    if unknown:
        raise InputError(unknown[0], f"unknown field {unknown[0]!r}", 400, accepted=list(RULE_FIELDS))
    rule = DispatchRule(helpers=[], active=True) if rule_id is None else session.get(DispatchRule, rule_id)
    if rule is None:
        raise NotFound("dispatch rule", rule_id)
    before = summary(rule) if rule_id is not None else None
    merged = {f: getattr(rule, f) for f in RULE_FIELDS} | data
    _check(session, merged)
    for f in RULE_FIELDS:
        setattr(rule, f, merged[f])
    rule.updated_by = actor
    session.add(rule)
    session.flush()
    audit.record(session, actor, "dispatch_rule.create" if before is None else "dispatch_rule.update",
                 "dispatch_rule", rule.id, before=before, after=summary(rule))
    return rule


def _check(session: Session, r: dict) -> None:
    """Every field of a rule (the merged old and new values); the types were checked by the body's schema."""
    if not isinstance(r.get("priority"), int) or isinstance(r["priority"], bool):
        raise InputError("priority", "priority must be a whole number (lower is tried first)")
    if not isinstance(r.get("name"), str) or not r["name"].strip() or len(r["name"]) > 120:
        raise InputError("name", "name is required (at most 120 characters)")
    prefix = r.get("category_prefix")
    if prefix is not None and not (isinstance(prefix, str) and re.fullmatch(r"\d{2}|\d{5}", prefix)):
        raise InputError("category_prefix", "category_prefix is a 2-digit major or a 5-digit category code")
    if r.get("urgency") not in (None, "normal", "urgent", "emergency"):
        raise InputError("urgency", "urgency must be normal, urgent or emergency")
    if not isinstance(r.get("active"), bool):
        raise InputError("active", "active must be true or false")
    _check_codes(session, r)
    r["helpers"] = _check_helpers(session, r.get("helpers") or [])


def _check_codes(session: Session, r: dict) -> None:
    """The channel, station and target a rule names exist."""
    for name, model in (("channel", Channel), ("station_code", Station)):
        code = r.get(name)
        if code is not None and session.scalar(select(model.code).where(model.code == code)) is None:
            raise InputError(name, f"{name} {code!r} is not a known {name.replace('_code', '')}")
    target = r.get("target")
    if not isinstance(target, str):
        raise InputError("target", "target is required")
    if target not in TARGETS:
        kind, _, code = target.partition(":")
        model = {"department": Department, "station": Station}.get(kind)
        if model is None or session.scalar(select(model.code).where(model.code == code)) is None:
            raise InputError("target", f"target must be one of {', '.join(TARGETS)}, department:CODE or "
                             f"station:CODE of an existing one; got {target!r}")


def _check_helpers(session: Session, helpers: object) -> list[str]:
    if not isinstance(helpers, list) or not all(isinstance(h, str) for h in helpers):
        raise InputError("helpers", "helpers must be a list of department codes")
    known = set(session.scalars(select(Department.code).where(Department.code.in_(helpers))))
    if set(helpers) - known:
        raise InputError("helpers", f"unknown department(s): {', '.join(sorted(set(helpers) - known))}")
    return helpers


SCORE_PARTS = ("filed_count", "closure_rate", "on_time_disposal_rate", "no_rework_rate", "on_time_dispatch_rate",
               "on_time_closure_rate", "filing_rate", "satisfaction_rate",
               "evaluator_rating")  # what app.analysis.scores weighs
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


def _number(value: object, low: float, high: float, low_open: bool = False) -> str | None:
    """None when value is a finite number (not true/false) in its range, else what is wrong."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "must be a number"
    if value < low or value > high or (low_open and value == low):
        return f"must be {'more than' if low_open else 'at least'} {low:g} and at most {high:g}"
    return None


def _urgency_factors(v: object) -> str | None:
    if not isinstance(v, dict) or set(v) != {"normal", "urgent", "emergency"}:
        return "must give a factor for normal, urgent and emergency, and nothing else"
    return next((f"{k} {why}" for k, x in v.items() if (why := _number(x, 0, 10, low_open=True))), None)


def _working_periods(v: object) -> str | None:
    if not isinstance(v, list) or not 1 <= len(v) <= 6:
        return "must be a list of one to six [start, end] periods"
    for p in v:
        if not (isinstance(p, list) and len(p) == 2 and all(isinstance(t, str) and _HHMM.match(t) for t in p)):
            return f"{p!r} is not a [\"HH:MM\", \"HH:MM\"] period of a day (00:00 to 24:00)"
        if p[0] >= p[1]:
            return f"{p!r} ends before it starts"
    ends = [p[1] for p in v[:-1]]
    if any(later[0] < end for later, end in zip(v[1:], ends, strict=True)):
        return "periods must be in order and must not overlap"
    return None


def _kpi_weights(v: object) -> str | None:
    if not isinstance(v, dict) or not v:
        return f"must be an object of weights, keys among {', '.join(SCORE_PARTS)}"
    unknown = sorted(set(v) - set(SCORE_PARTS))
    if unknown:
        return f"unknown part {unknown[0]!r}; the parts are {', '.join(SCORE_PARTS)}"
    bad = next((f"{k} {why}" for k, x in v.items() if (why := _number(x, 0, 1))), None)
    if bad:
        return bad
    return None if abs(sum(v.values()) - 1) < 1e-6 else "the weights must add up to 1"


def _kpi_grades(v: object) -> str | None:
    if not isinstance(v, list) or not 1 <= len(v) <= 10:
        return "must be a list of one to ten [grade, lowest score] pairs"
    for g in v:
        if not (isinstance(g, list) and len(g) == 2 and isinstance(g[0], str) and 1 <= len(g[0].strip()) <= 10):
            return f"{g!r} is not a [grade, lowest score] pair"
        why = _number(g[1], 0, 100)
        if why:
            return f"the lowest score of {g[0]} {why}"
    return None


def _prefixes(v: object) -> str | None:
    if not isinstance(v, list) or len(v) > 100 or not all(isinstance(p, str) and re.fullmatch(r"\d{2}|\d{5}", p)
                                                          for p in v):
        return "must be a list of 2-digit major groups or 5-digit category codes"
    return None


SETTING_CHECKS = {
    "urgency_factors": _urgency_factors,
    "working_periods": _working_periods,
    "dispatch_limit_hours": lambda v: _number(v, 0, 240, low_open=True),
    "close_allowance_hours": lambda v: _number(v, 0, 720),
    "fallback_share": lambda v: _number(v, 0, 1, low_open=True),
    "near_due_share": lambda v: _number(v, 0, 1, low_open=True),
    "kpi_weights": _kpi_weights,
    "kpi_grades": _kpi_grades,
    "kpi_min_cases": lambda v: None if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 1000
    else "must be a whole number of cases from 0 to 1000",
    "chronic_weeks": lambda v: None if isinstance(v, int) and not isinstance(v, bool) and 2 <= v <= 52
    else "must be a whole number of weeks from 2 to 52",
    "chronic_min_times": lambda v: None if isinstance(v, int) and not isinstance(v, bool) and 2 <= v <= 100
    else "must be a whole number from 2 to 100",
    "self_check_categories": _prefixes,
}


def set_setting(session: Session, actor: str, key: str, value: object) -> None:
    """Change one known setting, checked, with an audit entry."""
    check = SETTING_CHECKS.get(key)
    if check is None:
        raise NotFound("setting", key)
    problem = check(value)
    if problem:
        raise InputError("value", f"{key}: {problem}")
    row = session.get(Setting, key)
    before = row.value if row else None
    if row is None:
        row = Setting(key=key, value=value)
        session.add(row)
    row.value, row.updated_by = value, actor
    audit.record(session, actor, "setting.update", "setting", key, before={"value": before}, after={"value": value})
    session.flush()
