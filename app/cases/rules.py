"""Editable workflow configuration: dispatch rules and settings, each change audited before and after."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.accounts.models import Department
from app.cases.models import DispatchRule, Setting
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
    if not isinstance(r.get("priority"), int) or isinstance(r["priority"], bool):
        raise InputError("priority", "priority must be a whole number (lower is tried first)")
    if not isinstance(r.get("name"), str) or not r["name"].strip() or len(r["name"]) > 120:
        raise InputError("name", "name is required (at most 120 characters)")
    prefix = r.get("category_prefix")
    if prefix is not None and not (isinstance(prefix, str) and re.fullmatch(r"\d{2}|\d{5}", prefix)):
        raise InputError("category_prefix", "category_prefix is a 2-digit major or a 5-digit category code")
    if r.get("urgency") not in (None, "normal", "urgent", "emergency"):
        raise InputError("urgency", "urgency must be normal, urgent or emergency")
    target = r.get("target")
    if not isinstance(target, str):
        raise InputError("target", "target is required")
    if target not in TARGETS:
        kind, _, code = target.partition(":")
        model = {"department": Department, "station": Station}.get(kind)
        if model is None or session.scalar(select(model.code).where(model.code == code)) is None:
            raise InputError("target", f"target must be one of {', '.join(TARGETS)}, department:CODE or "
                             f"station:CODE of an existing one; got {target!r}")
    helpers = r.get("helpers") or []
    if not isinstance(helpers, list) or not all(isinstance(h, str) for h in helpers):
        raise InputError("helpers", "helpers must be a list of department codes")
    known = set(session.scalars(select(Department.code).where(Department.code.in_(helpers))))
    if set(helpers) - known:
        raise InputError("helpers", f"unknown department(s): {', '.join(sorted(set(helpers) - known))}")
    r["helpers"] = helpers
    if not isinstance(r.get("active"), bool):
        raise InputError("active", "active must be true or false")


SETTING_CHECKS = {
    "urgency_factors": lambda v: isinstance(v, dict) and set(v) == {"normal", "urgent", "emergency"}
    and all(isinstance(x, int | float) and 0 < x <= 10 for x in v.values()),
    "working_periods": lambda v: isinstance(v, list) and v and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(t, str) and re.fullmatch(r"\d\d:\d\d", t) for t in p)
        and p[0] < p[1] for p in v),
    "dispatch_limit_hours": lambda v: isinstance(v, int | float) and 0 < v <= 240,
    "close_allowance_hours": lambda v: isinstance(v, int | float) and 0 <= v <= 720,
    "fallback_share": lambda v: isinstance(v, int | float) and 0 < v <= 1,
    "near_due_share": lambda v: isinstance(v, int | float) and 0 < v <= 1,
    "kpi_weights": lambda v: isinstance(v, dict) and v and all(isinstance(x, int | float) and x >= 0
                                                                for x in v.values())
    and abs(sum(v.values()) - 1) < 1e-6,
    "kpi_grades": lambda v: isinstance(v, list) and v and all(
        isinstance(g, list) and len(g) == 2 and isinstance(g[0], str) and isinstance(g[1], int | float) for g in v),
}


def set_setting(session: Session, actor: str, key: str, value: object) -> None:
    """Change one known setting, checked, with an audit entry."""
    check = SETTING_CHECKS.get(key)
    if check is None:
        raise NotFound("setting", key)
    if not check(value):
        raise InputError("value", f"{value!r} is not a valid value for {key}")
    row = session.get(Setting, key)
    before = row.value if row else None
    if row is None:
        row = Setting(key=key, value=value)
        session.add(row)
    row.value, row.updated_by = value, actor
    audit.record(session, actor, "setting.update", "setting", key, before={"value": before}, after={"value": value})
    session.flush()
